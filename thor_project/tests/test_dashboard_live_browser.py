"""The dashboard lives on its one channel, in Chromium: idle for 60 s it makes no request but its stream
(with the polling period at 1 s, a page that polled would make dozens), and a market order placed on the
page moves the position's row and the cash without a reload and without any request but the order's own
(and the ticket's quote of the symbol typed); a bracket placed on the page works its two exits live.
Real processes, as in production: uvicorn serving Thor (ASGI) and `manage.py schwab_stream`."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from django.contrib.auth.models import Permission, User
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from devtools.sandbox.book import price_at
from devtools.sandbox.order_rules import securities
from LiveData.schwab.tests.servers import asgi_server, logged_in_session, stream_worker
from thor_project.tests.conftest import ARTIFACTS, connect_in_browser

IDLE_SECONDS = 60


def requests_made(chrome) -> list[str]:
    """The paths the page fetched since the last call (the open stream is not one: it has not ended)."""
    paths = chrome.execute_script(
        "const names = performance.getEntriesByType('resource').map((entry) => entry.name);"
        "performance.clearResourceTimings(); return names;"
    )
    return [urlsplit(name).path for name in paths]


def row_quantity(chrome, symbol: str) -> Decimal | None:
    rows = chrome.find_elements(By.CSS_SELECTOR, f'#positions tbody tr[data-symbol="{symbol}"]')
    return Decimal(rows[0].find_elements(By.TAG_NAME, "td")[2].text.replace(",", "")) if rows else None


@contextmanager
def live_page(
    chrome, servers_environment, schwab, tmp_path, *, worker_id: str, **settings: str
) -> Iterator[Any]:
    """Thor as production runs it (uvicorn, and the stream worker as its own process) with a trader who may
    trade, logged in and connected in Chromium, the page's live channel open; yields the page's wait."""
    dora = User.objects.create_user("dora", password="dora-password-123")
    dora.user_permissions.add(Permission.objects.get(codename="trade", content_type__app_label="schwab"))
    environment = {
        **servers_environment,
        "SCHWAB_STREAM_POLL_SECONDS": "0.2",
        "SCHWAB_TRADING_ENABLED": "true",
        **settings,
    }
    del environment["SCHWAB_CALLBACK_URL"]  # the server's own
    with asgi_server(environment, log=tmp_path / "uvicorn.log") as server:
        schwab.state.config.callback_urls = (f"{server.url}/schwab/oauth/callback/",)
        worker = stream_worker(environment, log=tmp_path / "worker.log", worker_id=worker_id)
        try:
            # Rows re-render as events arrive: a row found just before is looked up again.
            wait = WebDriverWait(chrome, 30, ignored_exceptions=[StaleElementReferenceException])
            chrome.get(f"{server.url}/schwab/health/")
            chrome.add_cookie({"name": "sessionid", "value": logged_in_session(dora).cookies["sessionid"]})
            connect_in_browser(chrome, wait, server.url)
            wait.until(lambda driver: schwab.state.stream_sessions["trader1"] == 1)
            wait.until(lambda driver: driver.find_elements(By.CSS_SELECTOR, 'body[data-order-stream="open"]'))
            wait.until(lambda driver: driver.find_elements(By.CSS_SELECTOR, "#positions tbody tr"))
            yield wait
            chrome.get("about:blank")  # close the stream before the server stops
        finally:
            worker.terminate()
            worker.wait(timeout=30)


def place_on_page(chrome, wait, **fields: str) -> None:
    """Fill the ticket's fields (selects by value), preview, then place."""
    form = chrome.find_element(By.ID, "ticket")
    for name, value in fields.items():
        field = form.find_element(By.NAME, name)
        if field.tag_name == "select":
            Select(field).select_by_value(value)
        elif field.get_attribute("type") == "date":  # typed keys follow the locale's date format
            chrome.execute_script(
                "arguments[0].value = arguments[1];"
                "arguments[0].dispatchEvent(new Event('input', {bubbles: true}));",
                field,
                value,
            )
        else:
            assert field.is_displayed(), name
            field.clear()
            field.send_keys(value)
    chrome.find_element(By.ID, "preview-button").click()
    wait.until(lambda driver: driver.find_element(By.ID, "place-button").is_enabled())
    chrome.find_element(By.ID, "place-button").click()


