"""Option spread tickets, pure: each strategy's rules name the bad field; the JSON is schwab-py's."""

from __future__ import annotations

from decimal import Decimal

import pytest

from LiveData.schwab.exceptions import TicketInvalid
from LiveData.schwab.orders import schwab_orders, tickets
from LiveData.schwab.tests.orders.test_tickets import schwab_py

CALL_500 = "SPY   261218C00500000"
CALL_505 = "SPY   261218C00505000"
PUT_495 = "SPY   261218P00495000"
PUT_500 = "SPY   261218P00500000"

VERTICAL_LEGS = [
    {"symbol": CALL_500, "instruction": "buy_to_open"},
    {"symbol": CALL_505, "instruction": "sell_to_open"},
]
VERTICAL = {
    "strategy": "vertical",
    "quantity": 2,
    "order_type": "net_debit",
    "limit_price": "1.20",
    "legs": VERTICAL_LEGS,
}


def _problems(data) -> dict[str, str]:
    with pytest.raises(TicketInvalid) as refused:
        tickets.parse(data)
    return refused.value.fields


def _legs(*pairs):
    return [{"symbol": symbol, "instruction": instruction} for symbol, instruction in pairs]


def test_a_bull_call_vertical_is_schwab_py_s_json():
    ticket = tickets.parse(VERTICAL)
    assert schwab_orders.schwab_order(ticket) == schwab_py("bull_call_vertical_open")
    assert tickets.parse({**VERTICAL, "asset": "option"}) == ticket  # said or not, its legs are options
    assert ticket.as_json()["legs"][1] == {"symbol": CALL_505, "instruction": "sell_to_open", "ratio": 1}
    # The cap's worst case: every leg at its highest quote, per contract (here over the 1.20 net).
    prices = {CALL_500: Decimal("7.10"), CALL_505: Decimal("4.40")}
    assert ticket.worst_case(prices) == Decimal("2") * Decimal("11.50") * 100
    assert ticket.worst_case({CALL_500: Decimal("7.10")}) is None  # a leg without a price: unknown


def test_a_vertical_s_debit_or_credit_follows_the_leg_bought():
    bear_call = {**VERTICAL, "legs": _legs((CALL_500, "sell_to_open"), (CALL_505, "buy_to_open"))}
    assert _problems(bear_call) == {"order_type": "This vertical is a net_credit."}
    assert tickets.parse({**bear_call, "order_type": "net_credit"}).order_type == "net_credit"
    bear_put = {**VERTICAL, "legs": _legs((PUT_500, "buy_to_open"), (PUT_495, "sell_to_open"))}
    assert tickets.parse(bear_put).order_type == "net_debit"  # a put is dearer at the higher strike
    closing = {
        **VERTICAL,
        "order_type": "net_credit",
        "legs": _legs((CALL_500, "sell_to_close"), (CALL_505, "buy_to_close")),
    }
    assert schwab_orders.schwab_order(tickets.parse(closing))["orderType"] == "NET_CREDIT"
    assert tickets.parse({**VERTICAL, "order_type": "market", "limit_price": None}).limit_price is None


@pytest.mark.parametrize(
    ("legs", "field"),
    [
        (_legs((CALL_500, "buy_to_open"), (PUT_495, "sell_to_open")), "legs"),  # a call and a put
        (_legs((CALL_500, "buy_to_open"), ("SPY   270115C00505000", "sell_to_open")), "legs"),  # expiries
        (_legs((CALL_500, "buy_to_open"), (CALL_505, "buy_to_open")), "legs"),  # both bought
        (_legs((CALL_500, "buy_to_open"), (CALL_505, "sell_to_close")), "legs"),  # opens and closes
        (_legs((CALL_500, "buy_to_open"), ("QQQ   261218C00505000", "sell_to_open")), "legs"),  # underlyings
        (_legs((CALL_500, "buy_to_open"), (CALL_500, "sell_to_open")), "legs"),  # the same contract
        (_legs((CALL_500, "buy_to_open")), "legs"),  # one leg
        (_legs((CALL_500, "buy_to_open"), ("AAPL", "sell_to_open")), "legs.1.symbol"),
        (_legs((CALL_500, "buy"), (CALL_505, "sell_to_open")), "legs.0.instruction"),
        (
            _legs((CALL_500, "buy_to_open"), ("SPY   261340C00505000", "sell_to_open")),
            "legs.1.symbol",
        ),  # no date
    ],
)
def test_mismatched_vertical_legs_are_named(legs, field):
    assert set(_problems({**VERTICAL, "legs": legs})) == {field}


