"""Trader API v1 order endpoints with a simple, realistic life cycle.

MARKET orders fill at once at the current price. LIMIT orders are WORKING until the price crosses the
limit (checked whenever an order is read, and at the streamer's ticks), and fill at the price then, never
worse than the limit. STOP, STOP_LIMIT and TRAILING_STOP orders follow the price step by step since they
were last looked at (PRICE_STEP_SECONDS), so a crossing between two reads is not missed: a stop triggers
when the price reaches it and fills at that step's price (a stop-limit then works as a limit); a trailing
stop's stop follows the price by its offset (`stopPriceOffset`, VALUE or PERCENT, on the
`stopPriceLinkBasis` price: BID and ASK a tick either side) in the favourable direction only, and is shown
as the order's `stopPrice` (inferred). Other types stay WORKING. OCO and TRIGGER orders (schwab-api.md
5a) book each child as an order of its own: a TRIGGER's child waits (AWAITING_PARENT_ORDER) for its fill,
an OCO's fill cancels the other, and cancelling a parent cancels what it would still place. Fills move
the account's holdings and cash and record a TRADE transaction. Working orders can be canceled
(CANCELED) or replaced (the original becomes REPLACED and a new order takes its place, returned in
Location).

Shapes as Schwab returns them (schwab-api.md section 5): numbers as JSON numbers, legs with
`positionEffect` OPENING/CLOSING and an instrument with `cusip`/`instrumentId`, executions with
`executionLegs` of `legId, price, quantity, mismarkedQuantity, time`; previewOrder's `orderStrategy` with
`orderBalance` and `orderLegs`, `orderValidationResult` and `commissionAndFee`. Location uses the
configured public base URL; an order that fills at once may answer 201 without Location (configurable).
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from devtools.sandbox import activity
from devtools.sandbox.accounts import totals, value_holding
from devtools.sandbox.book import (
    CENT,
    EQUITIES,
    ETFS,
    PRICE_STEP_SECONDS,
    Account,
    Holding,
    Security,
    price_at,
)
from devtools.sandbox.http import Request, Response, service_error
from devtools.sandbox.state import SandboxState, Token
from devtools.sandbox.trader import account_for, shared_accounts

STOPS = {"STOP", "STOP_LIMIT", "TRAILING_STOP", "TRAILING_STOP_LIMIT"}
TRAILING = {"TRAILING_STOP", "TRAILING_STOP_LIMIT"}
NET = {"NET_DEBIT", "NET_CREDIT"}  # a spread's price: what one spread costs, or brings in
ORDER_TYPES = {"MARKET", "LIMIT", *STOPS, *NET}
MAX_LEGS = 4
DURATIONS = {"DAY", "GOOD_TILL_CANCEL", "FILL_OR_KILL", "IMMEDIATE_OR_CANCEL"}
SESSIONS = {"NORMAL", "AM", "PM", "SEAMLESS"}
STRATEGIES = {"SINGLE", "OCO", "TRIGGER"}
BUYS = {"BUY", "BUY_TO_OPEN", "BUY_TO_CLOSE", "BUY_TO_COVER"}
SELLS = {"SELL", "SELL_TO_OPEN", "SELL_TO_CLOSE", "SELL_SHORT"}
OPEN_STATUSES = {"WORKING", "QUEUED", "ACCEPTED", "PENDING_ACTIVATION", "AWAITING_PARENT_ORDER"}
OPENING = {"BUY", "BUY_TO_OPEN", "SELL_TO_OPEN", "SELL_SHORT"}
LIST_DAYS_BACK = 60  # schwab-py's docstring: fromEnteredTime at most 60 days back
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%z"


def _schwab_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S+0000")


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    for fmt in ("%Y-%m-%dT%H:%M:%S.%f%z", TIME_FORMAT):
        try:
            return datetime.strptime(value.replace("Z", "+0000"), fmt)
        except ValueError:
            continue
    return None


def spendable(account: Account, when: datetime) -> tuple[Decimal, Decimal]:
    """(available funds, buying power) as the account's balances show them at `when`."""
    if account.type != "MARGIN":
        return account.cash, account.cash
    valued = [value_holding(holding, account.type, when) for holding in account.holdings]
    t = totals(account, valued)
    available = (t.liquidation_value - t.maintenance).quantize(CENT, ROUND_HALF_UP)
    return available, available * 2


