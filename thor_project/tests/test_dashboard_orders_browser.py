"""Trading from the page, in headless Chromium: preview then place (a double click places one order), see a
limit order work and then fill when the sandbox's price crosses it, cancel a working order, and see why
trading is refused when it is switched off. Screenshots go to test-artifacts/."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as seen
from selenium.webdriver.support.ui import Select, WebDriverWait

from devtools.sandbox.book import PRICE_STEP_SECONDS, price_at
from devtools.sandbox.order_rules import securities
from thor_project.tests.conftest import ARTIFACTS, log_in_and_connect


def _crossing(schwab, symbol: str):
    """A limit price under AAPL's price now, and the sandbox time at which the price falls to it."""
    security = securities(schwab.state)[symbol]
    now = schwab.state.now()
    current = price_at(security, now)
    for step in range(1, 10_000):
        later = now + timedelta(seconds=step * PRICE_STEP_SECONDS)
        if price_at(security, later) < current:
            return price_at(security, later), later - now
    raise AssertionError("the sandbox price never falls")


def _ticket(chrome, *, symbol: str, quantity: int, limit: str) -> None:
    form = chrome.find_element(By.ID, "ticket")
    for name, value in (("symbol", symbol), ("quantity", str(quantity)), ("limit_price", limit)):
        field = form.find_element(By.NAME, name)
        field.clear()
        field.send_keys(value)
    Select(form.find_element(By.NAME, "order_type")).select_by_value("limit")


def _status_of(chrome, order_id: str) -> str:
    row = chrome.find_element(By.CSS_SELECTOR, f'#orders tr[data-order="{order_id}"]')
    return str(row.get_attribute("data-status"))


def _click(chrome, selector: str) -> bool:
    """Click what the selector finds; False (try again) when the poll re-rendered it meanwhile."""
    try:
        chrome.find_element(By.CSS_SELECTOR, selector).click()
    except StaleElementReferenceException:
        return False
    return True


@pytest.mark.django_db(transaction=True)
def test_preview_place_fill_cancel_and_trading_off(
    chrome, page_on_sandbox, schwab, settings, thor_clock, django_user_model
):
    settings.SCHWAB_TRADING_ENABLED = True
    dana = django_user_model.objects.create_user("dana", password="dana-password-123")
    dana.user_permissions.add(Permission.objects.get(codename="trade", content_type__app_label="schwab"))
    wait = WebDriverWait(chrome, 20, ignored_exceptions=[StaleElementReferenceException])

    log_in_and_connect(chrome, wait, page_on_sandbox, username="dana", password="dana-password-123")
    wait.until(seen.visibility_of_element_located((By.ID, "ticket")))

    # A bad ticket: the page names the field and what is wrong with it.
    _ticket(chrome, symbol="AAPL", quantity=5, limit="1.001")
    chrome.find_element(By.ID, "preview-button").click()
    wait.until(lambda driver: "limit price: Off tick" in driver.find_element(By.ID, "ticket-msg").text)
    chrome.save_screenshot(str(ARTIFACTS / "orders-bad-field.png"))

    # Preview, then place with a double click: one order reaches the sandbox.
    limit, fall = _crossing(schwab, "AAPL")
    _ticket(chrome, symbol="AAPL", quantity=5, limit=str(limit))
    # The ticket shows the symbol's quote and what the order would cost, as it is typed.
    price = price_at(securities(schwab.state)["AAPL"], schwab.state.now())
    cost = f"Estimated cost ${limit * 5:,.2f}"
    wait.until(lambda driver: cost in driver.find_element(By.ID, "quote").text)
    shown = re.search(r"Last ([\d,.]+)", chrome.find_element(By.ID, "quote").text)
    assert shown and Decimal(shown.group(1).replace(",", "")) == price
    chrome.find_element(By.ID, "preview-button").click()
    wait.until(lambda driver: "Estimated value" in driver.find_element(By.ID, "preview").text)
    place = wait.until(seen.element_to_be_clickable((By.ID, "place-button")))
    chrome.save_screenshot(str(ARTIFACTS / "orders-preview.png"))
    ActionChains(chrome).double_click(place).perform()
    wait.until(lambda driver: "placed" in driver.find_element(By.ID, "ticket-msg").text)
    assert schwab.state.calls["orders.place"] == 1 and len(schwab.state.orders) == 1
    first = str(next(iter(schwab.state.orders)))
    wait.until(lambda driver: _status_of(driver, first) == "WORKING")
    chrome.save_screenshot(str(ARTIFACTS / "orders-working.png"))

    # The sandbox's price falls to the limit: the page shows the fill.
    thor_clock.advance(seconds=fall.total_seconds())
    wait.until(lambda driver: _status_of(driver, first) == "FILLED")
    chrome.save_screenshot(str(ARTIFACTS / "orders-filled.png"))

    # A working order far from the market, canceled from the page.
    _ticket(chrome, symbol="AAPL", quantity=1, limit="1.00")
    chrome.find_element(By.ID, "preview-button").click()
    wait.until(seen.element_to_be_clickable((By.ID, "place-button"))).click()
    wait.until(lambda driver: len(schwab.state.orders) == 2)
    second = str(max(schwab.state.orders))
    wait.until(lambda driver: _status_of(driver, second) == "WORKING")
    wait.until(lambda driver: _click(driver, f'#orders tr[data-order="{second}"] button.cancel'))
    wait.until(lambda driver: _status_of(driver, second) == "CANCELED")
    assert schwab.state.orders[int(second)]["status"] == "CANCELED"

    # Trading switched off: the page says why, and placing stays impossible.
    settings.SCHWAB_TRADING_ENABLED = False
    chrome.refresh()
    refused = wait.until(seen.visibility_of_element_located((By.ID, "trading-off")))
    assert refused.text == "Trading is switched off in Thor right now."
    _ticket(chrome, symbol="AAPL", quantity=1, limit="1.00")
    chrome.find_element(By.ID, "preview-button").click()
    wait.until(lambda driver: "Estimated value" in driver.find_element(By.ID, "preview").text)
    assert chrome.find_element(By.ID, "place-button").get_attribute("disabled") is not None
    chrome.save_screenshot(str(ARTIFACTS / "orders-trading-off.png"))
    assert schwab.state.calls["orders.place"] == 2
