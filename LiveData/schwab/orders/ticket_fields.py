"""The fields every kind of order ticket shares, each checked the same way: Schwab's names for them, and
checks that add a plain-language problem per bad field instead of raising, so one refusal names them all.

Prices are Decimal from the text the client sent, in plain decimal notation (no exponent), on Schwab's
ticks (0.01 at $1 and above, 0.0001 below).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

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
DURATIONS = {"day": "DAY", "good_till_cancel": "GOOD_TILL_CANCEL", "fill_or_kill": "FILL_OR_KILL"}
SESSIONS = {"normal": "NORMAL", "am": "AM", "pm": "PM", "seamless": "SEAMLESS"}
MAX_QUANTITY = {"equity": 1_000_000, "option": 10_000}
MAX_PRICE = Decimal("1000000")
CENT = Decimal("0.01")
OPTION_MULTIPLIER = Decimal(100)
# Plain decimal text only: an exponent ("1E-999999999") is no price a trader types, and its arithmetic
# is unbounded. Up to 7 integer digits (MAX_PRICE) and 8 decimals (the tick check then decides).
PLAIN_DECIMAL = re.compile(r"\d{1,7}(\.\d{1,8})?", re.ASCII)
WHOLE_NUMBER = re.compile(r"\d{1,9}", re.ASCII)  # ASCII: "²".isdigit() is True, and int("²") fails
FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,39}", re.ASCII)  # what a refusal may name back
EQUITY_SYMBOL = re.compile(r"^[A-Z][A-Z0-9.\-/]{0,9}$")
# OCC: the root padded to six, then expiry (yymmdd), C or P, and the strike in thousandths.
OCC_SYMBOL = re.compile(r"^([A-Z0-9]{1,6}) {0,5}(\d{6})([CP])(\d{8})$")


def one_of(value: Any, allowed: Any) -> bool:
    return isinstance(value, str) and value in allowed


def unknown_fields(data: dict[str, Any], known: set[str], problems: dict[str, str]) -> None:
    """Name the fields that are not the ticket's (a few, and only names worth repeating back)."""
    unknown = sorted(set(data) - known)
    named = [name for name in unknown if FIELD_NAME.fullmatch(name)][:10]
    for name in named:
        problems[name] = "Not a ticket field."
    if len(named) < len(unknown):  # names not worth repeating (odd characters, or too many)
        problems["ticket"] = "Has fields that are not ticket fields."


def price(raw: Any, name: str, problems: dict[str, str]) -> Decimal | None:
    """A price on Schwab's ticks, or None with the problem named."""
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
    value = Decimal(text)
    if value <= 0:
        problems[name] = "Must be greater than zero."
    elif value > MAX_PRICE:
        problems[name] = f"Must be at most {MAX_PRICE}."
    elif value % (CENT if value >= 1 else Decimal("0.0001")) != 0:
        problems[name] = "Off tick: use steps of 0.01 at $1 and above, 0.0001 below."
    else:
        return value
    return None


def cents(raw: Any, name: str, problems: dict[str, str]) -> Decimal | None:
    """Dollars and cents (an offset, or a spread's net price), or None with the problem named."""
    value = price(raw, name, problems)
    if value is not None and value % CENT != 0:
        problems[name] = 'Dollars and cents, e.g. "2.50".'
        return None
    return value


def quantity(raw: Any, maximum: int, problems: dict[str, str], name: str = "quantity") -> int | None:
    if isinstance(raw, str) and WHOLE_NUMBER.fullmatch(raw):
        raw = int(raw)
    if not isinstance(raw, int) or isinstance(raw, bool):
        problems[name] = "Whole shares or contracts, as an integer."
    elif not 1 <= raw <= maximum:
        problems[name] = f"From 1 to {maximum:,}."
    else:
        return raw
    return None


def duration_and_session(data: dict[str, Any], problems: dict[str, str]) -> tuple[str, str]:
    duration = data.get("duration", "day")
    if not one_of(duration, DURATIONS):
        problems["duration"] = "One of: " + ", ".join(DURATIONS) + "."
    session = data.get("session", "normal")
    if not one_of(session, SESSIONS):
        problems["session"] = "One of: " + ", ".join(SESSIONS) + "."
    return duration, session
