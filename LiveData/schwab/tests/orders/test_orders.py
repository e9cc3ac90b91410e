"""Orders through Thor's endpoints, on the sandbox: the gates, idempotency, ambiguous failures, the audit
trail and the live orders in Redis. The sandbox's counters prove what reached "Schwab"."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal

import pytest
import requests
from django.contrib.auth.models import Permission
from django.test import Client

from conftest import run_together
from devtools.sandbox.book import price_at
from devtools.testing import connect, fault
from LiveData.schwab.models import OrderRequest
from LiveData.shared import reader

pytestmark = pytest.mark.django_db

LIMIT_BUY = {
    "symbol": "AAPL",
    "instruction": "buy",
    "quantity": 10,
    "order_type": "limit",
    "limit_price": "150.00",
}


def place(browser, account_id, ticket=LIMIT_BUY, key: str | None = "auto", **extra):
    headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": uuid.uuid4().hex if key == "auto" else key}
    return browser.post(
        f"/schwab/accounts/{account_id}/orders/",
        json.dumps(ticket),
        content_type="application/json",
        **headers,
        **extra,
    )


def sent(schwab) -> int:
    """Order-changing calls that reached the sandbox."""
    return sum(schwab.state.calls[name] for name in ("orders.place", "orders.replace", "orders.cancel"))


# --- The gates: nothing reaches Schwab -------------------------------------------------------------------


def test_trading_switched_off_refuses_every_order_change_and_sends_nothing(
    browser, schwab, account_id, connected
):
    connected.user_permissions.add(Permission.objects.get(codename="trade", content_type__app_label="schwab"))
    answers = [
        place(browser, account_id),
        browser.put(
            f"/schwab/accounts/{account_id}/orders/1001/", json.dumps(LIMIT_BUY), HTTP_IDEMPOTENCY_KEY="k"
        ),
        browser.delete(f"/schwab/accounts/{account_id}/orders/1001/"),
    ]
    assert [(a.status_code, a.json()["error"]) for a in answers] == [(403, "trading_disabled")] * 3
    assert sent(schwab) == 0 and schwab.state.orders == {}
    assert set(OrderRequest.objects.values_list("state", "error_code")) == {("refused", "trading_disabled")}
    assert OrderRequest.objects.count() == 3  # every request leaves an audit row


def test_a_user_without_the_permission_cannot_trade(browser, schwab, account_id, settings):
    settings.SCHWAB_TRADING_ENABLED = True
    answer = place(browser, account_id)
    assert (answer.status_code, answer.json()["error"]) == (403, "trading_not_permitted")
    assert sent(schwab) == 0


@pytest.mark.parametrize(
    ("ticket", "fields"),
    [
        ({**LIMIT_BUY, "quantity": 0}, {"quantity"}),
        ({**LIMIT_BUY, "quantity": 2.5}, {"quantity"}),
        ({**LIMIT_BUY, "limit_price": "150.005"}, {"limit_price"}),
        ({**LIMIT_BUY, "limit_price": "0.12345"}, {"limit_price"}),
        ({**LIMIT_BUY, "limit_price": "-1"}, {"limit_price"}),
        ({**LIMIT_BUY, "instruction": "buy_to_open"}, {"instruction"}),
        ({**LIMIT_BUY, "symbol": "not a symbol!", "order_type": "trailing"}, {"symbol", "order_type"}),
        (
            {"asset": "option", "symbol": "AAPL", "instruction": "buy", "quantity": 1},
            {"symbol", "instruction", "limit_price"},
        ),
        ({**LIMIT_BUY, "sneaky": True}, {"sneaky"}),
        ("not an object", {"ticket"}),
    ],
)
def test_a_bad_ticket_names_each_bad_field_and_sends_nothing(browser, schwab, trading, ticket, fields):
    answer = place(browser, trading, ticket)
    assert answer.status_code == 400
    body = answer.json()
    assert body["error"] == "invalid_ticket" and set(body["fields"]) == fields
    assert sent(schwab) == 0


def test_placing_requires_an_idempotency_key(browser, schwab, trading):
    answer = place(browser, trading, key=None)
    assert (answer.status_code, answer.json()["error"]) == (400, "idempotency_key_required")
    assert sent(schwab) == 0


def test_the_notional_cap_is_checked_before_schwab(browser, schwab, trading, settings):
    settings.SCHWAB_ORDER_NOTIONAL_CAP = "1000"
    answer = place(browser, trading)  # 10 x at least the market (AAPL near 230) > 1000
    assert (answer.status_code, answer.json()["error"]) == (422, "order_notional_exceeds_cap")
    market = place(
        browser, trading, {"symbol": "NVDA", "instruction": "buy", "quantity": 10, "order_type": "market"}
    )
    assert (market.status_code, market.json()["error"]) == (422, "order_notional_exceeds_cap")
    assert sent(schwab) == 0


CAP_REPROS = {
    "a short sale far below the market": {
        "symbol": "AAPL", "instruction": "sell_short", "quantity": 10000, "limit_price": "0.01",
    },
    "a huge buy stop at a tiny price": {
        "symbol": "KO", "instruction": "buy", "quantity": 1000000, "order_type": "stop",
        "stop_price": "0.0001",
    },
}  # fmt: skip


@pytest.mark.parametrize("what", list(CAP_REPROS))
def test_the_cap_is_at_the_market_price_not_the_order_s(what, browser, schwab, trading, settings):
    settings.SCHWAB_ORDER_NOTIONAL_CAP = "100000"
    answer = place(browser, trading, CAP_REPROS[what])
    assert (answer.status_code, answer.json()["error"]) == (422, "order_notional_exceeds_cap")
    assert schwab.state.calls["marketdata.quotes"] == 1 and sent(schwab) == 0


def test_an_order_within_the_cap_at_the_market_is_placed(browser, schwab, trading, settings):
    settings.SCHWAB_ORDER_NOTIONAL_CAP = "100000"
    answer = place(browser, trading, {**LIMIT_BUY, "quantity": 100})  # 100 x ~230 = ~23,000
    assert answer.status_code == 201, answer.content
    assert sent(schwab) == 1


def test_without_a_quote_the_positions_snapshot_prices_the_order(browser, schwab, trading, settings):
    settings.SCHWAB_ORDER_NOTIONAL_CAP = "100000"
    fault(schwab, kind="500", count=10, path_prefix="/marketdata/")
    answer = place(browser, trading)
    assert (answer.status_code, answer.json()["error"]) == (422, "order_price_unknown")  # nothing to go by
    browser.get(f"/schwab/accounts/{trading}/positions/")  # publishes the account's positions
    held = next(p for p in reader.latest_positions(trading)["positions"] if p["asset_type"] == "EQUITY")
    answer = place(browser, trading, {**LIMIT_BUY, "symbol": held["symbol"], "quantity": 1})
    assert answer.status_code == 201, answer.content
    assert sent(schwab) == 1


def test_a_symbol_schwab_does_not_quote_is_refused_under_a_cap(browser, schwab, trading, settings):
    settings.SCHWAB_ORDER_NOTIONAL_CAP = "100000"
    answer = place(browser, trading, {**LIMIT_BUY, "symbol": "ZZZZ", "quantity": 1})
    assert (answer.status_code, answer.json()["error"]) == (422, "order_price_unknown")
    assert sent(schwab) == 0


def test_another_users_account_is_404(browser, schwab, trading):
    other = schwab.state.users["trader2"].accounts[0].hash_value
    answer = place(browser, other)
    assert (answer.status_code, answer.json()["error"]) == (404, "account_not_found")
    assert sent(schwab) == 0


# --- Placing, once ----------------------------------------------------------------------------------------


def test_place_a_limit_order_with_its_audit_row_and_live_orders(browser, schwab, trading, connected):
    answer = place(browser, trading, key="first-order")
    assert answer.status_code == 201
    body = answer.json()
    assert body["outcome"] == "placed" and body["order"]["status"] == "WORKING"
    order_id = body["order_id"]
    assert list(schwab.state.orders) == [int(order_id)]
    row = OrderRequest.objects.get(idempotency_key="first-order")
    assert (row.state, row.order_id, row.user, row.account_id) == ("placed", order_id, connected, trading)
    assert row.schwab_order["orderLegCollection"][0]["instruction"] == "BUY"
    assert row.schwab_order["price"] == "150.00"  # exact text, never a float
    assert row.ticket["limit_price"] == "150.00"
    assert [change.status for change in row.status_changes.all()] == ["WORKING"]
    live = reader.latest_orders(trading)
    assert [order["order_id"] for order in live["orders"]] == [order_id] and live["orders"][0]["open"]


def test_the_same_key_returns_the_first_outcome_and_never_sends_twice(browser, schwab, trading):
    first = place(browser, trading, key="k-1")
    again = place(browser, trading, key="k-1")
    assert (again.status_code, again.json()) == (first.status_code, first.json())
    assert schwab.state.calls["orders.place"] == 1
    reused = place(browser, trading, {**LIMIT_BUY, "quantity": 11}, key="k-1")
    assert (reused.status_code, reused.json()["error"]) == (422, "idempotency_key_reused")
    assert schwab.state.calls["orders.place"] == 1


def test_an_order_that_fills_at_once_without_location_is_found(browser, schwab, trading):
    schwab.state.config.immediate_fill_omits_location = True
    answer = place(
        browser, trading, {"symbol": "NVDA", "instruction": "buy", "quantity": 2, "order_type": "market"}
    )
    assert answer.status_code == 201
    assert answer.json()["order"]["status"] == "FILLED"
    assert answer.json()["order_id"] == str(next(iter(schwab.state.orders)))


def test_accepted_then_the_connection_drops_finds_the_one_order(browser, schwab, trading, settings):
    settings.SCHWAB_HTTP_TIMEOUT = 0.3
    fault(schwab, kind="accept_then_hang", count=1, path_prefix=f"/trader/v1/accounts/{trading}/orders")
    answer = place(browser, trading, key="dropped")
    assert answer.status_code == 201, answer.content
    assert len(schwab.state.orders) == 1 and schwab.state.calls["orders.place"] == 1
    assert answer.json()["order_id"] == str(next(iter(schwab.state.orders)))
    again = place(browser, trading, key="dropped")  # the client retries: still one order
    assert again.json()["order_id"] == answer.json()["order_id"] and len(schwab.state.orders) == 1


def test_an_ambiguous_failure_is_unknown_then_settled_never_resent(browser, schwab, trading, thor_clock):
    fault(schwab, kind="502", count=1, path_prefix=f"/trader/v1/accounts/{trading}/orders")
    answer = place(browser, trading, key="maybe")
    assert answer.status_code == 202
    assert answer.json()["outcome"] == "unknown" and "Do not place it again" in answer.json()["message"]
    assert OrderRequest.objects.get(idempotency_key="maybe").state == "unknown"
    assert place(browser, trading, key="maybe").status_code == 202  # still looking, still not resent
    thor_clock.advance(minutes=3)
    settled = place(browser, trading, key="maybe")
    assert (settled.status_code, settled.json()["error"]) == (502, "schwab_order_not_placed")
    assert schwab.state.calls["orders.place"] == 1 and schwab.state.orders == {}


def test_a_schwab_429_sends_nothing_and_the_key_may_try_again(browser, schwab, trading):
    fault(schwab, kind="429", count=1, retry_after=0, path_prefix=f"/trader/v1/accounts/{trading}/orders")
    refused = place(browser, trading, key="later")
    assert (refused.status_code, refused.json()["error"]) == (503, "schwab_rate_limited")
    assert schwab.state.orders == {}
    assert place(browser, trading, key="later").status_code == 201
    assert len(schwab.state.orders) == 1


def test_order_requests_have_their_own_limit_per_account(browser, schwab, trading, settings):
    settings.SCHWAB_ORDER_RATE_LIMIT_PER_ACCOUNT_PER_MINUTE = 1
    settings.SCHWAB_RATE_LIMIT_MAX_WAIT_SECONDS = 0
    assert place(browser, trading).status_code == 201
    throttled = place(browser, trading)
    assert (throttled.status_code, throttled.json()["error"]) == (503, "order_rate_limited")
    assert throttled["Retry-After"]
    assert schwab.state.calls["orders.place"] == 1


@pytest.mark.django_db(transaction=True)
def test_twenty_parallel_requests_with_one_key_send_one_order(postgres, schwab, trading, connected):
    def one_request():
        client = Client()
        client.force_login(connected)
        return place(client, trading, key="double-click").json()

    answers = run_together(20, one_request)
    assert schwab.state.calls["orders.place"] == 1 and len(schwab.state.orders) == 1
    assert {answer["order_id"] for answer in answers} == {str(next(iter(schwab.state.orders)))}
    assert OrderRequest.objects.filter(idempotency_key="double-click").count() == 1


# --- Preview, read, cancel, replace ---------------------------------------------------------------------


def test_preview_is_normalized_and_places_nothing(browser, schwab, trading):
    answer = browser.post(
        f"/schwab/accounts/{trading}/orders/preview/", json.dumps(LIMIT_BUY), content_type="application/json"
    )
    assert answer.status_code == 200
    preview = answer.json()["preview"]
    assert preview["accepted"] is True and preview["rejects"] == []
    assert Decimal(preview["order_value"]) == Decimal("1500")
    assert set(preview) >= {
        "commission",
        "fees",
        "projected_buying_power",
        "projected_available_funds",
        "warnings",
    }
    assert schwab.state.orders == {}
    assert OrderRequest.objects.get(action="preview").state == "done"


def test_list_get_cancel_and_replace(browser, schwab, trading, thor_clock):
    working = place(browser, trading).json()["order_id"]
    thor_clock.advance(seconds=5)
    filled = place(
        browser, trading, {"symbol": "NVDA", "instruction": "buy", "quantity": 1, "order_type": "market"}
    )
    filled_id = filled.json()["order_id"]
    listed = browser.get(f"/schwab/accounts/{trading}/orders/").json()
    assert [order["order_id"] for order in listed["orders"]] == [filled_id, working]  # newest first
    assert listed["trading"] == {"enabled": True, "reason": None, "message": None}
    only_working = browser.get(f"/schwab/accounts/{trading}/orders/?status=WORKING").json()["orders"]
    assert [order["order_id"] for order in only_working] == [working]
    assert browser.get(f"/schwab/accounts/{trading}/orders/{filled_id}/").json()["order"][
        "average_fill_price"
    ]

    not_cancelable = browser.delete(f"/schwab/accounts/{trading}/orders/{filled_id}/")
    assert (not_cancelable.status_code, not_cancelable.json()["error"]) == (409, "order_not_cancelable")
    replaced = browser.put(
        f"/schwab/accounts/{trading}/orders/{working}/",
        json.dumps({**LIMIT_BUY, "limit_price": "151.00"}),
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="replace-1",
    )
    assert replaced.status_code == 201
    new_id = replaced.json()["order_id"]
    assert new_id != working and replaced.json()["replaced_order_id"] == working
    assert schwab.state.orders[int(working)]["status"] == "REPLACED"
    canceled = browser.delete(f"/schwab/accounts/{trading}/orders/{new_id}/")
    assert (canceled.status_code, canceled.json()["order"]["status"]) == (200, "CANCELED")
    again = browser.put(
        f"/schwab/accounts/{trading}/orders/{new_id}/",
        json.dumps(LIMIT_BUY),
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="replace-2",
    )
    assert (again.status_code, again.json()["error"]) == (409, "order_not_replaceable")
    actions = list(OrderRequest.objects.order_by("pk").values_list("action", "state"))
    assert actions == [
        ("place", "placed"),
        ("place", "placed"),
        ("cancel", "refused"),
        ("replace", "placed"),
        ("cancel", "done"),
        ("replace", "refused"),
    ]


def test_another_accounts_order_id_is_404(browser, schwab, trading, settings):
    other_user = Client()
    from django.contrib.auth.models import User

    bob = User.objects.create_user("bob")
    bob.user_permissions.add(Permission.objects.get(codename="trade", content_type__app_label="schwab"))
    other_user.force_login(bob)
    connect(other_user, schwab, username="trader2")
    bobs_account = schwab.state.users["trader2"].accounts[0].hash_value
    bobs_order = place(other_user, bobs_account).json()["order_id"]
    for answer in (
        browser.get(f"/schwab/accounts/{trading}/orders/{bobs_order}/"),
        browser.delete(f"/schwab/accounts/{trading}/orders/{bobs_order}/"),
    ):
        assert (answer.status_code, answer.json()["error"]) == (404, "order_not_found")
    assert schwab.state.orders[int(bobs_order)]["status"] == "WORKING"


def test_schwab_rejecting_the_order_is_422_and_recorded(browser, schwab, trading):
    answer = place(browser, trading, {**LIMIT_BUY, "symbol": "ZZZZ"}, key="unknown-symbol")
    assert (answer.status_code, answer.json()["error"]) == (422, "schwab_order_rejected")
    row = OrderRequest.objects.get(idempotency_key="unknown-symbol")
    assert (row.state, row.error_code, row.order_id) == ("rejected", "schwab_order_rejected", "")
    again = place(browser, trading, {**LIMIT_BUY, "symbol": "ZZZZ"}, key="unknown-symbol")
    assert again.json() == answer.json() and schwab.state.calls["orders.place"] == 1


@pytest.mark.parametrize("kind", ["500", "503", "401"])
def test_faults_during_preview_cancel_and_replace_answer_clearly_and_send_nothing_twice(
    browser, schwab, trading, kind, settings
):
    working = place(browser, trading).json()["order_id"]
    orders_path = f"/trader/v1/accounts/{trading}/orders/{working}"
    fault(schwab, kind=kind, count=1, path_prefix=f"/trader/v1/accounts/{trading}/previewOrder")
    preview = browser.post(
        f"/schwab/accounts/{trading}/orders/preview/", json.dumps(LIMIT_BUY), content_type="application/json"
    )
    assert preview.status_code == (200 if kind == "401" else 502)  # a 401 is refreshed and retried once
    assert OrderRequest.objects.filter(action="preview").count() == 1

    # A 5xx on the DELETE is ambiguous: Thor reads the order back and never sends the cancel again.
    fault(schwab, kind=kind, count=1, path_prefix=orders_path, method="DELETE")
    canceled = browser.delete(f"/schwab/accounts/{trading}/orders/{working}/")
    row = OrderRequest.objects.get(action="cancel")
    if kind == "401":  # refused at the gateway, nothing done: refreshed and sent once more
        assert (canceled.status_code, schwab.state.calls["orders.cancel"]) == (200, 2)
        assert canceled.json()["order"]["status"] == "CANCELED" and row.state == "done"
    else:  # the fault answered before the sandbox cancelled: read back, still working, so Thor says it failed
        assert schwab.state.calls["orders.cancel"] == 1
        assert (canceled.status_code, canceled.json()["error"]) == (502, "schwab_unavailable")
        assert (row.state, row.error_code) == ("failed", "schwab_unavailable")
        assert schwab.state.orders[int(working)]["status"] == "WORKING"

    fault(schwab, kind=kind, count=1, path_prefix=orders_path, method="PUT")
    replaced = browser.put(
        f"/schwab/accounts/{trading}/orders/{working}/",
        json.dumps({**LIMIT_BUY, "limit_price": "149.00"}),
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY=f"replace-{kind}",
    )
    if kind == "401":
        assert replaced.status_code == 409  # it was canceled above
    else:  # ambiguous; nothing replaced at the sandbox: unknown, never resent
        assert (replaced.status_code, replaced.json()["outcome"]) == (202, "unknown")
        assert schwab.state.calls["orders.replace"] == 1


def test_a_time_in_another_zone_reaches_schwab_as_the_same_instant(browser, schwab, trading, thor_clock):
    """from=20:00+05:00 is 15:00 UTC: the order placed at 15:30 UTC is listed (it was sent as 20:00Z)."""
    order_id = place(browser, trading).json()["order_id"]
    since = "2026-11-25T20:00:00%2B05:00"  # '+' encoded, as a query parameter must be
    listed = browser.get(f"/schwab/accounts/{trading}/orders/?from={since}")
    assert listed.status_code == 200, listed.content
    assert [order["order_id"] for order in listed.json()["orders"]] == [order_id]


def test_redis_gone_at_the_order_limit_is_503_and_nothing_is_sent(browser, schwab, trading, monkeypatch):
    """Redis dies between the account check and the order limit: a 503, the key free to try again."""
    import redis

    from LiveData.shared import ratelimit

    def gone(*args, **kwargs):
        raise redis.ConnectionError("Error 111 connecting to 10.0.0.7:6379")

    monkeypatch.setattr(ratelimit, "acquire_for_orders", gone)
    answer = place(browser, trading, key="redis-gone")
    assert (answer.status_code, answer.json()["error"]) == (503, "redis_unavailable")
    assert "10.0.0.7" not in answer.content.decode()
    assert OrderRequest.objects.get(idempotency_key="redis-gone").state == "created"
    assert sent(schwab) == 0


def test_the_preview_agrees_with_the_summary_card(browser, schwab, trading):
    """Buying power after a buy is the card's buying power less the order's value (it was computed from
    cash x 2 while the card showed (equity - maintenance) x 2)."""
    card = browser.get(f"/schwab/account/summary/?account_hash={trading}").json()["summary"]
    answer = browser.post(
        f"/schwab/accounts/{trading}/orders/preview/", json.dumps(LIMIT_BUY), content_type="application/json"
    )
    preview = answer.json()["preview"]
    assert Decimal(preview["projected_buying_power"]) == Decimal(card["buying_power"]) - Decimal("1500")


def test_an_order_never_waits_behind_background_reads(browser, schwab, trading, connected, settings):
    """Background work (refresher, stream worker, settling) fills the connection's window as far as it
    may; the trader's order still goes out at once, in the slots kept for the trader."""
    from LiveData.schwab.api import SchwabTraderAPI
    from LiveData.schwab.exceptions import ThrottledLocally

    settings.SCHWAB_RATE_LIMIT_PER_CONNECTION_PER_MINUTE = 12
    settings.SCHWAB_RATE_LIMIT_FOREGROUND_RESERVE_PER_MINUTE = 4
    background = SchwabTraderAPI(connected, rate_limit_wait=0, background=True)
    with pytest.raises(ThrottledLocally):  # reads until background work may take no more
        for _ in range(20):
            background.fetch_account_numbers()
    answer = place(browser, trading)
    assert answer.status_code == 201, answer.content
    assert sent(schwab) == 1


