"""Thor's order ticket: validated before anything reaches Schwab, then translated to Schwab's order JSON.

Pure: a dict in (the body as `ticket_body` read it), a `Ticket` (or TicketInvalid naming every bad field)
out; a Ticket in, Schwab's order document out. Prices are Decimal from the text the client sent, in plain
decimal notation (no exponent), checked against Schwab's tick rules (0.01 at $1 and above, 0.0001 below)
and written back as exact decimal strings.

    {"asset": "equity", "symbol": "AAPL", "instruction": "buy", "quantity": 10,
     "order_type": "limit", "limit_price": "150.00", "duration": "day", "session": "normal"}
    {"asset": "option", "symbol": "SPY   261218P00505000", "instruction": "buy_to_open", "quantity": 1,
     "order_type": "limit", "limit_price": "4.15"}
    {"symbol": "AAPL", "instruction": "sell", "quantity": 10, "order_type": "trailing_stop",
     "trail_offset": "2.50", "trail_type": "amount", "trail_basis": "last"}
    {"strategy": "bracket", "symbol": "AAPL", "instruction": "buy", "quantity": 10, "order_type": "limit",
     "limit_price": "150.00", "take_profit": "160.00", "stop_loss": "140.00"}

A bracket is an entry (market or limit; a buy, or a short sale) that, once filled, places a take-profit
limit and a protective stop for the same quantity, either of which cancels the other: Schwab's TRIGGER of
an OCO (schwab-api.md 5a). A trailing stop's stop follows the basis price by the offset (dollars on the
cent, or a percentage over 0 and under 100) in the trader's favour only, and becomes a market order when
the price reaches it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from LiveData.schwab.exceptions import TicketInvalid
from LiveData.schwab.orders.ticket_body import NOT_JSON, check_size

EQUITY_INSTRUCTIONS = {
    "buy": "BUY",
    "sell": "SELL",
    "sell_short": "SELL_SHORT",
    "buy_to_cover": "BUY_TO_COVER",
}
OPTION_INSTRUCTIONS = {
    "buy_to_open": "BUY_TO_OPEN",
    "sell_to_open": "SELL_TO_OPEN",
    "buy_to_close": "BUY_TO_CLOSE",
    "sell_to_close": "SELL_TO_CLOSE",
}
ORDER_TYPES = {
    "equity": ("market", "limit", "stop", "stop_limit", "trailing_stop"),
    "option": ("market", "limit"),
}
TRAIL_TYPES = {"amount": "VALUE", "percent": "PERCENT"}
TRAIL_BASES = {"last": "LAST", "bid": "BID", "ask": "ASK", "mark": "MARK"}
PLAIN_PERCENT = re.compile(r"\d{1,2}(\.\d{1,2})?", re.ASCII)
DURATIONS = {"day": "DAY", "good_till_cancel": "GOOD_TILL_CANCEL", "fill_or_kill": "FILL_OR_KILL"}
SESSIONS = {"normal": "NORMAL", "am": "AM", "pm": "PM", "seamless": "SEAMLESS"}
MAX_QUANTITY = {"equity": 1_000_000, "option": 10_000}
MAX_PRICE = Decimal("1000000")
# Plain decimal text only: an exponent ("1E-999999999") is no price a trader types, and its arithmetic
# is unbounded. Up to 7 integer digits (MAX_PRICE) and 8 decimals (the tick check then decides).
PLAIN_DECIMAL = re.compile(r"\d{1,7}(\.\d{1,8})?", re.ASCII)
WHOLE_NUMBER = re.compile(r"\d{1,9}", re.ASCII)  # ASCII: "²".isdigit() is True, and int("²") fails
FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,39}", re.ASCII)  # what a refusal may name back
OPTION_MULTIPLIER = Decimal(100)
EQUITY_SYMBOL = re.compile(r"^[A-Z][A-Z0-9.\-/]{0,9}$")
OCC_SYMBOL = re.compile(r"^[A-Z0-9]{1,6} {0,5}\d{6}[CP]\d{8}$")
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
    "strategy",
    "take_profit",
    "stop_loss",
}
TRAIL_FIELDS = ("trail_offset", "trail_type", "trail_basis")
STRATEGIES = ("single", "bracket")
BRACKET_FIELDS = ("take_profit", "stop_loss")
BRACKET_ENTRIES = {"buy": "sell", "sell_short": "buy_to_cover"}  # the entry -> how its exits close it


@dataclass(frozen=True)
class Ticket:
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
    strategy: str = "single"
    take_profit: Decimal | None = None  # a bracket's exits: a limit on the profitable side ...
    stop_loss: Decimal | None = None  # ... and a stop on the other

    @property
    def multiplier(self) -> Decimal:
        return OPTION_MULTIPLIER if self.asset == "option" else Decimal(1)

    @property
    def is_buy(self) -> bool:
        return self.instruction.startswith("buy")

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
            prices.append(market_price + step)
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


def _price(raw: Any, name: str, problems: dict[str, str]) -> Decimal | None:
    if raw is None or raw == "":
        problems[name] = "Required for this order type."
        return None
    if isinstance(raw, bool) or not isinstance(raw, str | int | Decimal):  # Decimal: parsed from JSON text
        problems[name] = 'Send the price as a decimal string, e.g. "150.25".'
        return None
    text = str(raw).strip()
    if not PLAIN_DECIMAL.fullmatch(text):
        problems[name] = 'A plain decimal number, e.g. "150.25" (no exponent, at most 1,000,000).'
        return None
    price = Decimal(text)
    if price <= 0:
        problems[name] = "Must be greater than zero."
    elif price > MAX_PRICE:
        problems[name] = f"Must be at most {MAX_PRICE}."
    elif price % (Decimal("0.01") if price >= 1 else Decimal("0.0001")) != 0:
        problems[name] = "Off tick: use steps of 0.01 at $1 and above, 0.0001 below."
    else:
        return price
    return None


def _one_of(value: Any, allowed: Any) -> bool:
    return isinstance(value, str) and value in allowed


def parse(data: Any) -> Ticket:
    """Validate a ticket from the client; TicketInvalid names every bad field."""
    check_size(data)
    if data is NOT_JSON:
        raise TicketInvalid(fields={"ticket": "Send the order ticket as JSON."})
    if not isinstance(data, dict):
        raise TicketInvalid(fields={"ticket": "Send the order ticket as a JSON object."})
    problems: dict[str, str] = {}
    unknown = sorted(set(data) - FIELDS)
    named = [name for name in unknown if FIELD_NAME.fullmatch(name)][:10]
    for name in named:
        problems[name] = "Not a ticket field."
    if len(named) < len(unknown):  # names not worth repeating (odd characters, or too many)
        problems["ticket"] = "Has fields that are not ticket fields."
    asset = data.get("asset", "equity")
    if not _one_of(asset, ORDER_TYPES):
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
    if not _one_of(instruction, instructions):
        problems["instruction"] = "One of: " + ", ".join(instructions) + "."
    quantity = data.get("quantity")
    if isinstance(quantity, str) and WHOLE_NUMBER.fullmatch(quantity):
        quantity = int(quantity)
    if not isinstance(quantity, int) or isinstance(quantity, bool):
        problems["quantity"] = "Whole shares or contracts, as an integer."
    elif not 1 <= quantity <= MAX_QUANTITY[asset]:
        problems["quantity"] = f"From 1 to {MAX_QUANTITY[asset]:,}."
    order_type = data.get("order_type", "limit")
    if not _one_of(order_type, ORDER_TYPES[asset]):
        problems["order_type"] = "One of: " + ", ".join(ORDER_TYPES[asset]) + "."
    limit_price = stop_price = None
    if order_type in ("limit", "stop_limit"):
        limit_price = _price(data.get("limit_price"), "limit_price", problems)
    elif data.get("limit_price") not in (None, "") and "order_type" not in problems:
        problems["limit_price"] = "Only for limit and stop-limit orders."
    if order_type in ("stop", "stop_limit"):
        stop_price = _price(data.get("stop_price"), "stop_price", problems)
    elif data.get("stop_price") not in (None, "") and "order_type" not in problems:
        problems["stop_price"] = "Only for stop and stop-limit orders."
    trail = _trail(data, order_type, problems)
    bracket = _bracket(data, asset, instruction, order_type, limit_price, problems)
    duration = data.get("duration", "day")
    if not _one_of(duration, DURATIONS):
        problems["duration"] = "One of: " + ", ".join(DURATIONS) + "."
    session = data.get("session", "normal")
    if not _one_of(session, SESSIONS):
        problems["session"] = "One of: " + ", ".join(SESSIONS) + "."
    if problems:
        raise TicketInvalid(fields=problems)
    return Ticket(
        asset=asset,
        symbol=str(symbol),
        instruction=instruction,  # type: ignore[arg-type]
        quantity=quantity,  # type: ignore[arg-type]
        order_type=order_type,
        limit_price=limit_price,
        stop_price=stop_price,
        duration=duration,
        session=session,
        **trail,
        **bracket,
    )


def _trail(data: dict[str, Any], order_type: Any, problems: dict[str, str]) -> dict[str, Any]:
    """A trailing stop's offset, its type and the price it follows; refused on any other order."""
    if order_type != "trailing_stop":
        if "order_type" not in problems:
            for name in TRAIL_FIELDS:
                if data.get(name) not in (None, ""):
                    problems[name] = "Only for trailing stops."
        return {}
    trail_type = data.get("trail_type", "amount")
    if not _one_of(trail_type, TRAIL_TYPES):
        problems["trail_type"] = "One of: amount, percent."
    trail_basis = data.get("trail_basis", "last")
    if not _one_of(trail_basis, TRAIL_BASES):
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
        offset = _price(raw, "trail_offset", problems)
        if offset is not None and offset % Decimal("0.01") != 0:
            problems["trail_offset"] = 'Dollars and cents, e.g. "2.50".'
            offset = None
    return {"trail_offset": offset, "trail_type": trail_type, "trail_basis": trail_basis}


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
    if not _one_of(strategy, STRATEGIES):
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
    take_profit = _price(data.get("take_profit"), "take_profit", problems)
    stop_loss = _price(data.get("stop_loss"), "stop_loss", problems)
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


