"""Trader API v1 order endpoints: place, read, cancel, replace, preview and list orders, and the account's
transactions. An order is checked whole (`order_rules`), then booked: a composite's children (OCO and
TRIGGER, schwab-api.md 5a) each as an order of its own, with its own id, nested in `childOrderStrategies`
and listed only there; a TRIGGER's children wait (AWAITING_PARENT_ORDER) for its fill. How booked orders
then fill is `execution`'s. Working orders can be canceled (CANCELED) or replaced (the original becomes
REPLACED and a new order takes its place, returned in Location).

Shapes as Schwab returns them (schwab-api.md section 5): numbers as JSON numbers, legs with
`positionEffect` OPENING/CLOSING and an instrument with `cusip`/`instrumentId`, executions with
`executionLegs` of `legId, price, quantity, mismarkedQuantity, time`; previewOrder's `orderStrategy` with
`orderBalance` and `orderLegs`, `orderValidationResult` and `commissionAndFee`. Location uses the
configured public base URL; an order that fills at once may answer 201 without Location (configurable).
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from devtools.sandbox import activity
from devtools.sandbox.accounts import totals, value_holding
from devtools.sandbox.book import CENT, Account, Security, price_at
from devtools.sandbox.execution import (
    BUYS,
    NET,
    OPEN_STATUSES,
    TIME_FORMAT,
    advance,
    announce,
    cancel_tree,
    instrument_id,
    net_price,
    parse_time,
    schwab_time,
)
from devtools.sandbox.http import Request, Response, service_error
from devtools.sandbox.order_rules import checked_body, securities_of, security_of
from devtools.sandbox.state import SandboxState, Token
from devtools.sandbox.trader import account_for, shared_accounts

OPENING = {"BUY", "BUY_TO_OPEN", "SELL_TO_OPEN", "SELL_SHORT"}


LIST_DAYS_BACK = 60  # schwab-py's docstring: fromEnteredTime at most 60 days back


def spendable(account: Account, when: datetime) -> tuple[Decimal, Decimal]:
    """(available funds, buying power) as the account's balances show them at `when`."""
    if account.type != "MARGIN":
        return account.cash, account.cash
    valued = [value_holding(holding, account.type, when) for holding in account.holdings]
    t = totals(account, valued)
    available = (t.liquidation_value - t.maintenance).quantize(CENT, ROUND_HALF_UP)
    return available, available * 2


def _new_order(
    state: SandboxState, account: Account, body: dict[str, Any], security: Security | None = None
) -> dict[str, Any]:
    """Book an order (and, for a composite, its children: each an order of its own, with its own id, in
    `childOrderStrategies`); a TRIGGER's children wait (AWAITING_PARENT_ORDER) until it fills."""
    order = _make(state, account, body, parent=None, waiting=False)
    advance(state, account, order)
    return order


def _make(
    state: SandboxState,
    account: Account,
    body: dict[str, Any],
    *,
    parent: dict[str, Any] | None,
    waiting: bool,
) -> dict[str, Any]:
    order_id = state.next_order_id
    state.next_order_id += 1
    order = {key: copy.deepcopy(value) for key, value in body.items() if key != "childOrderStrategies"}
    order.update(
        {
            "orderId": order_id,
            "accountNumber": int(account.account_number),
            "status": "AWAITING_PARENT_ORDER" if waiting else "WORKING",
            "enteredTime": schwab_time(state.now()),
            "cancelable": True,
            "editable": not waiting and body.get("orderStrategyType") != "OCO",  # a container is not replaced
            "tag": "API_TOS:THOR",
            "requestedDestination": "AUTO",
            "destinationLinkName": "SBOX",
        }
    )
    order["_hash"] = account.hash_value
    order["_parent"] = parent
    state.orders[order_id] = order
    if body.get("orderStrategyType") != "OCO":
        _book_legs(state, order, body)
        if not waiting:
            announce(state, account, order, activity.PLACED)
    children = body.get("childOrderStrategies") or []
    # An OCO's two wait with it; a TRIGGER's child waits for the TRIGGER's fill.
    child_waits = waiting or body.get("orderStrategyType") == "TRIGGER"
    made = [_make(state, account, child, parent=order, waiting=child_waits) for child in children]
    if made:
        order["childOrderStrategies"] = made
    return order