@pytest.mark.django_db(transaction=True)
def test_an_idle_page_makes_no_request_and_a_fill_moves_its_numbers_live(
    chrome, servers_environment, schwab, tmp_path
):
    with live_page(
        chrome,
        servers_environment,
        schwab,
        tmp_path,
        worker_id="live-page-test",
        THOR_DASHBOARD_POLL_SECONDS="1",  # were the page polling, the idle minute would show it
        THOR_SSE_HEARTBEAT_SECONDS="5",
    ) as wait:
        # The page's first load (status, accounts, summary, positions, orders) is over.
        wait.until(lambda driver: driver.find_elements(By.CSS_SELECTOR, 'body[data-loaded="true"]'))
        chrome.execute_script("performance.setResourceTimingBufferSize(10000)")
        requests_made(chrome)

        # An observation window, not a wait for something: nothing is supposed to happen in it.
        time.sleep(IDLE_SECONDS)
        assert requests_made(chrome) == []
        assert chrome.find_elements(By.CSS_SELECTOR, 'body[data-order-stream="open"]')

        symbol = chrome.find_element(By.CSS_SELECTOR, "#positions tbody tr").get_attribute("data-symbol")
        before, cash = row_quantity(chrome, symbol), chrome.find_element(By.ID, "cash").text
        place_on_page(chrome, wait, symbol=symbol, quantity="2", order_type="market")
        wait.until(lambda driver: row_quantity(driver, symbol) == before + 2)
        wait.until(lambda driver: driver.find_element(By.ID, "cash").text != cash)
        chrome.execute_script("document.getElementById('positions').scrollIntoView()")
        chrome.save_screenshot(str(ARTIFACTS / "dashboard-live-fill.png"))

        account = chrome.find_element(By.ID, "account").get_attribute("value")
        orders = f"/schwab/accounts/{account}/orders/"
        # The symbol's quote (asked once the symbol is typed), the preview, the order, and the orders
        # list the page reads after placing: nothing polled.
        made = set(requests_made(chrome))
        assert {orders, f"{orders}preview/"} <= made <= {"/schwab/quotes/", orders, f"{orders}preview/"}


def place_with_exits(chrome, wait, schwab, **fields: str) -> None:
    """Place, on the page, a ticket for the first position's symbol with exits five dollars either side."""
    symbol = chrome.find_element(By.CSS_SELECTOR, "#positions tbody tr").get_attribute("data-symbol")
    price = price_at(securities(schwab.state)[symbol], schwab.state.now())
    exits = {"take_profit": str(price + 5), "stop_loss": str(price - 5)}
    place_on_page(chrome, wait, symbol=symbol, **fields, **exits)


def order_rows(chrome) -> list[tuple[str, str]]:
    """The orders panel's rows in order: (order id, the id of the order it hangs from)."""
    rows = chrome.find_elements(By.CSS_SELECTOR, "#orders tbody tr")
    return [(row.get_attribute("data-order"), row.get_attribute("data-parent")) for row in rows]


def order_status(chrome, order_id: int) -> str | None:
    rows = chrome.find_elements(By.CSS_SELECTOR, f'#orders tr[data-order="{order_id}"]')
    return rows[0].get_attribute("data-status") if rows else None


@pytest.mark.django_db(transaction=True)
def test_a_bracket_placed_on_the_page_works_its_exits_live(chrome, servers_environment, schwab, tmp_path):
    """The bracket ticket: its market entry fills, its take-profit and stop start working, the take-profit
    fills and the stop is canceled, each shown in the orders panel as it happens (from the live channel)."""
    with live_page(chrome, servers_environment, schwab, tmp_path, worker_id="bracket-page-test") as wait:
        place_with_exits(chrome, wait, schwab, order_type="market", strategy="bracket")
        wait.until(lambda driver: any(o.get("childOrderStrategies") for o in schwab.state.orders.values()))
        entry = next(o for o in schwab.state.orders.values() if o.get("orderStrategyType") == "TRIGGER")
        take_profit, stop = entry["childOrderStrategies"][0]["childOrderStrategies"]
        wait.until(lambda driver: order_status(driver, entry["orderId"]) == "FILLED")
        wait.until(lambda driver: order_status(driver, take_profit["orderId"]) == "WORKING")
        wait.until(lambda driver: order_status(driver, stop["orderId"]) == "WORKING")
        # Drawn as a tree: the OCO right under its entry, the two exits right under the OCO.
        oco = entry["childOrderStrategies"][0]
        assert (
            order_rows(chrome)[-4:]
            == order_rows(chrome)[:4]
            == [
                (str(entry["orderId"]), ""),
                (str(oco["orderId"]), str(entry["orderId"])),
                (str(take_profit["orderId"]), str(oco["orderId"])),
                (str(stop["orderId"]), str(oco["orderId"])),
            ]
        )
        chrome.execute_script("document.getElementById('trade-panel').scrollIntoView()")
        chrome.save_screenshot(str(ARTIFACTS / "dashboard-bracket-working.png"))

        execute = f"{schwab.url}/sandbox/orders/{take_profit['orderId']}/execute"
        assert requests.post(execute, json={}, timeout=5).json()["status"] == "FILLED"
        wait.until(lambda driver: order_status(driver, take_profit["orderId"]) == "FILLED")
        wait.until(lambda driver: order_status(driver, stop["orderId"]) == "CANCELED")
        chrome.save_screenshot(str(ARTIFACTS / "dashboard-bracket-done.png"))


