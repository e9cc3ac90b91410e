"""How working orders meet the sandbox's moving market, as Schwab's would (schwab-api.md 5 and 5a).

MARKET orders fill at once at the current price. LIMIT orders are WORKING until the price crosses the
limit (checked whenever an order is read, and at the streamer's ticks), and fill at the price then, never
worse than the limit. STOP, STOP_LIMIT, TRAILING_STOP and TRAILING_STOP_LIMIT orders follow the price step
by step since they were last looked at (PRICE_STEP_SECONDS), so a crossing between two reads is not missed:
a stop triggers when the price reaches it and fills at that step's price (a stop-limit then works as a
limit); a trailing stop's stop follows the price by its offset (`stopPriceOffset`, VALUE or PERCENT, on the
`stopPriceLinkBasis` price: BID and ASK a tick either side) in the favourable direction only, and is shown
as the order's `stopPrice` (inferred); a trailing stop-limit's limit is set `priceOffset` past the stop as
it triggers. A spread (several option legs, NET_DEBIT or NET_CREDIT at a net price per spread) fills as one
when the legs' net reaches its price, each leg at its own price. A TRIGGER's fill places its child; an
OCO's fill cancels the other; cancelling a parent cancels what it would still place. Fills move the
account's holdings and cash and record a TRADE transaction; every change goes out on the streamer.
Call everything here under the state's lock.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from devtools.sandbox import activity
from devtools.sandbox.book import CENT, PRICE_STEP_SECONDS, Account, Holding, Security, price_at
from devtools.sandbox.state import SandboxState

STOPS = {"STOP", "STOP_LIMIT", "TRAILING_STOP", "TRAILING_STOP_LIMIT"}


TRAILING = {"TRAILING_STOP", "TRAILING_STOP_LIMIT"}


NET = {"NET_DEBIT", "NET_CREDIT"}  # a spread's price: what one spread costs, or brings in


BUYS = {"BUY", "BUY_TO_OPEN", "BUY_TO_CLOSE", "BUY_TO_COVER"}


SELLS = {"SELL", "SELL_TO_OPEN", "SELL_TO_CLOSE", "SELL_SHORT"}


OPEN_STATUSES = {"WORKING", "QUEUED", "ACCEPTED", "PENDING_ACTIVATION", "AWAITING_PARENT_ORDER"}


TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%z"


def schwab_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S+0000")


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    for fmt in ("%Y-%m-%dT%H:%M:%S.%f%z", TIME_FORMAT):
        try:
            return datetime.strptime(value.replace("Z", "+0000"), fmt)
        except ValueError:
            continue
    return None


def _activate(state: SandboxState, account: Account, order: dict[str, Any]) -> None:
    """A TRIGGER filled: its child (an OCO: both of them) starts working."""
    order.update(
        {"status": "WORKING", "editable": "_security" in order, "enteredTime": schwab_time(state.now())}
    )
    if "_security" in order:
        announce(state, account, order, activity.PLACED)
    for child in order.get("childOrderStrategies", []):
        if order["orderStrategyType"] == "OCO":
            _activate(state, account, child)
    for child in [order, *order.get("childOrderStrategies", [])]:
        advance(state, account, child)


def _after_fill(state: SandboxState, account: Account, order: dict[str, Any]) -> None:
    """A whole fill places a TRIGGER's child, and cancels the other order of an OCO."""
    if order.get("orderStrategyType") == "TRIGGER":
        for child in order.get("childOrderStrategies", []):
            _activate(state, account, child)
    parent = order.get("_parent")
    if parent is not None and parent.get("orderStrategyType") == "OCO":
        for sibling in parent["childOrderStrategies"]:
            if sibling is not order:
                cancel_tree(state, account, sibling)
        parent.update({"status": "FILLED", "cancelable": False, "closeTime": schwab_time(state.now())})


def cancel_tree(state: SandboxState, account: Account, order: dict[str, Any]) -> None:
    """Cancel an open order and whatever it would still place (a TRIGGER's child, an OCO's two)."""
    if order["status"] in OPEN_STATUSES:
        order.update(
            {
                "status": "CANCELED",
                "cancelable": False,
                "editable": False,
                "closeTime": schwab_time(state.now()),
            }
        )
        if "_security" in order:
            announce(state, account, order, activity.CANCELED)
    for child in order.get("childOrderStrategies", []):
        cancel_tree(state, account, child)


MAX_STEPS = 20_000  # how far back a stop follows the price (about 28 hours of steps)


def instrument_id(security: Security) -> int:
    return int.from_bytes(security.symbol.encode()[:6].ljust(6, b"\0"), "big") % 1_000_000_000


def advance(state: SandboxState, account: Account, order: dict[str, Any]) -> None:
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


def net_price(order: dict[str, Any], when: datetime, securities: list[Security] | None = None) -> Decimal:
    """What one spread costs at the market now (negative: what it brings in); `securities` are its legs'
    (a booked order's own by default)."""
    prices = _leg_prices(order, when, securities)
    return sum((price * ratio for price, ratio in zip(prices, _ratios(order), strict=True)), Decimal(0))


def _leg_prices(
    order: dict[str, Any], when: datetime, securities: list[Security] | None = None
) -> list[Decimal]:
    """Each leg's market price, signed: paid for a buy, received for a sale."""
    return [
        price_at(security, when) * (1 if leg["instruction"] in BUYS else -1)
        for leg, security in zip(order["orderLegCollection"], securities or order["_securities"], strict=True)
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
    seen = order.get("_seen_at") or parse_time(order["enteredTime"]) or now
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
    now = schwab_time(state.now())
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
            "closeTime": schwab_time(state.now()),
        }
    )
    announce(state, account, order, activity.REJECTED)


def advance_all(state: SandboxState) -> None:
    """The market moves: fill every working order whose price condition is met (the streamer's tick)."""
    with state.lock:
        for order in list(state.orders.values()):
            if order["status"] == "WORKING":
                advance(state, state.accounts_by_hash[order["_hash"]][1], order)


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
                "instrumentId": instrument_id(security),
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
        "positionId": instrument_id(executions[0][1]),
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