def securities(state: SandboxState) -> dict[str, Security]:
    """Every symbol the sandbox trades and quotes: what its users hold, the common equities and ETFs, and
    their listed options."""
    known: dict[str, Security] = {}
    for user in state.users.values():
        for account in user.accounts:
            for holding in account.holdings:
                known[holding.security.symbol] = holding.security
    for symbol, description, price in EQUITIES:
        known.setdefault(symbol, Security(symbol, "EQUITY", description, Decimal(price), symbol))
    for symbol, description, price in ETFS:
        known.setdefault(
            symbol,
            Security(
                symbol, "COLLECTIVE_INVESTMENT", description, Decimal(price), symbol, "EXCHANGE_TRADED_FUND"
            ),
        )
    for option in state.option_chain:
        known.setdefault(option.symbol, option)
    return known


def _validate(state: SandboxState, body: Any) -> tuple[dict[str, Any], Security | None] | Response:
    """The order as placed, with its security (None for an OCO, whose children carry the legs), or
    Schwab's answer naming every problem."""
    if not isinstance(body, dict):
        return service_error(
            400, "A validation error occurred while processing the request.", "Body must be an order"
        )
    problems = _problems(state, body, depth=0)
    if problems:
        return service_error(400, "A validation error occurred while processing the request.", *problems)
    return body, _security_of(state, body)


def _security_of(state: SandboxState, body: dict[str, Any]) -> Security | None:
    """The first leg's security (a single order's only one); None for an OCO, which has no legs."""
    found = _securities_of(state, body)
    return found[0] if found else None


def _securities_of(state: SandboxState, body: dict[str, Any]) -> list[Security | None]:
    legs = body.get("orderLegCollection")
    if not isinstance(legs, list):
        return []
    known = securities(state)
    found = []
    for leg in legs:
        instrument = leg.get("instrument") if isinstance(leg, dict) else None
        symbol = instrument.get("symbol") if isinstance(instrument, dict) else None
        found.append(known.get(symbol) if isinstance(symbol, str) else None)
    return found


def _problems(state: SandboxState, body: Any, *, depth: int) -> list[str]:
    """What is wrong with an order: a single one, an OCO of two, or a TRIGGER and the order it places
    (schwab-api.md 5a), nested at most three deep."""
    if not isinstance(body, dict) or depth > 2:
        return ["childOrderStrategies must hold orders, at most three deep"]
    strategy = body.get("orderStrategyType")
    children = body.get("childOrderStrategies")
    if strategy == "OCO":  # a container: no legs of its own, two orders that cancel each other
        if not isinstance(children, list) or len(children) != 2:
            return ["an OCO order holds exactly two childOrderStrategies"]
        return [problem for child in children for problem in _problems(state, child, depth=depth + 1)]
    problems = _single_problems(state, body)
    if strategy == "TRIGGER":
        if not isinstance(children, list) or len(children) != 1:
            return [*problems, "a TRIGGER order holds exactly one childOrderStrategies order"]
        problems += _problems(state, children[0], depth=depth + 1)
    elif children is not None:
        problems.append("childOrderStrategies belong to OCO and TRIGGER orders")
    return problems