@pytest.mark.parametrize(
    "kind", [{"order_type": "trailing_stop"}, {"order_type": "trailing_stop_limit", "limit_offset": "0.25"}]
)
def test_a_trailing_stop_works_at_the_sandbox_and_sells_when_the_price_falls_back(
    browser, schwab, trading, fake_redis, thor_clock, kind
):
    """Placed through Thor, the trailing stop follows the sandbox's moving price (its stop shown as the
    order's stop_price, only ever rising) and sells once the price falls back to it: at the market, or
    (a trailing stop-limit) no lower than its limit, set 0.25 under the stop as it triggered."""
    account = schwab.state.accounts_by_hash[trading][1]
    symbol = account.holdings[0].security.symbol
    ticket = {"symbol": symbol, "instruction": "sell", "quantity": 1, "trail_offset": "0.50", **kind}
    placed = place(browser, trading, ticket)
    assert placed.status_code == 201, placed.json()
    order_id = placed.json()["order_id"]
    assert schwab.state.orders[int(order_id)]["stopPriceLinkType"] == "VALUE"
    stops = []
    for _ in range(400):
        order = browser.get(f"/schwab/accounts/{trading}/orders/{order_id}/").json()["order"]
        if order["status"] == "FILLED":
            break
        assert order["order_type"] == kind["order_type"].upper()
        stops.append(Decimal(order["stop_price"]))
        thor_clock.advance(seconds=5)
    assert order["status"] == "FILLED" and stops == sorted(stops)
    assert Decimal(order["average_fill_price"]) <= stops[-1]
    if "limit_offset" in kind:
        assert Decimal(order["price"]) == Decimal(order["stop_price"]) - Decimal("0.25")
        assert Decimal(order["average_fill_price"]) >= Decimal(order["price"])


