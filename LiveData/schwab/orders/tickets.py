"""Thor's order ticket: validated before anything reaches Schwab (`parse`: a TicketInvalid names every bad
field). Pure: a dict in (the body as `ticket_body` read it), one of the ticket kinds out; `schwab_orders`
then writes it as Schwab's order JSON.

    {"asset": "equity", "symbol": "AAPL", "instruction": "buy", "quantity": 10,
     "order_type": "limit", "limit_price": "150.00", "duration": "day", "session": "normal"}
    {"asset": "option", "symbol": "SPY   261218P00505000", "instruction": "buy_to_open", "quantity": 1,
     "order_type": "limit", "limit_price": "4.15"}
    {"symbol": "AAPL", "instruction": "sell", "quantity": 10, "order_type": "trailing_stop",
     "trail_offset": "2.50", "trail_type": "amount", "trail_basis": "last"}
    {"strategy": "bracket", "symbol": "AAPL", "instruction": "buy", "quantity": 10, "order_type": "limit",
     "limit_price": "150.00", "take_profit": "160.00", "stop_loss": "140.00"}
    {"strategy": "oco", "orders": [{...a single order...}, {...another...}]}
    {"strategy": "trigger", "orders": [{...the first...}, {...placed when the first fills...}]}
    {"strategy": "vertical", ...}: an option spread (`spread_tickets`)

A bracket is an entry (market or limit; a buy, or a short sale) that, once filled, places a take-profit
limit and a protective stop for the same quantity, either of which cancels the other: Schwab's TRIGGER of
an OCO (schwab-api.md 5a). A trailing stop's stop follows the basis price by the offset (dollars on the
cent, or a percentage over 0 and under 100) in the trader's favour only, and becomes a market order when
the price reaches it; a trailing stop-limit becomes a limit order `limit_offset` dollars past it.
Every kind answers `symbols` (what it trades), `worst_case(prices)` (the notional cap's measure) and
`as_json()` (the normalized ticket, audited and compared for idempotency).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from LiveData.schwab.exceptions import TicketInvalid
from LiveData.schwab.orders import spread_tickets
from LiveData.schwab.orders.spread_tickets import Spread
from LiveData.schwab.orders.ticket_body import NOT_JSON, check_size
from LiveData.schwab.orders.ticket_fields import (
    EQUITY_INSTRUCTIONS,
    EQUITY_SYMBOL,
    MAX_QUANTITY,
    OCC_SYMBOL,
    OPTION_INSTRUCTIONS,
    OPTION_MULTIPLIER,
    cents,
    duration_and_session,
    one_of,
    price,
    quantity,
    unknown_fields,
)

ORDER_TYPES = {
    "equity": ("market", "limit", "stop", "stop_limit", "trailing_stop", "trailing_stop_limit"),
    "option": ("market", "limit"),
}
TRAILING = ("trailing_stop", "trailing_stop_limit")
TRAIL_TYPES = {"amount": "VALUE", "percent": "PERCENT"}
TRAIL_BASES = {"last": "LAST", "bid": "BID", "ask": "ASK", "mark": "MARK"}
PLAIN_PERCENT = re.compile(r"\d{1,2}(\.\d{1,2})?", re.ASCII)
FIELDS = {
    "asset",
    "symbol",
    "instruction",
    "quantity",
    "order_type",
    "limit_price",
    "stop_price",
    "duration",
    "session",
    "trail_offset",
    "trail_type",
    "trail_basis",
    "limit_offset",
    "strategy",
    "take_profit",
    "stop_loss",
}
TRAIL_FIELDS = ("trail_offset", "trail_type", "trail_basis")
LINKED = ("oco", "trigger")  # two orders: either cancels the other; the first's fill places the second
STRATEGIES = ("single", "bracket", *LINKED, *spread_tickets.STRATEGIES)
BRACKET_FIELDS = ("take_profit", "stop_loss")
BRACKET_ENTRIES = {"buy": "sell", "sell_short": "buy_to_cover"}  # the entry -> how its exits close it


@dataclass(frozen=True)
class Ticket:
    """One order (or a bracket: one entry and its two exits, all of one symbol)."""

    asset: str
    symbol: str
    instruction: str
    quantity: int
    order_type: str
    limit_price: Decimal | None
    stop_price: Decimal | None
    duration: str
    session: str
    trail_offset: Decimal | None = None
    trail_type: str | None = None  # "amount" or "percent"; with trail_basis, only on trailing stops
    trail_basis: str | None = None
    limit_offset: Decimal | None = None  # a trailing stop-limit's limit, this far past its stop
    strategy: str = "single"
    take_profit: Decimal | None = None  # a bracket's exits: a limit on the profitable side ...
    stop_loss: Decimal | None = None  # ... and a stop on the other

    @property
    def multiplier(self) -> Decimal:
        return OPTION_MULTIPLIER if self.asset == "option" else Decimal(1)

    @property
    def is_buy(self) -> bool:
        return self.instruction.startswith("buy")

    @property
    def symbols(self) -> tuple[str, ...]:
        return (self.symbol,)

    @property
    def replaceable(self) -> bool:
        return self.strategy == "single"  # a bracket is cancelled and placed anew, never half-replaced

    def worst_case(self, prices: Mapping[str, Decimal | None]) -> Decimal | None:
        return self.notional(prices.get(self.symbol))

    def notional(self, market_price: Decimal | None) -> Decimal | None:
        """quantity x multiplier x the highest of the order's prices and the market price: what the order
        may cost or commit at worst (a sell limit far below the market still fills at the market). None
        without a market price: never a guess."""
        if market_price is None:
            return None
        # A bracket's worst case is over its exits too (a short's stop buys back above the entry).
        own = (self.limit_price, self.stop_price, self.take_profit, self.stop_loss)
        prices = [price for price in own if price is not None]
        if self.trail_offset is not None and self.is_buy:  # a buy stop trails above the price it follows
            step = (
                market_price * self.trail_offset / 100 if self.trail_type == "percent" else self.trail_offset
            )
            prices.append(market_price + step + (self.limit_offset or 0))
        return self.quantity * max([market_price, *prices]) * self.multiplier

    def as_json(self) -> dict[str, Any]:
        """The normalized ticket, as stored in the audit trail and compared for idempotency."""
        return {
            "asset": self.asset,
            "symbol": self.symbol,
            "instruction": self.instruction,
            "quantity": self.quantity,
            "order_type": self.order_type,
            "limit_price": None if self.limit_price is None else str(self.limit_price),
            "stop_price": None if self.stop_price is None else str(self.stop_price),
            "duration": self.duration,
            "session": self.session,
            # Only on trailing stops and brackets: other tickets' normalized form (and idempotency) is as
            # it was.
            **(
                {
                    "trail_offset": str(self.trail_offset),
                    "trail_type": self.trail_type,
                    "trail_basis": self.trail_basis,
                }
                if self.trail_offset is not None
                else {}
            ),
            **({"limit_offset": str(self.limit_offset)} if self.limit_offset is not None else {}),
            **(
                {
                    "strategy": self.strategy,
                    "take_profit": str(self.take_profit),
                    "stop_loss": str(self.stop_loss),
                }
                if self.strategy == "bracket"
                else {}
            ),
        }


@dataclass(frozen=True)
class Linked:
    """Two single orders linked: an OCO (either filling cancels the other) or a trigger (the first's fill
    places the second)."""

    strategy: str
    orders: tuple[Ticket, Ticket]
    replaceable = False  # Schwab replaces one order, not a link between two

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(order.symbol for order in self.orders))

    def worst_case(self, prices: Mapping[str, Decimal | None]) -> Decimal | None:
        """An OCO's larger order (only one fills); a trigger's two together, unless the second closes
        what the first opened (the same symbol, the other side): then the larger."""
        first, second = self.orders
        one, other = first.worst_case(prices), second.worst_case(prices)
        if one is None or other is None:
            return None
        closes = first.symbol == second.symbol and first.is_buy != second.is_buy
        return max(one, other) if self.strategy == "oco" or closes else one + other

    def as_json(self) -> dict[str, Any]:
        return {"strategy": self.strategy, "orders": [order.as_json() for order in self.orders]}


OrderTicket = Ticket | Linked | Spread


def parse(data: Any) -> OrderTicket:
    """Validate a ticket from the client, whatever its kind; TicketInvalid names every bad field."""
    check_size(data)
    if data is NOT_JSON:
        raise TicketInvalid(fields={"ticket": "Send the order ticket as JSON."})
    if not isinstance(data, dict):
        raise TicketInvalid(fields={"ticket": "Send the order ticket as a JSON object."})
    strategy = data.get("strategy", "single")
    if one_of(strategy, spread_tickets.STRATEGIES):
        return spread_tickets.parse(data)
    if one_of(strategy, LINKED):
        return _linked(data)
    return _order(data)


def _linked(data: dict[str, Any]) -> Linked:
    problems: dict[str, str] = {}
    unknown_fields(data, {"strategy", "orders"}, problems)
    orders = data.get("orders")
    if not isinstance(orders, list) or len(orders) != 2:
        problems["orders"] = "Two orders: " + (
            "either filling cancels the other."
            if data["strategy"] == "oco"
            else "the first places the second."
        )
        raise TicketInvalid(fields=problems)
    parsed = []
    for index, order in enumerate(orders):
        if isinstance(order, dict) and order.get("strategy", "single") != "single":
            problems[f"orders.{index}.strategy"] = "Each of the two is a single order."
            continue
        try:
            parsed.append(_order(order if isinstance(order, dict) else None))
        except TicketInvalid as refused:
            problems.update({f"orders.{index}.{name}": text for name, text in refused.fields.items()})
    if problems:
        raise TicketInvalid(fields=problems)
    return Linked(data["strategy"], (parsed[0], parsed[1]))


def _order(data: dict[str, Any] | None) -> Ticket:
    """A single order, or a bracket."""
    if data is None:
        raise TicketInvalid(fields={"ticket": "Send the order as a JSON object."})
    problems: dict[str, str] = {}
    unknown_fields(data, FIELDS, problems)
    asset = data.get("asset", "equity")
    if not one_of(asset, ORDER_TYPES):
        problems["asset"] = "One of: equity, option."
        asset = "equity"
    symbol = data.get("symbol")
    if isinstance(symbol, str) and asset == "equity":
        symbol = symbol.strip().upper()
    pattern = OCC_SYMBOL if asset == "option" else EQUITY_SYMBOL
    if not isinstance(symbol, str) or not pattern.fullmatch(symbol):
        problems["symbol"] = (
            'An OCC option symbol, e.g. "SPY   261218P00505000".'
            if asset == "option"
            else "A ticker, e.g. AAPL."
        )
    instructions = OPTION_INSTRUCTIONS if asset == "option" else EQUITY_INSTRUCTIONS
    instruction = data.get("instruction")
    if not one_of(instruction, instructions):
        problems["instruction"] = "One of: " + ", ".join(instructions) + "."
    count = quantity(data.get("quantity"), MAX_QUANTITY[asset], problems)
    order_type = data.get("order_type", "limit")
    if not one_of(order_type, ORDER_TYPES[asset]):
        problems["order_type"] = "One of: " + ", ".join(ORDER_TYPES[asset]) + "."
    limit_price = stop_price = None
    if order_type in ("limit", "stop_limit"):
        limit_price = price(data.get("limit_price"), "limit_price", problems)
    elif data.get("limit_price") not in (None, "") and "order_type" not in problems:
        problems["limit_price"] = "Only for limit and stop-limit orders."
    if order_type in ("stop", "stop_limit"):
        stop_price = price(data.get("stop_price"), "stop_price", problems)
    elif data.get("stop_price") not in (None, "") and "order_type" not in problems:
        problems["stop_price"] = "Only for stop and stop-limit orders."
    trail = _trail(data, order_type, problems)
    bracket = _bracket(data, asset, instruction, order_type, limit_price, problems)
    duration, session = duration_and_session(data, problems)
    if problems:
        raise TicketInvalid(fields=problems)
    return Ticket(
        asset=asset,
        symbol=str(symbol),
        instruction=instruction,  # type: ignore[arg-type]
        quantity=count,  # type: ignore[arg-type]
        order_type=order_type,
        limit_price=limit_price,
        stop_price=stop_price,
        duration=duration,
        session=session,
        **trail,
        **bracket,
    )


def _trail(data: dict[str, Any], order_type: Any, problems: dict[str, str]) -> dict[str, Any]:
    """A trailing stop's offset, its type and the price it follows (and a trailing stop-limit's limit
    offset); refused on any other order."""
    if order_type not in TRAILING:
        if "order_type" not in problems:
            for name in (*TRAIL_FIELDS, "limit_offset"):
                if data.get(name) not in (None, ""):
                    problems[name] = "Only for trailing stops."
        return {}
    trail_type = data.get("trail_type", "amount")
    if not one_of(trail_type, TRAIL_TYPES):
        problems["trail_type"] = "One of: amount, percent."
    trail_basis = data.get("trail_basis", "last")
    if not one_of(trail_basis, TRAIL_BASES):
        problems["trail_basis"] = "One of: " + ", ".join(TRAIL_BASES) + "."
    raw = data.get("trail_offset")
    offset = None
    if trail_type == "percent":
        text = str(raw).strip() if isinstance(raw, str | int | Decimal) and not isinstance(raw, bool) else ""
        if not PLAIN_PERCENT.fullmatch(text) or not 0 < Decimal(text) < 100:
            problems["trail_offset"] = 'A percentage over 0 and under 100, e.g. "2.5".'
        else:
            offset = Decimal(text)
    else:
        offset = cents(raw, "trail_offset", problems)
    limit_offset = None
    if order_type == "trailing_stop_limit":
        limit_offset = cents(data.get("limit_offset"), "limit_offset", problems)
    elif data.get("limit_offset") not in (None, ""):
        problems["limit_offset"] = "Only for trailing stop-limits."
    return {
        "trail_offset": offset,
        "trail_type": trail_type,
        "trail_basis": trail_basis,
        "limit_offset": limit_offset,
    }


def _bracket(
    data: dict[str, Any],
    asset: str,
    instruction: Any,
    order_type: Any,
    limit_price: Decimal | None,
    problems: dict[str, str],
) -> dict[str, Any]:
    """A bracket's two exit prices, on the right sides of the entry; refused on a single order."""
    strategy = data.get("strategy", "single")
    if not one_of(strategy, ("single", "bracket")):
        problems["strategy"] = "One of: " + ", ".join(STRATEGIES) + "."
        return {}
    if strategy == "single":
        for name in BRACKET_FIELDS:
            if data.get(name) not in (None, ""):
                problems[name] = "Only for brackets."
        return {}
    if asset != "equity":
        problems["strategy"] = "Brackets are for stocks."
    if instruction not in BRACKET_ENTRIES:
        problems["instruction"] = "A bracket enters with buy or sell_short."
    if order_type not in ("market", "limit"):
        problems["order_type"] = "A bracket enters with a market or limit order."
    take_profit = price(data.get("take_profit"), "take_profit", problems)
    stop_loss = price(data.get("stop_loss"), "stop_loss", problems)
    if take_profit is not None and stop_loss is not None and instruction in BRACKET_ENTRIES:
        buying = instruction == "buy"
        # A long profits above its entry and is protected below it; a short the other way round.
        if (take_profit <= stop_loss) if buying else (take_profit >= stop_loss):
            problems["take_profit"] = (
                "Above the stop loss for a buy." if buying else "Below the stop loss for a short."
            )
        elif limit_price is not None and (
            (take_profit <= limit_price) if buying else (take_profit >= limit_price)
        ):
            problems["take_profit"] = "Above the entry's limit price for a buy, below it for a short."
        elif limit_price is not None and (
            (stop_loss >= limit_price) if buying else (stop_loss <= limit_price)
        ):
            problems["stop_loss"] = "Below the entry's limit price for a buy, above it for a short."
    return {"strategy": "bracket", "take_profit": take_profit, "stop_loss": stop_loss}