def _book_legs(state: SandboxState, order: dict[str, Any], body: dict[str, Any]) -> None:
    """Each leg as Schwab shows it; the order's quantity is a single order's shares or a spread's count."""
    found = [security for security in securities_of(state, body) if security is not None]
    if not found or len(found) != len(body["orderLegCollection"]):  # validated before: never here
        raise ValueError("an order without a known security")
    legs = body["orderLegCollection"]
    quantity = float(body["quantity"] if len(legs) > 1 else legs[0]["quantity"])
    order.update(
        {
            "quantity": quantity,
            "filledQuantity": 0.0,
            "remainingQuantity": quantity,
            "complexOrderStrategyType": body.get("complexOrderStrategyType", "NONE"),
        }
    )
    for name in ("price", "stopPrice", "stopPriceOffset", "priceOffset"):
        if name in order:
            order[name] = float(order[name])
    for number, (leg, security) in enumerate(zip(order["orderLegCollection"], found, strict=True), start=1):
        leg.update(
            {
                "orderLegType": security.asset_type,
                "legId": number,
                "quantity": float(leg["quantity"]),
                "positionEffect": "OPENING" if leg["instruction"] in OPENING else "CLOSING",
            }
        )
        leg["instrument"].update(
            {
                "assetType": security.asset_type,
                "cusip": security.cusip,
                "instrumentId": instrument_id(security),
            }
        )
    order["_securities"] = found
    order["_security"] = found[0]


def public(order: dict[str, Any]) -> dict[str, Any]:
    shown = {key: value for key, value in order.items() if not key.startswith("_")}
    if "childOrderStrategies" in order:
        shown["childOrderStrategies"] = [public(child) for child in order["childOrderStrategies"]]
    return shown


def _order_in(state: SandboxState, account: Account, order_id: str) -> dict[str, Any] | Response:
    order = state.orders.get(int(order_id)) if order_id.isdigit() else None
    if order is None or order["_hash"] != account.hash_value:
        return service_error(404, "Order not found", f"Order {order_id[:20]} not found for this account")
    advance(state, account, order)
    return order


def _account_and_body(
    state: SandboxState, request: Request, token: Token, account_hash: str
) -> tuple[Account, dict[str, Any], Security | None] | Response:
    """The caller's account and a valid order body, or Schwab's answer why not (call under the lock)."""
    account = account_for(state, token, account_hash)
    if isinstance(account, Response):
        return account
    checked = checked_body(state, request)
    return checked if isinstance(checked, Response) else (account, *checked)


def place(state: SandboxState, request: Request, token: Token, account_hash: str) -> Response:
    with state.lock:
        found = _account_and_body(state, request, token, account_hash)
        if isinstance(found, Response):
            return found
        order = _new_order(state, *found)
        if order["status"] == "FILLED" and state.config.immediate_fill_omits_location:
            return Response.empty(201)
    return Response.empty(201, [("Location", _location(state, request, account_hash, order))])


def _location(state: SandboxState, request: Request, account_hash: str, order: dict[str, Any]) -> str:
    base = (state.config.public_base_url or request.host_url).rstrip("/")
    return f"{base}/trader/v1/accounts/{account_hash}/orders/{order['orderId']}"


def get(state: SandboxState, request: Request, token: Token, account_hash: str, order_id: str) -> Response:
    with state.lock:
        account = account_for(state, token, account_hash)
        if isinstance(account, Response):
            return account
        order = _order_in(state, account, order_id)
        return order if isinstance(order, Response) else Response.json(public(order))


def _open_order(
    state: SandboxState, token: Token, account_hash: str, order_id: str, refusal: str
) -> tuple[Account, dict[str, Any]] | Response:
    """The caller's account and its still-open order, or Schwab's answer why not (call under the lock)."""
    account = account_for(state, token, account_hash)
    if isinstance(account, Response):
        return account
    order = _order_in(state, account, order_id)
    if isinstance(order, Response):
        return order
    if order["status"] not in OPEN_STATUSES:
        return service_error(400, f"{refusal}: its status is {order['status']}")
    return account, order


def cancel(state: SandboxState, request: Request, token: Token, account_hash: str, order_id: str) -> Response:
    with state.lock:
        found = _open_order(state, token, account_hash, order_id, "Order is not cancelable")
        if isinstance(found, Response):
            return found
        account, order = found
        cancel_tree(state, account, order)  # a bracket's entry takes what it would place with it
    return Response.empty(200)