@pytest.mark.django_db(transaction=True)
def test_a_vertical_spread_placed_on_the_page_fills_as_one_and_opens_both_legs(
    chrome, servers_environment, schwab, tmp_path
):
    """The vertical ticket: underlying, expiry, calls, a strike bought and one sold, a net price; the
    spread fills as one order of two legs and both options appear among the positions, live."""
    chain = sorted(
        (o for o in schwab.state.option_chain if o.underlying == "SPY" and o.put_call == "CALL"),
        key=lambda option: option.symbol,
    )
    bought, sold = chain[2], chain[4]
    now = schwab.state.now()
    net = price_at(bought, now) - price_at(sold, now)
    expiry = f"20{bought.symbol[6:8]}-{bought.symbol[8:10]}-{bought.symbol[10:12]}"
    with live_page(chrome, servers_environment, schwab, tmp_path, worker_id="vertical-page-test") as wait:
        place_on_page(
            chrome,
            wait,
            strategy="vertical",
            symbol="SPY",
            quantity="2",
            expiry=expiry,
            put_call="C",
            buy_strike=str(int(bought.symbol[-8:]) // 1000),
            sell_strike=str(int(sold.symbol[-8:]) // 1000),
            order_type="limit",
            limit_price=str(net + 1),  # over the market's net: it fills at once, at the market's
        )
        wait.until(
            lambda driver: any(
                o.get("complexOrderStrategyType") == "VERTICAL" for o in schwab.state.orders.values()
            )
        )
        spread = next(
            o for o in schwab.state.orders.values() if o.get("complexOrderStrategyType") == "VERTICAL"
        )
        assert (spread["orderType"], spread["price"]) == ("NET_DEBIT", float(net + 1))
        wait.until(lambda driver: order_status(driver, spread["orderId"]) == "FILLED")
        # The ticket quoted the two contracts: the call bought at its ask, the one sold at its bid.
        wait.until(lambda driver: "net debit" in driver.find_element(By.ID, "quote").text)
        quote = chrome.find_element(By.ID, "quote").text
        assert quote.startswith("Buy 590 call: ask") and "Sell 600 call: bid" in quote, quote
        wait.until(lambda driver: row_quantity(driver, bought.symbol) == 2)
        wait.until(lambda driver: row_quantity(driver, sold.symbol) == -2)
        legs = chrome.find_element(
            By.CSS_SELECTOR, f'#orders tr[data-order="{spread["orderId"]}"] td.legs'
        ).text
        assert legs.splitlines() == [
            f"+2 {bought.symbol.replace('   ', ' ')}",
            f"\N{MINUS SIGN}2 {sold.symbol.replace('   ', ' ')}",
        ]
        chrome.execute_script("document.getElementById('trade-panel').scrollIntoView()")
        chrome.save_screenshot(str(ARTIFACTS / "dashboard-vertical-filled.png"))


@pytest.mark.django_db(transaction=True)
def test_an_exit_oco_placed_on_the_page_protects_shares_held(chrome, servers_environment, schwab, tmp_path):
    """The exit ticket: for shares held, a take-profit and a stop in one OCO; both work under it in the
    orders panel, and when the stop fills the take-profit is canceled, live."""
    with live_page(chrome, servers_environment, schwab, tmp_path, worker_id="oco-page-test") as wait:
        place_with_exits(chrome, wait, schwab, instruction="sell", strategy="oco")
        wait.until(
            lambda driver: any(o.get("orderStrategyType") == "OCO" for o in schwab.state.orders.values())
        )
        oco = next(o for o in schwab.state.orders.values() if o.get("orderStrategyType") == "OCO")
        take_profit, stop = oco["childOrderStrategies"]
        assert (take_profit["orderType"], stop["orderType"]) == ("LIMIT", "STOP")
        wait.until(lambda driver: order_status(driver, stop["orderId"]) == "WORKING")
        assert order_rows(chrome) == [
            (str(oco["orderId"]), ""),
            (str(take_profit["orderId"]), str(oco["orderId"])),
            (str(stop["orderId"]), str(oco["orderId"])),
        ]
        execute = f"{schwab.url}/sandbox/orders/{stop['orderId']}/execute"
        assert requests.post(execute, json={}, timeout=5).json()["status"] == "FILLED"
        wait.until(lambda driver: order_status(driver, stop["orderId"]) == "FILLED")
        wait.until(lambda driver: order_status(driver, take_profit["orderId"]) == "CANCELED")
