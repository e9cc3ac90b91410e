"""OCO, one-triggers-other and option spreads through Thor's endpoints, on the sandbox: one request and one
audit row for the whole strategy, the cap over every leg, the tree in `live_data:orders`, never sent twice."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any

import pytest

from devtools.sandbox.book import CENT, price_at
from devtools.testing import api, fault
from LiveData.schwab.models import BrokerConnection, OrderRequest
from LiveData.schwab.orders import schwab_orders, tickets
from LiveData.schwab.tests.orders.test_orders import place, sent
from LiveData.shared import reader

pytestmark = pytest.mark.django_db


def held_symbol(schwab, account_id) -> tuple[str, Decimal]:
    security = schwab.state.accounts_by_hash[account_id][1].holdings[0].security
    return security.symbol, price_at(security, schwab.state.now())


def exits_oco(symbol, price) -> dict[str, Any]:
    """A take-profit two dollars over the price and a protective stop two under it."""
    sell = {"symbol": symbol, "instruction": "sell", "quantity": 1}
    return {
        "strategy": "oco",
        "orders": [
            {**sell, "order_type": "limit", "limit_price": str(price + 2)},
            {**sell, "order_type": "stop", "stop_price": str(price - 2)},
        ],
    }


def spy_calls(schwab, first=2, second=4):
    chain = sorted(
        (o for o in schwab.state.option_chain if o.underlying == "SPY" and o.put_call == "CALL"),
        key=lambda option: option.symbol,
    )
    return chain[first], chain[second]


def vertical_ticket(long_call, short_call, net, quantity=1) -> dict[str, Any]:
    return {
        "strategy": "vertical",
        "quantity": quantity,
        "order_type": "net_debit",
        "limit_price": str(net),
        "legs": [
            {"symbol": long_call.symbol, "instruction": "buy_to_open"},
            {"symbol": short_call.symbol, "instruction": "sell_to_open"},
        ],
    }


def test_an_oco_is_one_request_and_its_two_orders_hang_from_it_live(browser, schwab, trading, fake_redis):
    symbol, price = held_symbol(schwab, trading)
    placed = place(browser, trading, exits_oco(symbol, price))
    assert placed.status_code == 201, placed.json()
    assert sent(schwab) == 1 and OrderRequest.objects.count() == 1  # one request, one audit row
    oco_id = placed.json()["order_id"]
    assert placed.json()["order"]["strategy"] == "OCO" and placed.json()["order"]["legs"] == []
    live = {order["order_id"]: order for order in reader.latest_orders(trading)["orders"]}
    children = [order for order in live.values() if order["parent_order_id"] == oco_id]
    assert sorted(order["order_type"] for order in children) == ["LIMIT", "STOP"]
    assert all(order["status"] == "WORKING" for order in children)
    row = OrderRequest.objects.get()
    assert row.ticket["strategy"] == "oco" and len(row.schwab_order["childOrderStrategies"]) == 2


def test_a_trigger_s_second_order_waits_for_the_first(browser, schwab, trading, fake_redis):
    symbol, price = held_symbol(schwab, trading)
    first = {"symbol": symbol, "instruction": "buy", "quantity": 1, "order_type": "limit",
             "limit_price": str((price / 2).quantize(CENT))}  # fmt: skip
    second = {"symbol": symbol, "instruction": "sell", "quantity": 1, "order_type": "limit",
              "limit_price": str(price + 5)}  # fmt: skip
    placed = place(browser, trading, {"strategy": "trigger", "orders": [first, second]})
    assert placed.status_code == 201, placed.json()
    listed = browser.get(f"/schwab/accounts/{trading}/orders/").json()["orders"]
    [child] = [order for order in listed if order["parent_order_id"] == placed.json()["order_id"]]
    assert child["status"] == "AWAITING_PARENT_ORDER" and child["price"] == str(price + 5)


def test_linked_orders_are_not_replaced(browser, schwab, trading, fake_redis):
    symbol, price = held_symbol(schwab, trading)
    oco_id = place(browser, trading, exits_oco(symbol, price)).json()["order_id"]
    before = sent(schwab)
    answer = browser.put(
        f"/schwab/accounts/{trading}/orders/{oco_id}/",
        json.dumps(exits_oco(symbol, price + 1)),
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
    )
    assert (answer.status_code, answer.json()["error"]) == (409, "order_not_replaceable")
    assert sent(schwab) == before
    assert OrderRequest.objects.filter(action="replace", error_code="order_not_replaceable").count() == 1


def test_a_vertical_fills_as_one_and_reads_as_one_order_of_two_legs(browser, schwab, trading, fake_redis):
    long_call, short_call = spy_calls(schwab)
    now = schwab.state.now()
    net = price_at(long_call, now) - price_at(short_call, now)
    placed = place(browser, trading, vertical_ticket(long_call, short_call, net + 1, quantity=2))
    assert placed.status_code == 201, placed.json()
    order = placed.json()["order"]
    assert (order["status"], order["complex_strategy"], order["quantity"]) == ("FILLED", "VERTICAL", "2")
    assert [leg["symbol"] for leg in order["legs"]] == [long_call.symbol, short_call.symbol]
    assert Decimal(order["average_fill_price"]) == net  # the net per spread, not an average of the legs
    holdings = {h.security.symbol: h.quantity for h in schwab.state.accounts_by_hash[trading][1].holdings}
    assert (holdings[long_call.symbol], holdings[short_call.symbol]) == (2, -2)


def test_a_mismatched_spread_is_named_and_nothing_is_sent(browser, schwab, trading):
    long_call, _ = spy_calls(schwab)
    put = next(o for o in schwab.state.option_chain if o.underlying == "SPY" and o.put_call == "PUT")
    ticket = vertical_ticket(long_call, put, "1.00")
    answer = place(browser, trading, ticket)
    assert (answer.status_code, answer.json()["error"]) == (400, "invalid_ticket")
    assert set(answer.json()["fields"]) == {"legs"}
    assert sent(schwab) == 0
    assert OrderRequest.objects.get().ticket is None  # audited as refused; the body itself is never kept


def test_the_cap_counts_every_leg_of_a_spread(browser, schwab, trading, settings, fake_redis):
    long_call, short_call = spy_calls(schwab)
    now = schwab.state.now()
    gross = price_at(long_call, now) + price_at(short_call, now)  # the highest quote is a cent over
    settings.SCHWAB_ORDER_NOTIONAL_CAP = str(gross * 100)  # under both legs' worth at their asks
    answer = place(browser, trading, vertical_ticket(long_call, short_call, "1.00"))
    assert (answer.status_code, answer.json()["error"]) == (422, "order_notional_exceeds_cap")
    assert sent(schwab) == 0


def test_an_oco_whose_answer_was_lost_is_found_by_its_whole_tree(
    browser, schwab, trading, connected, settings, fake_redis
):
    symbol, price = held_symbol(schwab, trading)
    # An OCO of the same shape at other prices, placed just before from elsewhere (Schwab's own site).
    token = BrokerConnection.objects.get(user=connected).access_token
    elsewhere = schwab_orders.schwab_order(tickets.parse(exits_oco(symbol, price + 1)))
    other = api(schwab, token, f"/accounts/{trading}/orders", "POST", json=elsewhere)
    other_id = other.headers["Location"].rsplit("/", 1)[1]
    settings.SCHWAB_HTTP_TIMEOUT = 0.3
    fault(schwab, kind="accept_then_hang", count=1, path_prefix=f"/trader/v1/accounts/{trading}/orders")
    answer = place(browser, trading, exits_oco(symbol, price), key="lost")
    assert answer.status_code == 201, answer.content
    assert answer.json()["order_id"] not in (other_id, None)
    assert schwab.state.calls["orders.place"] == 2  # found, never sent again
    found = schwab.state.orders[int(answer.json()["order_id"])]
    assert found["childOrderStrategies"][0]["price"] == float(price + 2)


def test_schwab_refusing_one_child_refuses_the_whole_and_the_audit_row_says_so(
    browser, schwab, trading, fake_redis
):
    symbol, price = held_symbol(schwab, trading)
    ticket = exits_oco(symbol, price)
    ticket["orders"][1]["symbol"] = "ZZZZ"  # a ticker Thor cannot know is not listed; Schwab refuses it
    answer = place(browser, trading, ticket, key="half")
    assert (answer.status_code, answer.json()["error"]) == (422, "schwab_order_rejected")
    assert schwab.state.orders == {}  # neither of the two was booked
    row = OrderRequest.objects.get(idempotency_key="half")
    assert (row.state, row.error_code, row.ticket["orders"][1]["symbol"]) == (
        "rejected",
        "schwab_order_rejected",
        "ZZZZ",
    )
    again = place(browser, trading, ticket, key="half")  # the same key: the refusal, replayed, not resent
    assert again.json()["error"] == "schwab_order_rejected" and schwab.state.calls["orders.place"] == 1


def test_a_working_vertical_is_replaced_by_another(browser, schwab, trading, fake_redis):
    long_call, short_call = spy_calls(schwab)
    working = place(browser, trading, vertical_ticket(long_call, short_call, "0.05")).json()["order_id"]
    answer = browser.put(
        f"/schwab/accounts/{trading}/orders/{working}/",
        json.dumps(vertical_ticket(long_call, short_call, "0.10")),
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
    )
    assert answer.status_code == 201, answer.json()
    assert (answer.json()["replaced_order_id"], answer.json()["order"]["price"]) == (working, "0.1")
    assert schwab.state.orders[int(working)]["status"] == "REPLACED"


def test_an_oco_is_previewed_at_the_larger_of_its_two(browser, schwab, trading, fake_redis):
    symbol, price = held_symbol(schwab, trading)
    answer = browser.post(
        f"/schwab/accounts/{trading}/orders/preview/",
        json.dumps(exits_oco(symbol, price)),
        content_type="application/json",
    )
    assert answer.status_code == 200, answer.json()
    preview = answer.json()["preview"]
    assert Decimal(preview["order_value"]) == price + 2  # the take-profit's, over the stop's
    assert any("One of the two orders will fill" in warning for warning in preview["warnings"])
    assert sent(schwab) == 0 and schwab.state.orders == {}