def _single_problems(state: SandboxState, body: dict[str, Any]) -> list[str]:
    problems = []
    for name, allowed in (
        ("orderType", ORDER_TYPES),
        ("session", SESSIONS),
        ("duration", DURATIONS),
        ("orderStrategyType", STRATEGIES),
    ):
        if body.get(name) not in allowed:
            problems.append(f"{name} is missing or invalid")
    legs = body.get("orderLegCollection")
    if not isinstance(legs, list) or not 1 <= len(legs) <= MAX_LEGS:
        return [*problems, f"orderLegCollection must hold 1 to {MAX_LEGS} legs"]
    for index, (leg, security) in enumerate(zip(legs, _securities_of(state, body), strict=True)):
        if not isinstance(leg, dict):
            problems.append(f"orderLegCollection[{index}] must be an order leg")
            continue
        if leg.get("instruction") not in BUYS | SELLS:
            problems.append(f"orderLegCollection[{index}].instruction is missing or invalid")
        if not _positive_number(leg.get("quantity")):
            problems.append(f"orderLegCollection[{index}].quantity must be a positive number")
        if security is None:
            problems.append(f"orderLegCollection[{index}].instrument.symbol is not a known symbol")
        elif len(legs) > 1 and security.asset_type != "OPTION":
            problems.append(f"orderLegCollection[{index}]: the sandbox's multi-leg orders are option spreads")
    if len(legs) > 1:
        problems += _spread_problems(body, legs)
    elif body.get("orderType") in NET:
        problems.append("NET_DEBIT and NET_CREDIT orders have several legs")
    if body.get("orderType") in {"LIMIT", "STOP_LIMIT"} | NET:
        try:
            if Decimal(str(body.get("price"))) <= 0:
                problems.append("price must be positive")
        except InvalidOperation:
            problems.append("price is required for a LIMIT order")
    if body.get("orderType") in {"STOP", "STOP_LIMIT"}:
        try:
            if Decimal(str(body.get("stopPrice"))) <= 0:
                problems.append("stopPrice must be positive")
        except InvalidOperation:
            problems.append("stopPrice is required for a STOP order")
    if body.get("orderType") in TRAILING:
        problems += _trailing_problems(body)
    return problems


def _positive_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def _spread_problems(body: dict[str, Any], legs: list[Any]) -> list[str]:
    """A spread: one order of several legs at a net price (or at the market), quantity the spreads."""
    problems = []
    if body.get("orderType") not in NET | {"MARKET"}:
        problems.append("a multi-leg order is NET_DEBIT, NET_CREDIT or MARKET")
    if not _positive_number(body.get("quantity")):
        problems.append("quantity (the number of spreads) must be a positive number")
    elif any(
        isinstance(leg, dict) and _positive_number(leg.get("quantity")) and leg["quantity"] % body["quantity"]
        for leg in legs
    ):
        problems.append("each leg's quantity is a whole multiple of the order's quantity")
    return problems


def _checked_body(state: SandboxState, request: Request) -> tuple[dict[str, Any], Security | None] | Response:
    try:
        body = request.json()
    except ValueError:
        return service_error(
            400, "A validation error occurred while processing the request.", "Malformed JSON"
        )
    return _validate(state, body)


def _new_order(
    state: SandboxState, account: Account, body: dict[str, Any], security: Security | None = None
) -> dict[str, Any]:
    """Book an order (and, for a composite, its children: each an order of its own, with its own id, in
    `childOrderStrategies`); a TRIGGER's children wait (AWAITING_PARENT_ORDER) until it fills."""
    order = _make(state, account, body, parent=None, waiting=False)
    _advance(state, account, order)
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
            "enteredTime": _schwab_time(state.now()),
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
    found = [security for security in _securities_of(state, body) if security is not None]
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
                "instrumentId": _instrument_id(security),
            }
        )
    order["_securities"] = found
    order["_security"] = found[0]


def _activate(state: SandboxState, account: Account, order: dict[str, Any]) -> None:
    """A TRIGGER filled: its child (an OCO: both of them) starts working."""
    order.update(
        {"status": "WORKING", "editable": "_security" in order, "enteredTime": _schwab_time(state.now())}
    )
    if "_security" in order:
        announce(state, account, order, activity.PLACED)
    for child in order.get("childOrderStrategies", []):
        if order["orderStrategyType"] == "OCO":
            _activate(state, account, child)
    for child in [order, *order.get("childOrderStrategies", [])]:
        _advance(state, account, child)