def schwab_order(ticket: Ticket) -> dict[str, Any]:
    """The ticket as Schwab's order JSON (schwab-api.md section 5): prices as decimal strings."""
    instruction = (OPTION_INSTRUCTIONS if ticket.asset == "option" else EQUITY_INSTRUCTIONS)[
        ticket.instruction
    ]
    order: dict[str, Any] = {
        "session": SESSIONS[ticket.session],
        "duration": DURATIONS[ticket.duration],
        "orderType": ticket.order_type.upper(),
        "orderStrategyType": "SINGLE",
        "orderLegCollection": [
            {
                "instruction": instruction,
                "quantity": ticket.quantity,
                "instrument": {"symbol": ticket.symbol, "assetType": ticket.asset.upper()},
            }
        ],
    }
    if ticket.limit_price is not None:
        order["price"] = str(ticket.limit_price)
    if ticket.stop_price is not None:
        order["stopPrice"] = str(ticket.stop_price)
    if ticket.trail_offset is not None:  # schwab-api.md 5a: the stop follows the basis by the offset
        order.update(
            {
                "stopPriceLinkBasis": TRAIL_BASES[str(ticket.trail_basis)],
                "stopPriceLinkType": TRAIL_TYPES[str(ticket.trail_type)],
                "stopPriceOffset": str(ticket.trail_offset),
                "stopType": "STANDARD",
            }
        )
    if ticket.strategy == "bracket":
        order["orderStrategyType"] = "TRIGGER"
        order["childOrderStrategies"] = [{"orderStrategyType": "OCO", "childOrderStrategies": _exits(ticket)}]
    return order


def _exits(ticket: Ticket) -> list[dict[str, Any]]:
    """A bracket's take-profit limit and protective stop: the entry's quantity, closing it."""
    instruction = EQUITY_INSTRUCTIONS[BRACKET_ENTRIES[ticket.instruction]]
    instrument = {"symbol": ticket.symbol, "assetType": "EQUITY"}
    legs = [{"instruction": instruction, "quantity": ticket.quantity, "instrument": instrument}]
    common = {
        "session": SESSIONS[ticket.session],
        "duration": DURATIONS[ticket.duration],
        "orderStrategyType": "SINGLE",
    }
    return [
        {**common, "orderType": "LIMIT", "price": str(ticket.take_profit), "orderLegCollection": legs},
        {**common, "orderType": "STOP", "stopPrice": str(ticket.stop_loss), "orderLegCollection": legs},
    ]
