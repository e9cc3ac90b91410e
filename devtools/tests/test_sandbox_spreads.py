"""Option spreads and trailing stop-limits at the sandbox, in the JSON schwab-py 1.5.1 writes: a spread
is one order whose legs fill together at the net price or better, each leg moving its own position."""

from __future__ import annotations

from decimal import Decimal

import pytest
import requests

from devtools.sandbox.book import CENT, price_at
from devtools.testing import api, login


@pytest.fixture
def trader(sandbox):
    token = login(sandbox)["access_token"]
    account = sandbox.state.users["trader1"].accounts[0]
    return token, account


def calls(sandbox, underlying="SPY"):
    """The underlying's listed calls, by strike."""
    chain = [option for option in sandbox.state.option_chain if option.underlying == underlying]
    return sorted((option for option in chain if option.put_call == "CALL"), key=lambda option: option.symbol)


def vertical(long_symbol, short_symbol, quantity, net, order_type="NET_DEBIT", opening=True):
    """schwab-py's bull_call_vertical_open(long, short, quantity, net).build() (its _close and bear_call_
    variants differ only in order type and instructions)."""
    buy, sell = ("BUY_TO_OPEN", "SELL_TO_OPEN") if opening else ("BUY_TO_CLOSE", "SELL_TO_CLOSE")
    return {
        "session": "NORMAL",
        "duration": "DAY",
        "orderType": order_type,
        "complexOrderStrategyType": "VERTICAL",
        "quantity": quantity,
        "price": str(net),
        "orderStrategyType": "SINGLE",
        "orderLegCollection": [
            {
                "instruction": buy,
                "quantity": quantity,
                "instrument": {"symbol": long_symbol, "assetType": "OPTION"},
            },
            {
                "instruction": sell,
                "quantity": quantity,
                "instrument": {"symbol": short_symbol, "assetType": "OPTION"},
            },
        ],
    }


def place(sandbox, token, account, order):
    response = api(sandbox, token, f"/accounts/{account.hash_value}/orders", method="POST", json=order)
    assert response.status_code == 201, response.text
    order_id = response.headers["Location"].rsplit("/", 1)[1]  # what Utils.extract_order_id reads
    return api(sandbox, token, f"/accounts/{account.hash_value}/orders/{order_id}").json()


def held(account, symbol) -> Decimal:
    return sum((h.quantity for h in account.holdings if h.security.symbol == symbol), Decimal(0))


def test_a_vertical_fills_as_one_at_the_net_and_moves_both_legs_positions(sandbox, trader):
    token, account = trader
    long_call, short_call = calls(sandbox)[2], calls(sandbox)[4]  # the lower strike is the dearer
    now = sandbox.state.now()
    net = price_at(long_call, now) - price_at(short_call, now)
    cash = account.cash
    order = place(sandbox, token, account, vertical(long_call.symbol, short_call.symbol, 2, net + 1))
    assert (order["status"], order["complexOrderStrategyType"], order["quantity"]) == (
        "FILLED",
        "VERTICAL",
        2,
    )
    legs = order["orderActivityCollection"][0]["executionLegs"]
    assert [(leg["legId"], leg["quantity"]) for leg in legs] == [(1, 2), (2, 2)]
    paid = Decimal(str(legs[0]["price"])) - Decimal(str(legs[1]["price"]))
    assert paid == net  # at the market's net, better than the limit
    assert (held(account, long_call.symbol), held(account, short_call.symbol)) == (2, -2)
    assert account.cash == cash - net * 2 * 100
    [trade] = [t for t in sandbox.state.transactions.values() if t["orderId"] == order["orderId"]]
    assert [item["instrument"]["symbol"] for item in trade["transferItems"]] == [
        long_call.symbol,
        short_call.symbol,
    ]
    assert Decimal(str(trade["netAmount"])) == -net * 200


def test_a_debit_spread_under_the_market_works_and_the_market_fills_it_at_its_price(sandbox, trader):
    token, account = trader
    long_call, short_call = calls(sandbox)[1], calls(sandbox)[3]
    now = sandbox.state.now()
    limit = ((price_at(long_call, now) - price_at(short_call, now)) / 2).quantize(CENT)
    order = place(sandbox, token, account, vertical(long_call.symbol, short_call.symbol, 1, limit))
    assert order["status"] == "WORKING"
    execute = f"{sandbox.url}/sandbox/orders/{order['orderId']}/execute"
    assert requests.post(execute, json={"price": str(limit + 1)}, timeout=5).status_code == 400  # worse
    assert requests.post(execute, json={}, timeout=5).json()["status"] == "FILLED"
    filled = api(sandbox, token, f"/accounts/{account.hash_value}/orders/{order['orderId']}").json()
    legs = filled["orderActivityCollection"][0]["executionLegs"]
    assert Decimal(str(legs[0]["price"])) - Decimal(str(legs[1]["price"])) == limit


