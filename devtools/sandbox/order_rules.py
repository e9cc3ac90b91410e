"""What the sandbox accepts as an order (schwab-api.md 5 and 5a), answered as Schwab's 400 naming every
problem: a single order of one leg, a spread of two to four option legs at a net price, an OCO of two
orders, a TRIGGER and the order it places (nested at most three deep), trailing stops with sensible
offsets; and every symbol it knows (what its users hold, the common equities and ETFs, their options).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from devtools.sandbox.book import EQUITIES, ETFS, Security
from devtools.sandbox.execution import BUYS, NET, SELLS, STOPS, TRAILING
from devtools.sandbox.http import Request, Response, service_error
from devtools.sandbox.state import SandboxState

ORDER_TYPES = {"MARKET", "LIMIT", *STOPS, *NET}


MAX_LEGS = 4


DURATIONS = {"DAY", "GOOD_TILL_CANCEL", "FILL_OR_KILL", "IMMEDIATE_OR_CANCEL"}


SESSIONS = {"NORMAL", "AM", "PM", "SEAMLESS"}


STRATEGIES = {"SINGLE", "OCO", "TRIGGER"}


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


def validate(state: SandboxState, body: Any) -> tuple[dict[str, Any], Security | None] | Response:
    """The order as placed, with its security (None for an OCO, whose children carry the legs), or
    Schwab's answer naming every problem."""
    if not isinstance(body, dict):
        return service_error(
            400, "A validation error occurred while processing the request.", "Body must be an order"
        )
    problems = _problems(state, body, depth=0)
    if problems:
        return service_error(400, "A validation error occurred while processing the request.", *problems)
    return body, security_of(state, body)


def security_of(state: SandboxState, body: dict[str, Any]) -> Security | None:
    """The first leg's security (a single order's only one); None for an OCO, which has no legs."""
    found = securities_of(state, body)
    return found[0] if found else None


def securities_of(state: SandboxState, body: dict[str, Any]) -> list[Security | None]:
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
    for index, (leg, security) in enumerate(zip(legs, securities_of(state, body), strict=True)):
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


def checked_body(state: SandboxState, request: Request) -> tuple[dict[str, Any], Security | None] | Response:
    try:
        body = request.json()
    except ValueError:
        return service_error(
            400, "A validation error occurred while processing the request.", "Malformed JSON"
        )
    return validate(state, body)


TRAIL_BASES = {"LAST", "BID", "ASK", "MARK"}


TRAIL_TYPES = {"VALUE", "PERCENT"}


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