def test_straddles_and_strangles():
    straddle = {"strategy": "straddle", "quantity": 1, "order_type": "net_debit", "limit_price": "9.85",
                "legs": _legs((CALL_500, "buy_to_open"), (PUT_500, "buy_to_open"))}  # fmt: skip
    order = schwab_orders.schwab_order(tickets.parse(straddle))
    assert (order["complexOrderStrategyType"], order["orderType"]) == ("STRADDLE", "NET_DEBIT")
    assert _problems({**straddle, "order_type": "net_credit"}) == {
        "order_type": "Bought, it is a net_debit; sold, a net_credit."
    }
    assert set(
        _problems({**straddle, "legs": _legs((CALL_505, "buy_to_open"), (PUT_500, "buy_to_open"))})
    ) == {"legs"}
    strangle = {**straddle, "strategy": "strangle", "order_type": "net_credit",
                "legs": _legs((CALL_505, "sell_to_open"), (PUT_495, "sell_to_open"))}  # fmt: skip
    assert schwab_orders.schwab_order(tickets.parse(strangle))["complexOrderStrategyType"] == "STRANGLE"
    assert set(
        _problems({**strangle, "legs": _legs((CALL_500, "sell_to_open"), (PUT_500, "sell_to_open"))})
    ) == {"legs"}
    assert set(
        _problems({**strangle, "legs": _legs((CALL_505, "sell_to_open"), (PUT_495, "buy_to_open"))})
    ) == {"legs"}


def test_a_custom_spread_takes_two_to_four_legs_in_ratios():
    butterfly = {
        "strategy": "custom",
        "quantity": 3,
        "order_type": "net_debit",
        "limit_price": "0.85",
        "legs": [
            {"symbol": "SPY   261218C00495000", "instruction": "buy_to_open"},
            {"symbol": CALL_500, "instruction": "sell_to_open", "ratio": 2},
            {"symbol": CALL_505, "instruction": "buy_to_open"},
        ],
    }
    order = schwab_orders.schwab_order(tickets.parse(butterfly))
    assert [leg["quantity"] for leg in order["orderLegCollection"]] == [3, 6, 3]
    assert order["complexOrderStrategyType"] == "CUSTOM"
    assert set(_problems({**butterfly, "legs": butterfly["legs"] * 2})) == {"legs"}  # six legs
    assert set(_problems({**VERTICAL, "legs": [{**VERTICAL_LEGS[0], "ratio": 2}, VERTICAL_LEGS[1]]})) == {
        "legs.0.ratio"
    }


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        ({"limit_price": None}, {"limit_price"}),
        ({"limit_price": "1.205"}, {"limit_price"}),  # a net price in cents
        ({"order_type": "limit"}, {"order_type"}),
        ({"order_type": "market"}, {"limit_price"}),  # a market spread has no price
        ({"quantity": 0}, {"quantity"}),
        ({"legs": "two"}, {"legs"}),
        ({"symbol": "SPY"}, {"symbol"}),  # not a spread's field
        ({"asset": "equity"}, {"asset"}),
        (
            {"legs": [{"symbol": CALL_500, "instruction": "buy_to_open", "side": 1}, VERTICAL_LEGS[1]]},
            {"legs.0"},
        ),
    ],
)
def test_bad_spread_fields_are_named(fields, bad):
    assert set(_problems({**VERTICAL, **fields})) == bad