def test_a_credit_spread_fills_for_its_credit_or_more(sandbox, trader):
    token, account = trader
    dear, cheap = calls(sandbox)[2], calls(sandbox)[5]
    now = sandbox.state.now()
    credit = price_at(dear, now) - price_at(cheap, now)
    # A bear call: sell the dearer call, buy the cheaper one (schwab-py's bear_call_vertical_open).
    order = vertical(cheap.symbol, dear.symbol, 1, credit + 1, order_type="NET_CREDIT")
    assert place(sandbox, token, account, order)["status"] == "WORKING"  # more credit than the market gives
    order = vertical(cheap.symbol, dear.symbol, 1, credit - CENT, order_type="NET_CREDIT")
    assert place(sandbox, token, account, order)["status"] == "FILLED"
    assert (held(account, cheap.symbol), held(account, dear.symbol)) == (1, -1)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda order: order["orderLegCollection"][1]["instrument"].update(symbol="KO"), "option spreads"),
        (lambda order: order["orderLegCollection"].pop(), "several legs"),
        (lambda order: order["orderLegCollection"][0].update(quantity=3), "whole multiple"),
        (lambda order: order.update(orderType="LIMIT"), "NET_DEBIT, NET_CREDIT or MARKET"),
    ],
)
def test_a_spread_that_is_not_one_is_refused(sandbox, trader, change, problem):
    token, account = trader
    long_call, short_call = calls(sandbox)[2], calls(sandbox)[4]
    order = vertical(long_call.symbol, short_call.symbol, 2, "1.00")
    change(order)
    response = api(sandbox, token, f"/accounts/{account.hash_value}/orders", method="POST", json=order)
    assert response.status_code == 400 and problem in response.text


def test_a_spread_is_previewed_at_its_net_per_spread(sandbox, trader):
    token, account = trader
    long_call, short_call = calls(sandbox)[2], calls(sandbox)[4]
    order = vertical(long_call.symbol, short_call.symbol, 3, "2.50")
    preview = api(
        sandbox, token, f"/accounts/{account.hash_value}/previewOrder", method="POST", json=order
    ).json()
    assert preview["orderStrategy"]["orderBalance"]["orderValue"] == 3 * 2.50 * 100
    assert [leg["finalSymbol"] for leg in preview["orderStrategy"]["orderLegs"]] == [
        long_call.symbol,
        short_call.symbol,
    ]


def test_the_chain_is_quoted_at_the_prices_spreads_fill_at(sandbox, trader):
    token, _ = trader
    option = calls(sandbox)[3]
    quote = requests.get(
        f"{sandbox.url}/marketdata/v1/quotes",
        params={"symbols": option.symbol},
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    ).json()
    assert Decimal(str(quote[option.symbol]["quote"]["lastPrice"])) == price_at(option, sandbox.state.now())
    assert quote[option.symbol]["assetMainType"] == "OPTION"


def test_a_trailing_stop_limit_triggers_then_sells_no_lower_than_its_limit(sandbox, trader, sandbox_clock):
    token, account = trader
    security = account.holdings[0].security
    order = {
        "orderType": "TRAILING_STOP_LIMIT",
        "session": "NORMAL",
        "duration": "DAY",
        "orderStrategyType": "SINGLE",
        "stopPriceLinkBasis": "LAST",
        "stopPriceLinkType": "VALUE",
        "stopPriceOffset": 0.50,
        "stopType": "STANDARD",
        "priceLinkBasis": "TRIGGER",
        "priceLinkType": "VALUE",
        "priceOffset": 0.25,
        "orderLegCollection": [
            {
                "instruction": "SELL",
                "quantity": 1,
                "instrument": {"symbol": security.symbol, "assetType": "EQUITY"},
            }
        ],
    }
    placed = place(sandbox, token, account, order)
    seen = placed
    for _ in range(400):
        if seen["status"] == "FILLED":
            break
        sandbox_clock.advance(seconds=5)
        seen = api(sandbox, token, f"/accounts/{account.hash_value}/orders/{placed['orderId']}").json()
    assert seen["status"] == "FILLED"
    limit = Decimal(str(seen["price"]))
    assert limit == Decimal(str(seen["stopPrice"])) - Decimal("0.25")  # set off from the stop as it triggered
    assert Decimal(str(seen["orderActivityCollection"][0]["executionLegs"][0]["price"])) >= limit
    missing = {**order, "priceOffset": None}
    response = api(sandbox, token, f"/accounts/{account.hash_value}/orders", method="POST", json=missing)
    assert response.status_code == 400 and "priceOffset" in response.text


def test_a_straddle_buys_both_legs_for_their_sum(sandbox, trader):
    token, account = trader
    call = calls(sandbox)[3]
    put = next(o for o in sandbox.state.option_chain if o.symbol == call.symbol.replace("C0", "P0"))
    now = sandbox.state.now()
    both = price_at(call, now) + price_at(put, now)
    order = {
        **vertical(call.symbol, put.symbol, 1, both + 1),
        "complexOrderStrategyType": "STRADDLE",
    }
    order["orderLegCollection"][1]["instruction"] = "BUY_TO_OPEN"
    filled = place(sandbox, token, account, order)
    legs = filled["orderActivityCollection"][0]["executionLegs"]
    assert sum(Decimal(str(leg["price"])) for leg in legs) == both  # a debit of both premiums
    assert (held(account, call.symbol), held(account, put.symbol)) == (1, 1)