def _after_fill(state: SandboxState, account: Account, order: dict[str, Any]) -> None:
    """A whole fill places a TRIGGER's child, and cancels the other order of an OCO."""
    if order.get("orderStrategyType") == "TRIGGER":
        for child in order.get("childOrderStrategies", []):
            _activate(state, account, child)
    parent = order.get("_parent")
    if parent is not None and parent.get("orderStrategyType") == "OCO":
        for sibling in parent["childOrderStrategies"]:
            if sibling is not order:
                _cancel_tree(state, account, sibling)
        parent.update({"status": "FILLED", "cancelable": False, "closeTime": _schwab_time(state.now())})


def _cancel_tree(state: SandboxState, account: Account, order: dict[str, Any]) -> None:
    """Cancel an open order and whatever it would still place (a TRIGGER's child, an OCO's two)."""
    if order["status"] in OPEN_STATUSES:
        order.update(
            {
                "status": "CANCELED",
                "cancelable": False,
                "editable": False,
                "closeTime": _schwab_time(state.now()),
            }
        )
        if "_security" in order:
            announce(state, account, order, activity.CANCELED)
    for child in order.get("childOrderStrategies", []):
        _cancel_tree(state, account, child)


TRAIL_BASES = {"LAST", "BID", "ASK", "MARK"}
TRAIL_TYPES = {"VALUE", "PERCENT"}
MAX_STEPS = 20_000  # how far back a stop follows the price (about 28 hours of steps)


def _trailing_problems(body: dict[str, Any]) -> list[str]:
    problems = []
    if body.get("orderType") == "TRAILING_STOP_LIMIT" and not _positive_number(
        _number_or_none(body.get("priceOffset"))
    ):
        problems.append("priceOffset (the limit past the stop) is required for a TRAILING_STOP_LIMIT order")
    if body.get("stopPriceLinkBasis", "LAST") not in TRAIL_BASES:
        problems.append("stopPriceLinkBasis is invalid")
    if body.get("stopPriceLinkType") not in TRAIL_TYPES:
        problems.append("stopPriceLinkType is missing or invalid")
    try:
        offset = Decimal(str(body.get("stopPriceOffset")))
        if not offset > 0 or (body.get("stopPriceLinkType") == "PERCENT" and offset >= 100):
            problems.append("stopPriceOffset must be positive (and under 100 percent)")
    except InvalidOperation:
        problems.append("stopPriceOffset is required for a TRAILING_STOP order")
    return problems


def _number_or_none(value: Any) -> float | None:
    try:
        return float(Decimal(str(value)))
    except InvalidOperation:
        return None


def _instrument_id(security: Security) -> int:
    return int.from_bytes(security.symbol.encode()[:6].ljust(6, b"\0"), "big") % 1_000_000_000


def _advance(state: SandboxState, account: Account, order: dict[str, Any]) -> None:
    """Fill a working order whose price condition is now met."""
    if order["status"] != "WORKING" or "_security" not in order:  # an OCO's two work for it
        return
    security: Security = order["_security"]
    buying = order["orderLegCollection"][0]["instruction"] in BUYS
    kind = order["orderType"]
    if kind in STOPS:
        _follow_stop(state, account, order, buying)
        return
    if len(order["_securities"]) > 1:
        net = net_price(order, state.now())
        if kind == "MARKET" or within_net(order, net):
            fill(state, account, order, Decimal(str(order["remainingQuantity"])), net)
        return
    price = price_at(security, state.now())
    if kind == "LIMIT":
        if not _within_limit(order, price, buying):
            return
    elif kind != "MARKET":
        return
    fill(state, account, order, Decimal(str(order["remainingQuantity"])), price)


def net_price(order: dict[str, Any], when: datetime) -> Decimal:
    """What one spread costs at the market now (negative: what it brings in)."""
    return sum(
        (price * ratio for price, ratio in zip(_leg_prices(order, when), _ratios(order), strict=True)),
        Decimal(0),
    )