def bracket_ticket(schwab, account_id, **fields):
    """A bracket on a held symbol: exits a dollar either side of the price now."""
    security = schwab.state.accounts_by_hash[account_id][1].holdings[0].security
    price = price_at(security, schwab.state.now())
    ticket = {
        "strategy": "bracket",
        "symbol": security.symbol,
        "instruction": "buy",
        "quantity": 2,
        "order_type": "market",
        "take_profit": str(price + 1),
        "stop_loss": str(price - 1),
    }
    return {**ticket, **fields}


def test_a_bracket_is_one_request_and_its_exits_work_once_the_entry_fills(
    browser, schwab, trading, fake_redis
):
    placed = place(browser, trading, bracket_ticket(schwab, trading))
    assert placed.status_code == 201, placed.json()
    assert sent(schwab) == 1  # the entry and both exits in one request
    entry = schwab.state.orders[int(placed.json()["order_id"])]
    assert entry["orderStrategyType"] == "TRIGGER" and entry["status"] == "FILLED"
    take_profit, stop = entry["childOrderStrategies"][0]["childOrderStrategies"]
    assert (take_profit["status"], stop["status"]) == ("WORKING", "WORKING")
    # The market takes the profit: the stop is canceled, and Thor reads each exit as an order of its own.
    requests.post(f"{schwab.url}/sandbox/orders/{take_profit['orderId']}/execute", json={}, timeout=5)
    read = browser.get(f"/schwab/accounts/{trading}/orders/{stop['orderId']}/").json()["order"]
    assert (read["status"], read["order_type"]) == ("CANCELED", "STOP")
    row = OrderRequest.objects.get(order_id=placed.json()["order_id"])
    assert row.ticket["strategy"] == "bracket" and row.schwab_order["childOrderStrategies"]  # audited whole