def replace(
    state: SandboxState, request: Request, token: Token, account_hash: str, order_id: str
) -> Response:
    with state.lock:
        found = _open_order(state, token, account_hash, order_id, "Order cannot be replaced")
        if isinstance(found, Response):
            return found
        account, original = found
        if original.get("_parent") is not None or "childOrderStrategies" in original:
            return service_error(400, "Order cannot be replaced: the sandbox replaces single orders only")
        checked = checked_body(state, request)
        if isinstance(checked, Response):
            return checked
        original.update({"status": "REPLACED", "cancelable": False, "editable": False})
        announce(state, account, original, activity.REPLACED)
        order = _new_order(state, account, *checked)
    return Response.empty(201, [("Location", _location(state, request, account_hash, order))])


def preview(state: SandboxState, request: Request, token: Token, account_hash: str) -> Response:
    """previewOrder: the order's value, fees and the account's funds after it. A TRIGGER is previewed as its
    first order; an OCO as the larger of its two, with a warning that one of them will fill (inferred)."""
    with state.lock:
        found = _account_and_body(state, request, token, account_hash)
        if isinstance(found, Response):
            return found
        account, order, _ = found
        if order.get("orderStrategyType") != "OCO":
            return Response.json(_previewed(state, account, order))
        if any(security_of(state, child) is None for child in order["childOrderStrategies"]):
            return service_error(400, "The sandbox previews an OCO of two orders with legs")
        larger = max(
            (_previewed(state, account, child) for child in order["childOrderStrategies"]),
            key=lambda answer: answer["orderStrategy"]["orderBalance"]["orderValue"],
        )
    larger["orderValidationResult"]["warns"].append(
        {
            "validationRuleName": "OCO",
            "message": "One of the two orders will fill and cancel the other; previewed at the larger.",
            "activityMessage": "One cancels other",
            "originalSeverity": "WARN",
        }
    )
    return Response.json(larger)


def _previewed(state: SandboxState, account: Account, order: dict[str, Any]) -> dict[str, Any]:
    security = security_of(state, order)
    if security is None:  # checked by the caller
        raise ValueError("previewing an order without legs")
    price = price_at(security, state.now())
    securities_now = [price_at(found, state.now()) for found in securities_of(state, order) if found]
    leg = order["orderLegCollection"][0]
    legs = order["orderLegCollection"]
    limit = order.get("price")
    if len(legs) > 1:  # a spread: its count, at its net price (or the market's)
        quantity = Decimal(str(order["quantity"]))
        market = net_price(order, state.now(), [found for found in securities_of(state, order) if found])
        unit = Decimal(str(limit)) if order.get("orderType") in NET and limit else abs(market)
        buying = order.get("orderType") == "NET_DEBIT" or (order.get("orderType") == "MARKET" and market > 0)
        contracts = sum(Decimal(str(item["quantity"])) for item in legs)
    else:
        quantity = contracts = Decimal(str(leg["quantity"]))
        unit = Decimal(str(limit)) if order.get("orderType") in {"LIMIT", "STOP_LIMIT"} and limit else price
        buying = leg["instruction"] in BUYS
    value = quantity * unit * security.multiplier
    commission = Decimal(0)
    fee = Decimal("0.65") * contracts if security.asset_type == "OPTION" else Decimal(0)
    # The same buying power the account's balances show (accounts.current_balances), less (or, for a sale,
    # plus) what the order costs: the ticket's preview and the summary card agree.
    funds, power = spendable(account, state.now())
    change = -value - fee if buying else value - fee
    projected, projected_funds = power + change, funds + change
    rejects, warns = [], []
    if buying and projected < 0:
        rejects.append(
            {
                "validationRuleName": "BUYING_POWER",
                "message": "You do not have enough available funds for this order.",
                "activityMessage": "Insufficient buying power",
                "originalSeverity": "REJECT",
            }
        )
    if order.get("orderType") == "MARKET":
        warns.append(
            {
                "validationRuleName": "MARKET_ORDER",
                "message": "A market order fills at the next price, which may differ from the quote.",
                "activityMessage": "Market order",
                "originalSeverity": "WARN",
            }
        )
    previewed = {key: value for key, value in order.items() if not key.startswith("_")}
    return {
        "orderId": 0,
        "orderStrategy": {
            "accountNumber": account.account_number,
            "status": "REVIEW",
            "orderType": previewed.get("orderType"),
            "duration": previewed.get("duration"),
            "session": previewed.get("session"),
            "price": float(unit),
            "quantity": float(quantity),
            "orderStrategyType": previewed.get("orderStrategyType"),
            "orderBalance": {
                "orderValue": float(value),
                "projectedAvailableFund": float(projected_funds),
                "projectedBuyingPower": float(projected),
                "projectedCommission": float(commission + fee),
            },
            "orderLegs": [
                {
                    "askPrice": float(leg_price),
                    "bidPrice": float(leg_price),
                    "lastPrice": float(leg_price),
                    "markPrice": float(leg_price),
                    "projectedCommission": float(fee * Decimal(str(item["quantity"])) / contracts),
                    "quantity": float(item["quantity"]),
                    "finalSymbol": item["instrument"]["symbol"],
                    "legId": number,
                    "assetType": security.asset_type,
                    "instruction": item["instruction"],
                }
                for number, (item, leg_price) in enumerate(zip(legs, securities_now, strict=True), start=1)
            ],
        },
        "orderValidationResult": {
            "alerts": [],
            "accepts": [],
            "rejects": rejects,
            "reviews": [],
            "warns": warns,
        },
        "commissionAndFee": {
            "commission": {
                "commissionLegs": [{"commissionValues": [{"value": float(commission), "type": "COMMISSION"}]}]
            },
            "fee": {"feeLegs": [{"feeValues": [{"value": float(fee), "type": "OPT_REG_FEE"}]}]},
            "trueCommission": {"commissionLegs": []},
        },
    }


