"""The sandbox's order endpoints: place (Location), get, list, replace, cancel, preview, and bad bodies."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import requests

from devtools.sandbox.book import CENT, price_at
from devtools.testing import api, login

ORDER_FIELDS = {
    "orderId", "accountNumber", "status", "enteredTime", "quantity", "filledQuantity", "remainingQuantity",
    "cancelable", "editable", "tag", "session", "duration", "orderType", "orderStrategyType",
    "orderLegCollection",
}  # fmt: skip


@pytest.fixture
def trader(sandbox):
    token = login(sandbox)["access_token"]
    account = sandbox.state.users["trader1"].accounts[0]
    return token, account


def _order(symbol="KO", instruction="BUY", order_type="LIMIT", price="1.00", quantity=10):
    order = {
        "session": "NORMAL",
        "duration": "DAY",
        "orderType": order_type,
        "orderStrategyType": "SINGLE",
        "orderLegCollection": [
            {
                "instruction": instruction,
                "quantity": quantity,
                "instrument": {"symbol": symbol, "assetType": "EQUITY"},
            }
        ],
    }
    if order_type == "LIMIT":
        order["price"] = price
    return order


def _place(sandbox, token, account, order):
    response = api(sandbox, token, f"/accounts/{account.hash_value}/orders", method="POST", json=order)
    assert response.status_code == 201, response.text
    assert response.content == b""
    location = response.headers["Location"]
    assert location.startswith(f"{sandbox.url}/trader/v1/accounts/{account.hash_value}/orders/")
    return location.rsplit("/", 1)[1]


def _window(sandbox):
    now = sandbox.state.now()
    return {
        "fromEnteredTime": (now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "toEnteredTime": (now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
    }


def test_limit_order_life_cycle_working_then_replaced_then_canceled(sandbox, trader):
    token, account = trader
    order_id = _place(sandbox, token, account, _order(price="1.00"))
    order = api(sandbox, token, f"/accounts/{account.hash_value}/orders/{order_id}").json()
    assert set(order) >= ORDER_FIELDS
    assert order["status"] == "WORKING" and order["cancelable"] is True

    replaced = api(
        sandbox,
        token,
        f"/accounts/{account.hash_value}/orders/{order_id}",
        method="PUT",
        json=_order(price="2.00"),
    )
    assert replaced.status_code == 201
    new_id = replaced.headers["Location"].rsplit("/", 1)[1]
    assert new_id != order_id
    assert (
        api(sandbox, token, f"/accounts/{account.hash_value}/orders/{order_id}").json()["status"]
        == "REPLACED"
    )

    canceled = api(sandbox, token, f"/accounts/{account.hash_value}/orders/{new_id}", method="DELETE")
    assert (canceled.status_code, canceled.content) == (200, b"")
    assert (
        api(sandbox, token, f"/accounts/{account.hash_value}/orders/{new_id}").json()["status"] == "CANCELED"
    )
    again = api(sandbox, token, f"/accounts/{account.hash_value}/orders/{new_id}", method="DELETE")
    assert again.status_code == 400


def test_market_order_fills_and_moves_the_position(sandbox, trader):
    token, account = trader
    symbol = account.holdings[0].security.symbol
    before = account.holdings[0].quantity
    order_id = _place(sandbox, token, account, _order(symbol=symbol, order_type="MARKET", quantity=3))
    order = api(sandbox, token, f"/accounts/{account.hash_value}/orders/{order_id}").json()
    assert order["status"] == "FILLED"
    execution = order["orderActivityCollection"][0]["executionLegs"][0]
    assert execution["quantity"] == 3
    assert execution["price"] == float(price_at(account.holdings[0].security, sandbox.state.now()))
    assert account.holdings[0].quantity == before + 3


def test_limit_order_fills_when_price_crosses(sandbox, trader, sandbox_clock):
    token, account = trader
    security = account.holdings[0].security
    limit = price_at(security, sandbox.state.now()) - 1
    order_id = _place(sandbox, token, account, _order(symbol=security.symbol, price=str(limit)))
    for _ in range(200):
        status = api(sandbox, token, f"/accounts/{account.hash_value}/orders/{order_id}").json()["status"]
        if status == "FILLED":
            break
        sandbox_clock.advance(seconds=5)
    assert status == "FILLED"


def test_list_orders_per_account_and_across_accounts(sandbox, trader):
    token, account = trader
    first = _place(sandbox, token, account, _order())
    other = sandbox.state.users["trader1"].accounts[1]
    second = _place(sandbox, token, other, _order())
    mine = api(sandbox, token, f"/accounts/{account.hash_value}/orders", params=_window(sandbox)).json()
    assert [str(o["orderId"]) for o in mine] == [first]
    every = api(sandbox, token, "/orders", params=_window(sandbox)).json()
    assert {str(o["orderId"]) for o in every} == {first, second}
    working = api(sandbox, token, "/orders", params={**_window(sandbox), "status": "FILLED"}).json()
    assert working == []


def test_list_orders_requires_the_time_window(sandbox, trader):
    token, account = trader
    response = api(sandbox, token, f"/accounts/{account.hash_value}/orders")
    assert response.status_code == 400
    assert set(response.json()) == {"message", "errors"}


def test_preview_returns_validation_result_and_fees(sandbox, trader):
    token, account = trader
    response = api(
        sandbox, token, f"/accounts/{account.hash_value}/previewOrder", method="POST", json=_order()
    )
    assert response.status_code == 200
    body = response.json()
    assert {"orderStrategy", "orderValidationResult", "commissionAndFee"} <= set(body)
    assert set(body["orderValidationResult"]) >= {"alerts", "rejects", "warns"}
    assert sandbox.state.orders == {}  # a preview places nothing


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[]",
        b'{"orderType": "LIMIT"}',
        b'{"session":"NORMAL","duration":"DAY","orderType":"MARKET","orderStrategyType":"SINGLE",'
        b'"orderLegCollection":[{"instruction":"BUY","quantity":-1,"instrument":{"symbol":"KO"}}]}',
        b'{"session":"NORMAL","duration":"DAY","orderType":"MARKET","orderStrategyType":"SINGLE",'
        b'"orderLegCollection":[{"instruction":"BUY","quantity":1,"instrument":{"symbol":"NOPE"}}]}',
    ],
)
def test_malformed_orders_are_400_service_errors(sandbox, trader, body):
    token, account = trader
    response = api(
        sandbox,
        token,
        f"/accounts/{account.hash_value}/orders",
        method="POST",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert set(response.json()) == {"message", "errors"}
    assert sandbox.state.orders == {}


def test_orders_of_another_account_are_not_visible(sandbox, trader):
    token, account = trader
    order_id = _place(sandbox, token, account, _order())
    other = login(sandbox, "trader2")["access_token"]
    response = api(sandbox, other, f"/accounts/{account.hash_value}/orders/{order_id}")
    assert response.status_code == 400
    assert api(sandbox, token, f"/accounts/{account.hash_value}/orders/999").status_code == 404


def test_orders_come_back_in_schwabs_shape(sandbox, trader):
    token, account = trader
    order_id = _place(sandbox, token, account, _order(order_type="MARKET"))
    body = api(sandbox, token, f"/accounts/{account.hash_value}/orders/{order_id}").json()
    leg = body["orderLegCollection"][0]
    assert isinstance(body["quantity"], float) and isinstance(leg["quantity"], float)  # numbers, not text
    assert leg["positionEffect"] == "OPENING"
    assert {"cusip", "instrumentId", "symbol", "assetType"} <= set(leg["instrument"])
    execution = body["orderActivityCollection"][0]["executionLegs"][0]
    assert set(execution) == {"legId", "price", "quantity", "mismarkedQuantity", "time"}
    sell = _place(sandbox, token, account, _order(instruction="SELL", order_type="MARKET", quantity=1))
    closing = api(sandbox, token, f"/accounts/{account.hash_value}/orders/{sell}").json()
    assert closing["orderLegCollection"][0]["positionEffect"] == "CLOSING"


def test_preview_answers_in_schwabs_shape(sandbox, trader):
    token, account = trader
    body = api(
        sandbox, token, f"/accounts/{account.hash_value}/previewOrder", method="POST", json=_order()
    ).json()
    balance = body["orderStrategy"]["orderBalance"]
    assert set(balance) == {
        "orderValue",
        "projectedAvailableFund",
        "projectedBuyingPower",
        "projectedCommission",
    }
    assert balance["orderValue"] == 10.0  # 10 x 1.00
    assert body["orderStrategy"]["orderLegs"][0]["finalSymbol"] == "KO"


def test_location_uses_the_public_base_url_and_can_be_missing_on_an_immediate_fill(sandbox, trader):
    token, account = trader
    sandbox.state.config.public_base_url = "https://api.schwabapi.com"
    response = api(sandbox, token, f"/accounts/{account.hash_value}/orders", method="POST", json=_order())
    assert response.headers["Location"].startswith(
        f"https://api.schwabapi.com/trader/v1/accounts/{account.hash_value}/orders/"
    )
    sandbox.state.config.immediate_fill_omits_location = True
    market = api(
        sandbox,
        token,
        f"/accounts/{account.hash_value}/orders",
        method="POST",
        json=_order(order_type="MARKET"),
    )
    assert market.status_code == 201 and "Location" not in market.headers
    working = api(sandbox, token, f"/accounts/{account.hash_value}/orders", method="POST", json=_order())
    assert "Location" in working.headers  # only an order that filled at once loses it


def test_a_fill_records_a_trade_transaction(sandbox, trader, sandbox_clock):
    token, account = trader
    order_id = _place(sandbox, token, account, _order(order_type="MARKET", quantity=3))
    window = {
        "startDate": (sandbox_clock.current - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "endDate": (sandbox_clock.current + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "types": "TRADE",
    }
    listed = api(sandbox, token, f"/accounts/{account.hash_value}/transactions", params=window).json()
    assert [item["orderId"] for item in listed] == [int(order_id)]
    item = listed[0]
    assert (
        item["transferItems"][0]["amount"] == 3.0 and item["transferItems"][0]["instrument"]["symbol"] == "KO"
    )
    one = api(sandbox, token, f"/accounts/{account.hash_value}/transactions/{item['activityId']}")
    assert one.json() == item
    missing = api(sandbox, token, f"/accounts/{account.hash_value}/transactions", params={"types": "TRADE"})
    assert missing.status_code == 400


def test_order_lists_reach_sixty_days_back_and_unknown_routes_answer_json(sandbox, trader, sandbox_clock):
    token, account = trader
    window = {
        "fromEnteredTime": (sandbox_clock.current - timedelta(days=61)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "toEnteredTime": sandbox_clock.current.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
    }
    assert api(sandbox, token, f"/accounts/{account.hash_value}/orders", params=window).status_code == 400
    unknown = api(sandbox, token, "/no/such/route")
    assert unknown.status_code == 404 and "does not exist" in unknown.json()["errors"][0]


def test_the_default_window_of_schwab_py_is_accepted(sandbox, trader, sandbox_clock):
    """schwab-py's get_orders_for_account asks from now - 60 days, in whole seconds, from its own clock (a
    moment before the sandbox's): accepted; a day earlier is refused."""
    from datetime import UTC, datetime

    token, account = trader
    now = sandbox_clock().replace(microsecond=0) - timedelta(seconds=1)
    fmt = "%Y-%m-%dT%H:%M:%S.000Z"

    def listing(since: datetime) -> int:
        params = {"fromEnteredTime": since.strftime(fmt), "toEnteredTime": now.strftime(fmt)}
        return api(sandbox, token, f"/accounts/{account.hash_value}/orders", params=params).status_code

    assert listing(now - timedelta(days=60)) == 200
    assert listing(now - timedelta(days=61)) == 400
    assert now.tzinfo is UTC