def waiting_bracket(schwab, account_id):
    """A bracket whose limit entry waits two dollars under the market (its exits await it)."""
    ticket = bracket_ticket(schwab, account_id)
    price = Decimal(ticket["take_profit"]) - 1
    return {**ticket, "order_type": "limit", "limit_price": str(price - 2), "stop_loss": str(price - 3)}


def test_cancelling_a_brackets_entry_cancels_its_exits(browser, schwab, trading, fake_redis):
    order_id = place(browser, trading, waiting_bracket(schwab, trading)).json()["order_id"]
    assert browser.delete(f"/schwab/accounts/{trading}/orders/{order_id}/").status_code == 200
    entry = schwab.state.orders[int(order_id)]
    exits = entry["childOrderStrategies"][0]["childOrderStrategies"]
    assert [entry["status"], *(order["status"] for order in exits)] == ["CANCELED"] * 3


def test_a_bracket_is_not_replaced_and_nothing_replaces_into_one(browser, schwab, trading, fake_redis):
    ticket = waiting_bracket(schwab, trading)
    bracket_id = place(browser, trading, ticket).json()["order_id"]
    single_id = place(
        browser, trading, {**LIMIT_BUY, "symbol": ticket["symbol"], "limit_price": "1.00"}
    ).json()["order_id"]
    before = sent(schwab)
    for order_id, new in ((bracket_id, {**LIMIT_BUY, "limit_price": "1.01"}), (single_id, ticket)):
        answer = browser.put(
            f"/schwab/accounts/{trading}/orders/{order_id}/",
            json.dumps(new),
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
        )
        assert (answer.status_code, answer.json()["error"]) == (409, "order_not_replaceable")
        assert "bracket" in answer.json()["message"]
    assert sent(schwab) == before


def test_the_notional_cap_covers_a_brackets_worst_leg(browser, schwab, trading, settings, fake_redis):
    ticket = bracket_ticket(schwab, trading)
    take_profit = Decimal(ticket["take_profit"])
    settings.SCHWAB_ORDER_NOTIONAL_CAP = str(take_profit * 2 - Decimal("0.01"))  # under the exit's worth
    answer = place(browser, trading, ticket)
    assert (answer.status_code, answer.json()["error"]) == (422, "order_notional_exceeds_cap")
    assert sent(schwab) == 0