def _leg_prices(order: dict[str, Any], when: datetime) -> list[Decimal]:
    """Each leg's market price, signed: paid for a buy, received for a sale."""
    return [
        price_at(security, when) * (1 if leg["instruction"] in BUYS else -1)
        for leg, security in zip(order["orderLegCollection"], order["_securities"], strict=True)
    ]


def _ratios(order: dict[str, Any]) -> list[Decimal]:
    spreads = Decimal(str(order["quantity"]))
    return [Decimal(str(leg["quantity"])) / spreads for leg in order["orderLegCollection"]]


def within_net(order: dict[str, Any], net: Decimal) -> bool:
    """A debit spread fills at its price or less, a credit spread for its price or more."""
    limit = Decimal(str(order["price"]))
    return net <= limit if order["orderType"] == "NET_DEBIT" else -net >= limit


def _within_limit(order: dict[str, Any], price: Decimal, buying: bool) -> bool:
    limit = Decimal(str(order["price"]))
    return price <= limit if buying else price >= limit


def _follow_stop(state: SandboxState, account: Account, order: dict[str, Any], buying: bool) -> None:
    """Walk the price's steps since the order was last looked at: trail the stop, trigger it when the
    price reaches it, and fill at that step's price (a triggered stop-limit only within its limit)."""
    security: Security = order["_security"]
    now = state.now()
    seen = order.get("_seen_at") or _parse_time(order["enteredTime"]) or now
    first = int(seen.timestamp()) // PRICE_STEP_SECONDS
    last = int(now.timestamp()) // PRICE_STEP_SECONDS
    for step in range(max(first, last - MAX_STEPS), last + 1):
        when = max(seen, datetime.fromtimestamp(step * PRICE_STEP_SECONDS, now.tzinfo))
        price = price_at(security, when)
        if order["orderType"] in TRAILING:
            _trail(order, price, buying)
        if not order.get("_triggered"):
            stop = Decimal(str(order["stopPrice"]))
            order["_triggered"] = price >= stop if buying else price <= stop
            if order["_triggered"] and order["orderType"] == "TRAILING_STOP_LIMIT":
                # Its limit is set off from the stop as it triggers: past it for a buy, under it for a sale.
                offset = Decimal(str(order["priceOffset"]))
                order["price"] = float(stop + offset if buying else stop - offset)
        if order["_triggered"] and (
            order["orderType"] in {"STOP", "TRAILING_STOP"} or _within_limit(order, price, buying)
        ):
            order["_seen_at"] = now
            fill(state, account, order, Decimal(str(order["remainingQuantity"])), price)
            return
    order["_seen_at"] = now


def _trail(order: dict[str, Any], price: Decimal, buying: bool) -> None:
    """Move a trailing stop with the price, in the favourable direction only: a sell's stop rises under
    the highest basis price seen, a buy's falls over the lowest."""
    tick = CENT if price >= 1 else Decimal("0.0001")
    basis = {"BID": price - tick, "ASK": price + tick}.get(order.get("stopPriceLinkBasis", "LAST"), price)
    offset = Decimal(str(order["stopPriceOffset"]))
    if order["stopPriceLinkType"] == "PERCENT":
        offset = (basis * offset / 100).quantize(tick, ROUND_HALF_UP)
    candidate = basis + offset if buying else basis - offset
    current = order.get("stopPrice")
    if current is None or (
        candidate < Decimal(str(current)) if buying else candidate > Decimal(str(current))
    ):
        order["stopPrice"] = float(candidate)


