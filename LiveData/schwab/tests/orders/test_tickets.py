"""The order ticket, pure: validation names every bad field; translation to Schwab's order JSON is exact."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from LiveData.schwab.exceptions import TicketInvalid
from LiveData.schwab.orders import schwab_orders, tickets

# Orders as schwab-py 1.5.1's builders write them (`.build()`), kept as JSON fixtures:
# bracket: first_triggers_second(equity_buy_limit("AAPL", 10, "150.00"), one_cancels_other(
#   equity_sell_limit("AAPL", 10, "160.00"), equity_sell_market("AAPL", 10).set_order_type(STOP)
#   .set_stop_price("140.00")))
# one_cancels_other: one_cancels_other(equity_sell_limit("AAPL", 10, "160.00"), equity_sell_limit("AAPL", 10,
#   "140.00").set_order_type(STOP_LIMIT).set_stop_price("141.00"))
# first_triggers_second: first_triggers_second(equity_buy_market("KO", 100),
#   equity_buy_limit("PEP", 50, "150.00"))
# bull_call_vertical_open: bull_call_vertical_open("SPY   261218C00500000", "SPY   261218C00505000", 2,
#   "1.20")
SCHWAB_PY = Path(__file__).parents[1] / "fixtures" / "schwab_py"


def schwab_py(name: str) -> Any:
    return json.loads((SCHWAB_PY / f"{name}.json").read_text())


def _problems(data) -> set[str]:
    with pytest.raises(TicketInvalid) as refused:
        tickets.parse(data)
    return set(refused.value.fields)


def test_an_equity_limit_order_becomes_schwabs_json_with_exact_prices():
    ticket = tickets.parse({"symbol": "aapl", "instruction": "buy", "quantity": 10, "limit_price": "150.10"})
    assert schwab_orders.schwab_order(ticket) == {
        "session": "NORMAL",
        "duration": "DAY",
        "orderType": "LIMIT",
        "orderStrategyType": "SINGLE",
        "price": "150.10",
        "orderLegCollection": [
            {"instruction": "BUY", "quantity": 10, "instrument": {"symbol": "AAPL", "assetType": "EQUITY"}}
        ],
    }
    assert ticket.notional(market_price=Decimal("140")) == Decimal("1501.00")  # the limit is higher
    assert ticket.notional(market_price=Decimal("229.87")) == Decimal("2298.70")  # the market is
    assert ticket.notional(market_price=None) is None  # no market price: unknown, never a guess


def test_a_single_leg_option_is_priced_per_contract():
    ticket = tickets.parse(
        {
            "asset": "option",
            "symbol": "SPY   261218P00505000",
            "instruction": "sell_to_close",
            "quantity": 2,
            "order_type": "limit",
            "limit_price": "0.0525",
            "duration": "good_till_cancel",
        }
    )
    order = schwab_orders.schwab_order(ticket)
    assert order["orderLegCollection"][0]["instruction"] == "SELL_TO_CLOSE"
    assert order["orderLegCollection"][0]["instrument"] == {
        "symbol": "SPY   261218P00505000",
        "assetType": "OPTION",
    }
    assert (order["price"], order["duration"]) == ("0.0525", "GOOD_TILL_CANCEL")
    assert ticket.notional(market_price=Decimal("0.05")) == Decimal("10.5000")


def test_the_notional_is_at_the_highest_of_the_order_s_prices_and_the_market():
    """The fat-finger repros: a short sale far below the market fills at the market; a huge buy stop
    at a tiny price triggers at the market."""
    short = tickets.parse(
        {"symbol": "AAPL", "instruction": "sell_short", "quantity": 10000, "limit_price": "0.01"}
    )
    assert short.notional(market_price=Decimal("229.65")) == Decimal("2296500.00")
    stop = tickets.parse(
        {"symbol": "KO", "instruction": "buy", "quantity": 1000000, "order_type": "stop",
         "stop_price": "0.0001"}
    )  # fmt: skip
    assert stop.notional(market_price=Decimal("62.91")) == Decimal("62910000.00")


def test_stop_and_stop_limit_orders_carry_their_stop_price():
    stop_limit = tickets.parse(
        {"symbol": "MSFT", "instruction": "sell", "quantity": 5, "order_type": "stop_limit",
         "limit_price": "400.00", "stop_price": "401.00"}
    )  # fmt: skip
    assert schwab_orders.schwab_order(stop_limit)["stopPrice"] == "401.00"
    assert schwab_orders.schwab_order(stop_limit)["orderType"] == "STOP_LIMIT"


@pytest.mark.parametrize(
    ("price", "ok"),
    [
        ("1.00", True),
        ("1.005", False),
        ("0.9999", True),
        ("0.99995", False),
        (Decimal("12.34"), True),
        (12.5, False),
    ],
)
def test_tick_rules(price, ok):
    data = {"symbol": "KO", "instruction": "buy", "quantity": 1, "limit_price": price}
    if ok:
        assert tickets.parse(data).limit_price == Decimal(str(price))
    else:
        assert _problems(data) == {"limit_price"}


def test_values_of_the_wrong_type_are_bad_fields_not_crashes():
    weird = {
        "symbol": ["AAPL"],
        "instruction": {},
        "quantity": True,
        "order_type": {},
        "session": {},
        "duration": [],
    }
    assert _problems(weird) == {"symbol", "instruction", "quantity", "order_type", "session", "duration"}


def test_sane_bounds():
    assert _problems(
        {"symbol": "AAPL", "instruction": "buy", "quantity": 1_000_001, "limit_price": "1.00"}
    ) == {"quantity"}
    assert _problems(
        {"symbol": "AAPL", "instruction": "buy", "quantity": 1, "limit_price": "1000000.01"}
    ) == {"limit_price"}


def test_a_trailing_stop_becomes_schwabs_trailing_json():
    """The shape schwab-py's builder writes for an equity trailing stop (stopPriceLinkBasis, -LinkType,
    -Offset, stopType), with the offset as exact decimal text like every price."""
    ticket = tickets.parse(
        {
            "symbol": "AAPL",
            "instruction": "sell",
            "quantity": 10,
            "order_type": "trailing_stop",
            "trail_offset": "2.50",
            "trail_basis": "mark",
            "duration": "good_till_cancel",
        }
    )
    assert schwab_orders.schwab_order(ticket) == {
        "session": "NORMAL",
        "duration": "GOOD_TILL_CANCEL",
        "orderType": "TRAILING_STOP",
        "orderStrategyType": "SINGLE",
        "stopPriceLinkBasis": "MARK",
        "stopPriceLinkType": "VALUE",
        "stopPriceOffset": "2.50",
        "stopType": "STANDARD",
        "orderLegCollection": [
            {"instruction": "SELL", "quantity": 10, "instrument": {"symbol": "AAPL", "assetType": "EQUITY"}}
        ],
    }
    assert ticket.as_json()["trail_offset"] == "2.50"
    percent = tickets.parse(
        {"symbol": "AAPL", "instruction": "buy", "quantity": 10, "order_type": "trailing_stop",
         "trail_offset": "5", "trail_type": "percent"}
    )  # fmt: skip
    assert schwab_orders.schwab_order(percent)["stopPriceLinkType"] == "PERCENT"
    # A buy's stop trails above the price, so at worst it fills 5% over the market.
    assert percent.notional(market_price=Decimal("200")) == Decimal("2100")


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        ({"trail_offset": "0"}, "trail_offset"),
        ({"trail_offset": "0.001"}, "trail_offset"),  # off tick
        ({"trail_offset": "100", "trail_type": "percent"}, "trail_offset"),
        ({"trail_offset": "0", "trail_type": "percent"}, "trail_offset"),
        ({"trail_offset": "150", "trail_type": "percent"}, "trail_offset"),
        ({}, "trail_offset"),  # required
        ({"trail_offset": "1.00", "trail_type": "ticks"}, "trail_type"),
        ({"trail_offset": "1.00", "trail_basis": "average"}, "trail_basis"),
    ],
)
def test_a_trailing_stop_needs_a_sensible_offset_type_and_basis(fields, bad):
    ticket = {"symbol": "AAPL", "instruction": "sell", "quantity": 1, "order_type": "trailing_stop", **fields}
    assert _problems(ticket) == {bad}


def test_trail_fields_belong_to_trailing_stops_only():
    ticket = {
        "symbol": "AAPL",
        "instruction": "sell",
        "quantity": 1,
        "limit_price": "1.00",
        "trail_offset": "1",
    }
    assert _problems(ticket) == {"trail_offset"}
    assert "trail_offset" not in tickets.parse({**ticket, "trail_offset": ""}).as_json()


BRACKET = {
    "strategy": "bracket",
    "symbol": "AAPL",
    "instruction": "buy",
    "quantity": 10,
    "order_type": "limit",
    "limit_price": "150.00",
    "take_profit": "160.00",
    "stop_loss": "140.00",
}


def test_a_bracket_is_schwabs_trigger_of_an_oco_as_schwab_py_writes_it():
    ticket = tickets.parse(BRACKET)
    assert schwab_orders.schwab_order(ticket) == schwab_py("bracket")
    assert ticket.as_json()["strategy"] == "bracket"
    # The worst case over the legs: here the take-profit's 160 over the limit and a 155 market.
    assert ticket.notional(market_price=Decimal("155")) == Decimal("1600.00")


def test_a_short_sales_bracket_covers_with_its_exits():
    ticket = tickets.parse(
        {**BRACKET, "instruction": "sell_short", "take_profit": "140.00", "stop_loss": "160.00"}
    )
    exits = schwab_orders.schwab_order(ticket)["childOrderStrategies"][0]["childOrderStrategies"]
    assert [leg["orderLegCollection"][0]["instruction"] for leg in exits] == ["BUY_TO_COVER", "BUY_TO_COVER"]
    assert (exits[0]["price"], exits[1]["stopPrice"]) == ("140.00", "160.00")


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        ({"take_profit": "145.00"}, {"take_profit"}),  # a buy's take-profit under its entry
        ({"stop_loss": "155.00"}, {"stop_loss"}),  # a buy's stop over its entry
        ({"take_profit": "130.00", "stop_loss": "140.00"}, {"take_profit"}),  # the wrong way round
        ({"stop_loss": None}, {"stop_loss"}),
        ({"instruction": "sell"}, {"instruction"}),
        ({"order_type": "stop", "stop_price": "150.00", "limit_price": None}, {"order_type"}),
        ({"strategy": "iron_condor"}, {"strategy"}),
    ],
)
def test_an_inconsistent_bracket_names_the_bad_field(fields, bad):
    assert _problems({**BRACKET, **fields}) == bad


def test_exit_prices_belong_to_brackets_only():
    single = {key: value for key, value in BRACKET.items() if key != "strategy"}
    assert _problems(single) == {"take_profit", "stop_loss"}


TAKE = {
    "symbol": "AAPL",
    "instruction": "sell",
    "quantity": 10,
    "order_type": "limit",
    "limit_price": "160.00",
}
STOP_LIMIT = {**TAKE, "order_type": "stop_limit", "limit_price": "140.00", "stop_price": "141.00"}


def test_an_oco_of_two_orders_is_schwab_py_s_json():
    ticket = tickets.parse({"strategy": "oco", "orders": [TAKE, STOP_LIMIT]})
    assert schwab_orders.schwab_order(ticket) == schwab_py("one_cancels_other")
    assert ticket.as_json()["orders"][1]["stop_price"] == "141.00"
    assert not ticket.replaceable
    # Only one of the two fills: the larger is the worst case.
    assert ticket.worst_case({"AAPL": Decimal("150")}) == Decimal("1600.00")


def test_a_trigger_places_its_second_order_as_schwab_py_writes_it():
    buy = {"symbol": "KO", "instruction": "buy", "quantity": 100, "order_type": "market"}
    hedge = {"symbol": "PEP", "instruction": "buy", "quantity": 50, "limit_price": "150.00"}
    ticket = tickets.parse({"strategy": "trigger", "orders": [buy, hedge]})
    order = schwab_orders.schwab_order(ticket)
    assert order == schwab_py("first_triggers_second")
    prices = {"KO": Decimal("62.00"), "PEP": Decimal("148.00")}
    assert ticket.worst_case(prices) == Decimal("6200.00") + Decimal("7500.00")  # both add exposure
    sell_after = tickets.parse({"strategy": "trigger", "orders": [buy, {**buy, "instruction": "sell"}]})
    assert sell_after.worst_case(prices) == Decimal("6200.00")  # the second closes the first
    assert ticket.worst_case({"KO": Decimal("62.00")}) is None


def test_linked_orders_name_each_bad_field_by_its_place():
    assert set(_problems({"strategy": "oco", "orders": [TAKE]})) == {"orders"}
    assert set(_problems({"strategy": "oco", "orders": [TAKE, {**TAKE, "limit_price": "1.005"}]})) == {
        "orders.1.limit_price"
    }
    assert set(_problems({"strategy": "trigger", "orders": [{**TAKE, "strategy": "bracket"}, TAKE]})) == {
        "orders.0.strategy"
    }
    assert set(_problems({"strategy": "oco", "orders": [TAKE, "sell"], "symbol": "AAPL"})) == {
        "orders.1.ticket",
        "symbol",
    }


def test_a_trailing_stop_limit_sets_its_limit_off_the_stop():
    ticket = tickets.parse(
        {"symbol": "AAPL", "instruction": "buy", "quantity": 10, "order_type": "trailing_stop_limit",
         "trail_offset": "2.00", "limit_offset": "0.50"}
    )  # fmt: skip
    order = schwab_orders.schwab_order(ticket)
    assert order["orderType"] == "TRAILING_STOP_LIMIT"
    assert (order["stopPriceOffset"], order["priceOffset"], order["priceLinkBasis"]) == (
        "2.00",
        "0.50",
        "TRIGGER",
    )
    assert ticket.notional(market_price=Decimal("100")) == Decimal("1025.00")  # 100 + 2 trail + 0.50 limit
    assert set(_problems({**ticket.as_json(), "limit_offset": None})) == {"limit_offset"}
    assert set(_problems({**ticket.as_json(), "order_type": "trailing_stop"})) == {"limit_offset"}