def test_the_sandbox_command_takes_the_streamer_port_and_the_public_url():
    from devtools.management.commands.schwab_sandbox import Command
    from devtools.private_services import free_port
    from devtools.sandbox.server import SandboxServer
    from devtools.sandbox.state import SandboxConfig

    options = (
        Command()
        .create_parser("manage.py", "schwab_sandbox")
        .parse_args(["--streamer-port", "9101", "--public-url", "https://sandbox.example/"])
    )
    assert (options.streamer_port, options.public_url) == (9101, "https://sandbox.example/")
    port = free_port()
    server = SandboxServer(SandboxConfig(public_base_url="https://sandbox.example/"), streamer_port=port)
    server.start()
    try:
        assert server.streamer.url == f"ws://127.0.0.1:{port}/ws"
    finally:
        server.stop()


def _get(sandbox, token, account, order_id):
    return api(sandbox, token, f"/accounts/{account.hash_value}/orders/{order_id}").json()


def _moving(sandbox, account, direction: int):
    """A held security and the sandbox time when its price first moves `direction` (+1 up, -1 down) from
    now, with the price then."""
    for holding in account.holdings:
        security = holding.security
        now = sandbox.state.now()
        start = price_at(security, now)
        for step in range(1, 500):
            later = now + timedelta(seconds=5 * step)
            if (price_at(security, later) - start) * direction > 0:
                return security, start, later - now
    raise AssertionError("no price moves that way")