def fill(
    state: SandboxState, account: Account, order: dict[str, Any], quantity: Decimal, price: Decimal
) -> None:
    """Execute `quantity` of a working order at `price` (all that remains: FILLED); call under the lock.
    A spread's quantity counts spreads and its price is the net per spread: its legs fill together, each
    at its market price, the first leg's moved so the legs come to exactly that net."""
    now = _schwab_time(state.now())
    legs = order["orderLegCollection"]
    if len(legs) > 1:
        prices = _leg_prices(order, state.now())
        ratios = _ratios(order)
        prices[0] += (price - sum((p * r for p, r in zip(prices, ratios, strict=True)), Decimal(0))) / ratios[
            0
        ]
        fills = [(abs(p), quantity * r) for p, r in zip(prices, ratios, strict=True)]
    else:
        fills = [(price, quantity)]
    executions = []
    for leg, security, (leg_price, leg_quantity) in zip(legs, order["_securities"], fills, strict=True):
        signed = leg_quantity if leg["instruction"] in BUYS else -leg_quantity
        _apply_fill(account, security, signed, leg_price)
        executions.append((leg, security, signed, leg_price))
    filled = Decimal(str(order["filledQuantity"])) + quantity
    remaining = Decimal(str(order["quantity"])) - filled
    order.setdefault("orderActivityCollection", []).append(
        {
            "activityType": "EXECUTION",
            "executionType": "FILL",
            "quantity": float(quantity),
            "orderRemainingQuantity": float(remaining),
            "executionLegs": [
                {
                    "legId": leg["legId"],
                    "price": float(leg_price),
                    "quantity": float(abs(signed)),
                    "mismarkedQuantity": 0.0,
                    "time": now,
                }
                for leg, _, signed, leg_price in executions
            ],
        }
    )
    order.update({"filledQuantity": float(filled), "remainingQuantity": float(remaining)})
    if remaining <= 0:
        order.update({"status": "FILLED", "cancelable": False, "editable": False, "closeTime": now})
    _record_trade(state, account, order, executions, now)
    announce(state, account, order, activity.FILLED if remaining <= 0 else activity.PARTLY_FILLED)
    if remaining <= 0:
        _after_fill(state, account, order)


def reject(state: SandboxState, account: Account, order: dict[str, Any], reason: str) -> None:
    """Reject a working order after acceptance, as Schwab's desk may; call under the lock."""
    order.update(
        {
            "status": "REJECTED",
            "statusDescription": reason,
            "cancelable": False,
            "editable": False,
            "closeTime": _schwab_time(state.now()),
        }
    )
    announce(state, account, order, activity.REJECTED)


def advance_all(state: SandboxState) -> None:
    """The market moves: fill every working order whose price condition is met (the streamer's tick)."""
    with state.lock:
        for order in list(state.orders.values()):
            if order["status"] == "WORKING":
                _advance(state, state.accounts_by_hash[order["_hash"]][1], order)


def announce(
    state: SandboxState, account: Account, order: dict[str, Any], message_types: tuple[str, ...]
) -> None:
    user, _ = state.accounts_by_hash[account.hash_value]
    state.announce(
        user.username, account.account_number, activity.messages(order, account.account_number, message_types)
    )


def _record_trade(
    state: SandboxState,
    account: Account,
    order: dict[str, Any],
    executions: list[tuple[dict[str, Any], Security, Decimal, Decimal]],
    when: str,
) -> None:
    """One TRADE transaction per fill, an item per leg (a spread's legs trade together)."""
    activity_id = 90000000000 + len(state.transactions) + 1
    items = [
        {
            "instrument": {
                "assetType": security.asset_type,
                "symbol": security.symbol,
                "cusip": security.cusip,
                "instrumentId": _instrument_id(security),
            },
            "amount": float(signed),
            "cost": float(-signed * price * security.multiplier),
            "price": float(price),
            "positionEffect": leg["positionEffect"],
        }
        for leg, security, signed, price in executions
    ]
    state.transactions[activity_id] = {
        "activityId": activity_id,
        "time": when,
        "accountNumber": account.account_number,
        "type": "TRADE",
        "status": "VALID",
        "subAccount": "MARGIN" if account.type == "MARGIN" else "CASH",
        "tradeDate": when,
        "positionId": _instrument_id(executions[0][1]),
        "orderId": order["orderId"],
        "netAmount": float(sum((Decimal(str(item["cost"])) for item in items), Decimal(0))),
        "transferItems": items,
        "_hash": account.hash_value,
    }