def _list(state: SandboxState, request: Request, accounts: list[Account]) -> Response:
    start, end = parse_time(request.arg("fromEnteredTime")), parse_time(request.arg("toEnteredTime"))
    if start is None or end is None:
        return service_error(
            400,
            "fromEnteredTime and toEnteredTime are required, as yyyy-MM-dd'T'HH:mm:ss.SSSZ",
        )
    # Whole days, as Schwab counts: a client's "now - 60 days" is a moment before the sandbox's own.
    if end < start or start.date() < (state.now() - timedelta(days=LIST_DAYS_BACK)).date():
        return service_error(
            400, f"The date range is invalid: at most {LIST_DAYS_BACK} days back, from before to"
        )
    raw_max = request.arg("maxResults") or "3000"
    if not raw_max.isdigit():
        return service_error(400, "maxResults must be a positive integer")
    status = request.arg("status")
    hashes = {account.hash_value: account for account in accounts}
    found = []
    for order in state.orders.values():
        account = hashes.get(order["_hash"])
        if account is None or order["_parent"] is not None:  # a child is listed under its parent
            continue
        advance(state, account, order)
        entered = datetime.strptime(order["enteredTime"], TIME_FORMAT)
        if start <= entered <= end and (status is None or order["status"] == status):
            found.append(public(order))
    found.sort(key=lambda item: item["enteredTime"], reverse=True)
    return Response.json(found[: int(raw_max)])


def list_for_account(state: SandboxState, request: Request, token: Token, account_hash: str) -> Response:
    with state.lock:
        account = account_for(state, token, account_hash)
        if isinstance(account, Response):
            return account
        return _list(state, request, [account])


def list_all(state: SandboxState, request: Request, token: Token) -> Response:
    with state.lock:
        return _list(state, request, shared_accounts(state, token))


def transactions_list(state: SandboxState, request: Request, token: Token, account_hash: str) -> Response:
    with state.lock:
        account = account_for(state, token, account_hash)
        if isinstance(account, Response):
            return account
        start, end = parse_time(request.arg("startDate")), parse_time(request.arg("endDate"))
        types = request.arg("types")
        if start is None or end is None or not types:
            return service_error(400, "startDate, endDate and types are required")
        found = [
            public(item)
            for item in state.transactions.values()
            if item["_hash"] == account.hash_value
            and item["type"] in types.split(",")
            and start <= datetime.strptime(item["time"], TIME_FORMAT) <= end
            and (request.arg("symbol") in (None, item["transferItems"][0]["instrument"]["symbol"]))
        ]
    return Response.json(sorted(found, key=lambda item: item["time"], reverse=True))


def transaction_get(
    state: SandboxState, request: Request, token: Token, account_hash: str, transaction_id: str
) -> Response:
    with state.lock:
        account = account_for(state, token, account_hash)
        if isinstance(account, Response):
            return account
        item = state.transactions.get(int(transaction_id)) if transaction_id.isdigit() else None
        if item is None or item["_hash"] != account.hash_value:
            return service_error(404, "Transaction not found")
    return Response.json(public(item))
