"""An option spread ticket: two to four legs on one underlying, bought or sold as one order at a net price.

    {"strategy": "vertical", "quantity": 2, "order_type": "net_debit", "limit_price": "1.20",
     "legs": [{"symbol": "SPY   261218C00500000", "instruction": "buy_to_open"},
              {"symbol": "SPY   261218C00505000", "instruction": "sell_to_open"}]}

`quantity` counts spreads; each leg trades quantity x its ratio (1 but in a custom spread). The rules
(schwab-api.md 5a), each refusal naming its field:
- every leg an option of the same underlying, each a different contract;
- vertical: the same expiry and type at two strikes, one leg bought and one sold, both opening or both
  closing; paid for (net_debit) when the leg bought is the more valuable one (a call's lower strike, a
  put's higher), else a net_credit;
- straddle: a call and a put of the same expiry and strike, both bought (net_debit) or both sold
  (net_credit); strangle: the same at two strikes;
- custom: two to four legs, in any ratio from 1 to 10.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from LiveData.schwab.exceptions import TicketInvalid
from LiveData.schwab.orders.ticket_fields import (
    MAX_QUANTITY,
    OCC_SYMBOL,
    OPTION_INSTRUCTIONS,
    OPTION_MULTIPLIER,
    cents,
    duration_and_session,
    one_of,
    quantity,
    unknown_fields,
)

STRATEGIES = {"vertical": "VERTICAL", "straddle": "STRADDLE", "strangle": "STRANGLE", "custom": "CUSTOM"}
ORDER_TYPES = {"net_debit": "NET_DEBIT", "net_credit": "NET_CREDIT", "market": "MARKET"}
FIELDS = {"strategy", "asset", "quantity", "order_type", "limit_price", "legs", "duration", "session"}
LEG_FIELDS = {"symbol", "instruction", "ratio"}
MAX_RATIO = 10


@dataclass(frozen=True)
class Contract:
    """An option contract as its OCC symbol names it."""

    underlying: str
    expiry: date
    put_call: str  # "C" or "P"
    strike: Decimal

    @classmethod
    def of(cls, symbol: str) -> Contract | None:
        found = OCC_SYMBOL.fullmatch(symbol)
        if found is None:
            return None
        root, expiry, put_call, strike = found.groups()
        try:
            day = date(2000 + int(expiry[:2]), int(expiry[2:4]), int(expiry[4:]))
        except ValueError:
            return None
        return cls(root, day, put_call, Decimal(strike) / 1000)


@dataclass(frozen=True)
class SpreadLeg:
    symbol: str
    instruction: str
    ratio: int = 1

    @property
    def contract(self) -> Contract:
        contract = Contract.of(self.symbol)
        if contract is None:  # parse checked it
            raise ValueError(f"not an option symbol: {self.symbol!r}")
        return contract

    @property
    def is_buy(self) -> bool:
        return self.instruction.startswith("buy")

    @property
    def opens(self) -> bool:
        return self.instruction.endswith("_to_open")


@dataclass(frozen=True)
class Spread:
    strategy: str
    quantity: int
    order_type: str
    limit_price: Decimal | None  # the net price per spread (per share of the contract, as quoted)
    legs: tuple[SpreadLeg, ...]
    duration: str
    session: str
    replaceable = True  # Schwab replaces a working spread with another

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(leg.symbol for leg in self.legs)

    def worst_case(self, prices: Mapping[str, Decimal | None]) -> Decimal | None:
        """What may change hands at worst: every leg at its highest quote (or the net price, if higher),
        per contract. None while any leg has no price: never a guess."""
        leg_prices = [prices.get(leg.symbol) for leg in self.legs]
        if any(price is None for price in leg_prices):
            return None
        gross = sum(leg.ratio * price for leg, price in zip(self.legs, leg_prices, strict=True) if price)
        return self.quantity * max(gross, self.limit_price or Decimal(0)) * OPTION_MULTIPLIER

    def as_json(self) -> dict[str, Any]:
        """The normalized ticket, as stored in the audit trail and compared for idempotency."""
        return {
            "strategy": self.strategy,
            "quantity": self.quantity,
            "order_type": self.order_type,
            "limit_price": None if self.limit_price is None else str(self.limit_price),
            "legs": [
                {"symbol": leg.symbol, "instruction": leg.instruction, "ratio": leg.ratio}
                for leg in self.legs
            ],
            "duration": self.duration,
            "session": self.session,
        }


def parse(data: dict[str, Any]) -> Spread:
    """Validate a spread ticket; TicketInvalid names every bad field."""
    problems: dict[str, str] = {}
    unknown_fields(data, FIELDS, problems)
    strategy = data["strategy"]
    if data.get("asset", "option") != "option":
        problems["asset"] = "A spread's legs are options."
    count = quantity(data.get("quantity"), MAX_QUANTITY["option"], problems)
    order_type = data.get("order_type", "net_debit")
    limit_price = None
    if not one_of(order_type, ORDER_TYPES):
        problems["order_type"] = "One of: " + ", ".join(ORDER_TYPES) + "."
    elif order_type != "market":
        limit_price = cents(data.get("limit_price"), "limit_price", problems)
    elif data.get("limit_price") not in (None, ""):
        problems["limit_price"] = "Only for net_debit and net_credit orders."
    legs = _legs(data.get("legs"), strategy, problems)
    if legs:
        _check_strategy(strategy, legs, order_type, problems)
    duration, session = duration_and_session(data, problems)
    if problems:
        raise TicketInvalid(fields=problems)
    return Spread(strategy, count, order_type, limit_price, legs, duration, session)  # type: ignore[arg-type]


def _legs(raw: Any, strategy: str, problems: dict[str, str]) -> tuple[SpreadLeg, ...]:
    """The legs, each checked on its own; empty when any is bad (the strategy's rules then wait)."""
    most = 4 if strategy == "custom" else 2
    if not isinstance(raw, list) or not 2 <= len(raw) <= most:
        problems["legs"] = f"A {strategy} has {'2 to 4' if most == 4 else 'two'} legs."
        return ()
    legs, before = [], len(problems)
    for index, leg in enumerate(raw):
        name = f"legs.{index}"
        if not isinstance(leg, dict) or set(leg) - LEG_FIELDS:
            problems[name] = "A leg is an object of symbol, instruction and (in a custom spread) ratio."
            continue
        symbol, instruction, ratio = leg.get("symbol"), leg.get("instruction"), leg.get("ratio", 1)
        if not isinstance(symbol, str) or Contract.of(symbol) is None:
            problems[f"{name}.symbol"] = 'An OCC option symbol, e.g. "SPY   261218P00505000".'
        if not one_of(instruction, OPTION_INSTRUCTIONS):
            problems[f"{name}.instruction"] = "One of: " + ", ".join(OPTION_INSTRUCTIONS) + "."
        if strategy != "custom" and ratio != 1:
            problems[f"{name}.ratio"] = "Only a custom spread's legs have ratios."
        elif isinstance(ratio, bool) or not isinstance(ratio, int) or not 1 <= ratio <= MAX_RATIO:
            problems[f"{name}.ratio"] = f"A whole number from 1 to {MAX_RATIO}."
        legs.append(SpreadLeg(str(symbol), str(instruction), ratio))
    return tuple(legs) if len(problems) == before else ()


def _check_strategy(
    strategy: str, legs: tuple[SpreadLeg, ...], order_type: Any, problems: dict[str, str]
) -> None:
    contracts = [leg.contract for leg in legs]
    if len({contract.underlying for contract in contracts}) > 1:
        problems["legs"] = "All legs on one underlying."
        return
    if len({leg.symbol for leg in legs}) < len(legs):
        problems["legs"] = "Each leg a different contract."
        return
    if strategy == "custom":
        return
    first, second = contracts
    if first.expiry != second.expiry:
        problems["legs"] = f"A {strategy}'s legs expire on the same day."
    elif strategy == "vertical":
        _check_vertical(legs, order_type, problems)
    elif first.put_call == second.put_call:
        problems["legs"] = f"A {strategy} is a call and a put."
    elif strategy == "straddle" and first.strike != second.strike:
        problems["legs"] = "A straddle's strikes are the same."
    elif strategy == "strangle" and first.strike == second.strike:
        problems["legs"] = "A strangle's strikes differ."
    elif legs[0].instruction != legs[1].instruction:
        problems["legs"] = f"A {strategy}'s legs are both bought or both sold, alike."
    elif order_type != "market" and order_type != ("net_debit" if legs[0].is_buy else "net_credit"):
        problems["order_type"] = "Bought, it is a net_debit; sold, a net_credit."


def _check_vertical(legs: tuple[SpreadLeg, ...], order_type: Any, problems: dict[str, str]) -> None:
    first, second = (leg.contract for leg in legs)
    if first.put_call != second.put_call:
        problems["legs"] = "A vertical's legs are both calls or both puts."
    elif first.strike == second.strike:
        problems["legs"] = "A vertical's strikes differ."
    elif legs[0].is_buy == legs[1].is_buy:
        problems["legs"] = "A vertical buys one leg and sells the other."
    elif legs[0].opens != legs[1].opens:
        problems["legs"] = "A vertical's legs both open or both close."
    elif order_type != "market":
        bought = (legs[0] if legs[0].is_buy else legs[1]).contract
        sold = (legs[1] if legs[0].is_buy else legs[0]).contract
        # A call is worth more at a lower strike, a put at a higher one: buying the dearer leg costs money.
        dearer = bought.strike < sold.strike if bought.put_call == "C" else bought.strike > sold.strike
        if order_type != ("net_debit" if dearer else "net_credit"):
            problems["order_type"] = (
                f"This vertical is {'paid for: net_debit' if dearer else 'a net_credit'}."
            )