def _apply_fill(account: Account, security: Security, signed_quantity: Decimal, price: Decimal) -> None:
    account.cash -= signed_quantity * price * security.multiplier
    for holding in account.holdings:
        if holding.security.symbol == security.symbol:
            new_quantity = holding.quantity + signed_quantity
            if new_quantity == 0:
                account.holdings.remove(holding)
            else:
                if abs(new_quantity) > abs(holding.quantity) and (new_quantity > 0) == (holding.quantity > 0):
                    total = holding.average_price * abs(holding.quantity) + price * abs(signed_quantity)
                    holding.average_price = (total / abs(new_quantity)).quantize(Decimal("0.0001"))
                holding.quantity = new_quantity
            return
    account.holdings.append(Holding(security, signed_quantity, price, previous_session_quantity=Decimal(0)))


def public(order: dict[str, Any]) -> dict[str, Any]:
    shown = {key: value for key, value in order.items() if not key.startswith("_")}
    if "childOrderStrategies" in order:
        shown["childOrderStrategies"] = [public(child) for child in order["childOrderStrategies"]]
    return shown


def _order_in(state: SandboxState, account: Account, order_id: str) -> dict[str, Any] | Response:
    order = state.orders.get(int(order_id)) if order_id.isdigit() else None
    if order is None or order["_hash"] != account.hash_value:
        return service_error(404, "Order not found", f"Order {order_id[:20]} not found for this account")
    _advance(state, account, order)
    return order


def _account_and_body(
    state: SandboxState, request: Request, token: Token, account_hash: str
) -> tuple[Account, dict[str, Any], Security | None] | Response:
    """The caller's account and a valid order body, or Schwab's answer why not (call under the lock)."""
    account = account_for(state, token, account_hash)
    if isinstance(account, Response):
        return account
    checked = _checked_body(state, request)
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
        _cancel_tree(state, account, order)  # a bracket's entry takes what it would place with it
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
        checked = _checked_body(state, request)
        if isinstance(checked, Response):
            return checked
        original.update({"status": "REPLACED", "cancelable": False, "editable": False})
        announce(state, account, original, activity.REPLACED)
        order = _new_order(state, account, *checked)
    return Response.empty(201, [("Location", _location(state, request, account_hash, order))])


def preview(state: SandboxState, request: Request, token: Token, account_hash: str) -> Response:
    with state.lock:
        found = _account_and_body(state, request, token, account_hash)
        if isinstance(found, Response):
            return found
        account, order, security = found
        if security is None:
            return service_error(400, "The sandbox previews orders with legs (an OCO's are its children's)")
        price = price_at(security, state.now())
        securities_now = [price_at(found, state.now()) for found in _securities_of(state, order) if found]
    leg = order["orderLegCollection"][0]
    legs = order["orderLegCollection"]
    limit = order.get("price")
    if len(legs) > 1:  # a spread: its count, at its net price (or the market's)
        quantity = Decimal(str(order["quantity"]))
        signs = [1 if item["instruction"] in BUYS else -1 for item in legs]
        market = sum(
            (sign * Decimal(str(item["quantity"])) / quantity * leg_price
             for sign, item, leg_price in zip(signs, legs, securities_now, strict=True)),
            Decimal(0),
        )  # fmt: skip
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
    return Response.json(
        {
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
                    for number, (item, leg_price) in enumerate(
                        zip(legs, securities_now, strict=True), start=1
                    )
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
                    "commissionLegs": [
                        {"commissionValues": [{"value": float(commission), "type": "COMMISSION"}]}
                    ]
                },
                "fee": {"feeLegs": [{"feeValues": [{"value": float(fee), "type": "OPT_REG_FEE"}]}]},
                "trueCommission": {"commissionLegs": []},
            },
        }
    )


def _list(state: SandboxState, request: Request, accounts: list[Account]) -> Response:
    start, end = _parse_time(request.arg("fromEnteredTime")), _parse_time(request.arg("toEnteredTime"))
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
        _advance(state, account, order)
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
        start, end = _parse_time(request.arg("startDate")), _parse_time(request.arg("endDate"))
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
