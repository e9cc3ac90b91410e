"""Composite orders at the sandbox, in the JSON schwab-py 1.5.1's builders write (`one_cancels_other`,
`first_triggers_second`, a bracket of both): each child an order of its own, a TRIGGER's child waiting
for its fill, an OCO's fill cancelling its sibling, cancelling a parent cancelling what it would place."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from devtools.sandbox.book import price_at
from devtools.testing import api, login


@pytest.fixture
def trader(sandbox):
    token = login(sandbox)["access_token"]
    account = sandbox.state.users["trader1"].accounts[0]
    return token, account


def single(instruction, order_type, symbol, quantity=1, **prices):
    """One order as schwab-py's equity builders write it (prices as strings)."""
    order = {
        "orderType": order_type,
        "session": "NORMAL",
        "duration": "DAY",
        "orderStrategyType": "SINGLE",
        "orderLegCollection": [
            {
                "instruction": instruction,
                "quantity": quantity,
                "instrument": {"symbol": symbol, "assetType": "EQUITY"},
            }
        ],
    }
    return {**order, **prices}


def one_cancels_other(first, second):
    return {"orderStrategyType": "OCO", "childOrderStrategies": [first, second]}


def first_triggers_second(first, second):
    return {**first, "orderStrategyType": "TRIGGER", "childOrderStrategies": [second]}


def place(sandbox, token, account, order) -> Any:
    response = api(sandbox, token, f"/accounts/{account.hash_value}/orders", method="POST", json=order)
    assert response.status_code == 201, response.text
    order_id = response.headers["Location"].rsplit("/", 1)[1]  # what Utils.extract_order_id reads
    return read(sandbox, token, account, order_id)


def read(sandbox, token, account, order_id) -> Any:
    return api(sandbox, token, f"/accounts/{account.hash_value}/orders/{order_id}").json()


def execute(sandbox, order_id, **body):
    return requests.post(f"{sandbox.url}/sandbox/orders/{order_id}/execute", json=body, timeout=5)


def exits(symbol, price):
    """A take-profit a dollar over the price and a protective stop a dollar under it."""
    return (
        single("SELL", "LIMIT", symbol, price=str(price + 1)),
        single("SELL", "STOP", symbol, stopPrice=str(price - 1)),
    )


def test_an_oco_works_both_and_a_fill_cancels_the_other(sandbox, trader):
    token, account = trader
    security = account.holdings[0].security
    price = price_at(security, sandbox.state.now())
    oco = place(sandbox, token, account, one_cancels_other(*exits(security.symbol, price)))
    assert oco["orderStrategyType"] == "OCO" and oco["status"] == "WORKING"
    take_profit, stop = oco["childOrderStrategies"]
    assert take_profit["orderId"] != stop["orderId"] != oco["orderId"]
    assert (take_profit["status"], stop["status"]) == ("WORKING", "WORKING")
    assert execute(sandbox, take_profit["orderId"]).json()["status"] == "FILLED"
    oco = read(sandbox, token, account, oco["orderId"])
    assert [child["status"] for child in oco["childOrderStrategies"]] == ["FILLED", "CANCELED"]
    assert oco["status"] == "FILLED"
    assert read(sandbox, token, account, stop["orderId"])["status"] == "CANCELED"  # also read on its own


def test_a_trigger_places_its_child_only_when_it_fills(sandbox, trader):
    token, account = trader
    security = account.holdings[0].security
    price = price_at(security, sandbox.state.now())
    entry = single("BUY", "LIMIT", security.symbol, price=str(price - 5))  # under the market: it waits
    exit_ = single("SELL", "LIMIT", security.symbol, price=str(price + 5))
    trigger = place(sandbox, token, account, first_triggers_second(entry, exit_))
    (child,) = trigger["childOrderStrategies"]
    assert (trigger["status"], child["status"]) == ("WORKING", "AWAITING_PARENT_ORDER")
    assert execute(sandbox, child["orderId"]).status_code == 404  # not working yet: nothing to fill
    execute(sandbox, trigger["orderId"])
    assert read(sandbox, token, account, child["orderId"])["status"] == "WORKING"


def test_a_bracket_entry_fills_its_two_exits_work_and_the_take_profit_cancels_the_stop(sandbox, trader):
    token, account = trader
    security = account.holdings[0].security
    held = account.holdings[0].quantity
    price = price_at(security, sandbox.state.now())
    entry = single("BUY", "MARKET", security.symbol, quantity=2)
    take_profit, stop = exits(security.symbol, price)
    for order in (take_profit, stop):
        order["orderLegCollection"][0]["quantity"] = 2
    bracket = place(
        sandbox, token, account, first_triggers_second(entry, one_cancels_other(take_profit, stop))
    )
    assert bracket["status"] == "FILLED"  # a market entry fills at once
    (oco,) = bracket["childOrderStrategies"]
    assert [child["status"] for child in oco["childOrderStrategies"]] == ["WORKING", "WORKING"]
    execute(sandbox, oco["childOrderStrategies"][0]["orderId"])
    bracket = read(sandbox, token, account, bracket["orderId"])
    assert [c["status"] for c in bracket["childOrderStrategies"][0]["childOrderStrategies"]] == [
        "FILLED",
        "CANCELED",
    ]
    assert account.holdings[0].quantity == held  # bought 2, sold 2


def test_cancelling_a_trigger_cancels_what_it_would_place(sandbox, trader):
    token, account = trader
    security = account.holdings[0].security
    price = price_at(security, sandbox.state.now())
    entry = single("BUY", "LIMIT", security.symbol, price=str(price - 5))
    bracket = place(
        sandbox,
        token,
        account,
        first_triggers_second(entry, one_cancels_other(*exits(security.symbol, price))),
    )
    path = f"/accounts/{account.hash_value}/orders/{bracket['orderId']}"
    assert api(sandbox, token, path, method="DELETE").status_code == 200
    bracket = read(sandbox, token, account, bracket["orderId"])
    (oco,) = bracket["childOrderStrategies"]
    statuses = [bracket["status"], oco["status"], *(child["status"] for child in oco["childOrderStrategies"])]
    assert statuses == ["CANCELED"] * 4


def test_lists_show_children_under_their_parent_only(sandbox, trader):
    token, account = trader
    security = account.holdings[0].security
    price = price_at(security, sandbox.state.now())
    oco = place(sandbox, token, account, one_cancels_other(*exits(security.symbol, price)))
    now = sandbox.state.now()
    window = {
        "fromEnteredTime": f"{now:%Y-%m-%d}T00:00:00.000Z",
        "toEnteredTime": f"{now:%Y-%m-%d}T23:59:59.000Z",
    }
    listed = api(sandbox, token, f"/accounts/{account.hash_value}/orders", params=window).json()
    assert [order["orderId"] for order in listed] == [oco["orderId"]]


@pytest.mark.parametrize(
    "order",
    [
        one_cancels_other(single("SELL", "MARKET", "KO"), None),
        {"orderStrategyType": "OCO", "childOrderStrategies": [single("SELL", "MARKET", "KO")]},
        {**single("BUY", "MARKET", "KO"), "orderStrategyType": "TRIGGER"},
        {**single("BUY", "MARKET", "KO"), "childOrderStrategies": [single("SELL", "MARKET", "KO")]},
    ],
    ids=["a child that is no order", "an OCO of one", "a TRIGGER of nothing", "children of a SINGLE"],
)
def test_malformed_composites_are_400(sandbox, trader, order):
    token, account = trader
    response = api(sandbox, token, f"/accounts/{account.hash_value}/orders", method="POST", json=order)
    assert response.status_code == 400
    assert sandbox.state.orders == {}