def test_a_stop_triggers_when_the_price_reaches_it_between_two_reads(sandbox, trader, sandbox_clock):
    token, account = trader
    security, start, until = _moving(sandbox, account, -1)
    stop = start - CENT  # a sell stop just under the price: the first fall reaches it
    order = {**_order(symbol=security.symbol, instruction="SELL", order_type="STOP"), "stopPrice": str(stop)}
    order_id = _place(sandbox, token, account, order)
    assert _get(sandbox, token, account, order_id)["status"] == "WORKING"
    placed = sandbox.state.now()
    sandbox_clock.advance(seconds=until.total_seconds() + 600)  # the fall came well before this read
    filled = _get(sandbox, token, account, order_id)
    assert filled["status"] == "FILLED"
    fill_price = Decimal(str(filled["orderActivityCollection"][0]["executionLegs"][0]["price"]))
    assert fill_price == price_at(security, placed + until) <= stop  # at the step that reached it


def test_a_trailing_stop_follows_the_price_up_only_and_sells_when_it_falls_back(
    sandbox, trader, sandbox_clock
):
    token, account = trader
    security, start, _ = _moving(sandbox, account, +1)
    offset = Decimal("0.50")
    order = {
        **_order(symbol=security.symbol, instruction="SELL", order_type="TRAILING_STOP"),
        "stopPriceLinkBasis": "LAST",
        "stopPriceLinkType": "VALUE",
        "stopPriceOffset": float(offset),
    }
    order_id = _place(sandbox, token, account, order)
    stops, highest = [], start
    for _ in range(400):
        now_price = price_at(security, sandbox.state.now())
        seen = _get(sandbox, token, account, order_id)
        if seen["status"] == "FILLED":
            break
        highest = max(highest, now_price)
        stops.append(Decimal(str(seen["stopPrice"])))
        assert stops[-1] == highest - offset  # under the highest price seen, by the offset
        sandbox_clock.advance(seconds=5)
    assert seen["status"] == "FILLED"
    assert stops == sorted(stops)  # it only ever rose
    fill_price = Decimal(str(seen["orderActivityCollection"][0]["executionLegs"][0]["price"]))
    assert fill_price <= stops[-1]


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"stopPriceLinkType": "PERCENT", "stopPriceOffset": 100}, "stopPriceOffset"),
        ({"stopPriceLinkType": "VALUE", "stopPriceOffset": 0}, "stopPriceOffset"),
        ({"stopPriceLinkType": "TICKS", "stopPriceOffset": 1}, "stopPriceLinkType"),
    ],
)
def test_a_trailing_stop_needs_a_sensible_offset(sandbox, trader, changes, problem):
    token, account = trader
    order = {**_order(instruction="SELL", order_type="TRAILING_STOP"), **changes}
    response = api(sandbox, token, f"/accounts/{account.hash_value}/orders", method="POST", json=order)
    assert response.status_code == 400 and problem in response.text


def test_the_market_fills_a_limit_order_at_its_limit_or_better(sandbox, trader):
    token, account = trader
    security = account.holdings[0].security
    price = price_at(security, sandbox.state.now())
    limit = (price / 2).quantize(CENT)  # far under the market: a buy that would not fill by itself
    order_id = _place(sandbox, token, account, _order(symbol=security.symbol, price=str(limit)))
    execute = f"{sandbox.url}/sandbox/orders/{order_id}/execute"
    assert requests.post(execute, json={"price": str(price)}, timeout=5).status_code == 400
    assert requests.post(execute, json={}, timeout=5).json()["status"] == "FILLED"
    filled = _get(sandbox, token, account, order_id)
    assert Decimal(str(filled["orderActivityCollection"][0]["executionLegs"][0]["price"])) == limit
