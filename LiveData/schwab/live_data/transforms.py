"""Pure functions from Schwab's account document to the records we publish (schema: live_data v1).

The document arrives typed (`account_document`), its numbers Decimal from their own text. A position goes
in one pass from Schwab's fields to its published form: the arithmetic in Decimal, every amount written
once as exact decimal text, in a struct that encodes as the snapshot's JSON object. An account may hold
hundreds of positions, refreshed often, so this loop is the pipeline's hot path (see bench/pipeline.py).

Decisions for odd shapes:
- the document is refused (account_document.MalformedAccount) when it is not an object, has no
  `securitiesAccount` object, or has `positions` that is not a list: nothing sensible can be published;
- a position is skipped, with a warning, when it is not an object, has no instrument symbol, has neither
  quantity (it cannot be identified or sized), or has numbers past exact arithmetic (a price of 1e30);
- any other missing or non-numeric field becomes null (never 0) and is named in `unavailable`.
Multipliers are applied once: Schwab's `marketValue` is already total; `averagePrice` is per unit
(per share, per option contract unit, per 100 of bond face value), so cost basis = |qty| x price x multiplier.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec

from LiveData.schwab.connection.accounts import display_number
from LiveData.schwab.live_data import account_document
from LiveData.shared.contract import decimal_text

logger = logging.getLogger(__name__)

HUNDRED = Decimal(100)
ZERO = Decimal(0)
ONE = Decimal(1)
BOND_MULTIPLIER = Decimal("0.01")  # bonds are priced per 100 of face value; quantity is face value
PRICE_PLACES = Decimal("0.000001")
PERCENT_PLACES = Decimal("0.01")
OCC_SYMBOL = re.compile(r"(?P<root>[A-Z0-9./]{1,6}) *(?P<date>\d{6})(?P<kind>[CP])(?P<strike>\d{8})")
ASSET_CLASSES = {
    "EQUITY": "equity",
    "OPTION": "option",
    "MUTUAL_FUND": "mutual_fund",
    "FIXED_INCOME": "fixed_income",
    "CASH_EQUIVALENT": "cash_equivalent",
    "INDEX": "index",
    "CURRENCY": "currency",
}


@dataclass(frozen=True, slots=True)
class OptionDetails:
    underlying: str | None
    put_call: str | None
    strike: Decimal | None
    expiration: date | None


class PublishedOption(msgspec.Struct, gc=False):
    underlying: str | None
    put_call: str | None
    strike: str | None
    expiration: str | None  # ISO date


class PositionRecord(msgspec.Struct, gc=False):
    """One position as published: the fields in the snapshot's order, amounts as exact decimal text.
    Positional construction and msgspec encoding make this several times cheaper than a dict."""

    symbol: str
    asset_type: str  # Schwab's raw assetType, kept as sent (unknown types included)
    asset_class: (
        str  # ours: equity, etf, fund, option, mutual_fund, fixed_income, cash_equivalent, ..., other
    )
    instrument_type: str | None
    description: str | None
    cusip: str | None
    quantity: str  # long minus short
    long_quantity: str
    short_quantity: str
    multiplier: str
    average_price_per_unit: str | None
    current_price: str | None
    market_value: str | None
    cost_basis_total: str | None
    unrealized_pnl: str | None
    unrealized_pnl_percent: str | None
    day_pnl: str | None
    day_pnl_percent: str | None
    maintenance_requirement: str | None
    option: PublishedOption | None
    maturity_date: str | None
    unavailable: list[str]


@dataclass(frozen=True)
class BalancesRecord:
    account_type: str
    net_liquidation_value: Decimal | None
    buying_power: Decimal | None
    day_trading_buying_power: Decimal | None
    cash: Decimal | None
    cash_available_for_trading: Decimal | None
    cash_available_for_withdrawal: Decimal | None
    available_funds: Decimal | None
    equity: Decimal | None
    long_market_value: Decimal | None
    short_market_value: Decimal | None
    margin_balance: Decimal | None
    maintenance_requirement: Decimal | None
    unavailable: tuple[str, ...] = ()


@dataclass(frozen=True)
class AccountRecord:
    account_type: str
    display_number: str  # "…1234": the full account number never leaves this module
    positions: list[PositionRecord]
    skipped_positions: int
    balances: BalancesRecord
    day_pnl: Decimal | None  # the positions' day P&L summed; None when any is unknown
    warnings: list[str] = field(default_factory=list)


def to_decimal(value: Any) -> Decimal | None:
    """A JSON number as Decimal; None for anything else (bools, strings, NaN, missing)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):  # tolerated from other parsers; repr is the JSON text
        try:
            number = Decimal(repr(value))
        except InvalidOperation:
            return None
        return number if number.is_finite() else None
    return None


def _number(value: Any, name: str, missing: list[str]) -> Decimal | None:
    """One numeric field; noted in `missing` when absent or not a number."""
    if type(value) is Decimal and value.is_finite():  # the common case, kept fast
        return value
    number = to_decimal(value)
    if number is None:
        missing.append(name)
    return number


def parse_occ_symbol(symbol: str) -> OptionDetails | None:
    match = OCC_SYMBOL.fullmatch(symbol.strip())
    if match is None:
        return None
    raw = match["date"]
    try:
        expiration = date(2000 + int(raw[:2]), int(raw[2:4]), int(raw[4:]))
    except ValueError:
        return None
    return OptionDetails(
        underlying=match["root"],
        put_call="CALL" if match["kind"] == "C" else "PUT",
        strike=Decimal(match["strike"]) / 1000,
        expiration=expiration,
    )


def _asset_class(asset_type: str, instrument_type: str | None) -> str:
    if asset_type == "COLLECTIVE_INVESTMENT":
        return "etf" if instrument_type == "EXCHANGE_TRADED_FUND" else "fund"
    return ASSET_CLASSES.get(asset_type, "other")


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _canonical(value: Decimal) -> Decimal:
    return value.normalize() if value else ZERO


def _percent(part: Decimal | None, whole: Decimal | None) -> Decimal | None:
    if part is None or whole is None or not whole:
        return None
    return (part / abs(whole) * HUNDRED).quantize(PERCENT_PLACES)


def _option(
    instrument: account_document.Instrument, symbol: str, missing: list[str]
) -> tuple[Decimal, PublishedOption]:
    """An option's multiplier and details, from Schwab's fields or else its OCC symbol."""
    multiplier = _number(instrument.optionMultiplier, "instrument.optionMultiplier", missing) or HUNDRED
    parsed = parse_occ_symbol(symbol)
    if parsed is None:
        missing.append("instrument.symbol (not an OCC option symbol)")
    option = PublishedOption(
        underlying=_text(instrument.underlyingSymbol) or (parsed.underlying if parsed else None),
        put_call=_text(instrument.putCall) or (parsed.put_call if parsed else None),
        strike=decimal_text(parsed.strike) if parsed else None,
        expiration=parsed.expiration.isoformat() if parsed and parsed.expiration else None,
    )
    return multiplier, option


def parse_position(raw: account_document.Position | None) -> tuple[PositionRecord, Decimal | None] | str:
    """The published position and its day P&L, or the reason it must be skipped.

    Runs once per position per refresh: the common case (numbers present and Decimal, a plain multiplier)
    takes no detour; the tests hold every shortcut to the previous implementation's output."""
    if raw is None:
        return "position is not an object"
    instrument = raw.instrument
    symbol = instrument.symbol if instrument is not None else None
    if instrument is None or not isinstance(symbol, str) or not symbol:
        return "position has no instrument symbol"
    long_qty, short_qty = raw.longQuantity, raw.shortQuantity
    if type(long_qty) is not Decimal or not long_qty.is_finite():
        long_qty = to_decimal(long_qty)
    if type(short_qty) is not Decimal or not short_qty.is_finite():
        short_qty = to_decimal(short_qty)
    if long_qty is None and short_qty is None:
        return "position has no quantity"
    # Quantities are canonical (no trailing zeros) so that "10" and "10.0" never look like a change.
    long_qty = long_qty.normalize() if long_qty else ZERO
    short_qty = short_qty.normalize() if short_qty else ZERO
    quantity = long_qty if short_qty is ZERO else _canonical(long_qty - short_qty)
    long_side = quantity >= ZERO
    size = quantity if long_side else -quantity  # |quantity|, already canonical
    asset_type = _text(instrument.assetType) or "UNKNOWN"
    instrument_type = _text(instrument.type)

    missing: list[str] = []
    option = None
    multiplier = ONE
    if asset_type == "OPTION":
        multiplier, option = _option(instrument, symbol, missing)
    elif asset_type == "FIXED_INCOME":
        multiplier = BOND_MULTIPLIER

    average = _number(raw.averagePrice, "averagePrice", missing)
    market_value = _number(raw.marketValue, "marketValue", missing)
    cost = None
    if average is not None:  # x 1 changes neither value nor digits, so a plain multiplier is skipped
        cost = size * average if multiplier is ONE else size * average * multiplier
    reported = raw.longOpenProfitLoss if long_side else raw.shortOpenProfitLoss
    if type(reported) is not Decimal or not reported.is_finite():
        reported = to_decimal(reported)
    if reported is not None:
        unrealized: Decimal | None = reported
    elif market_value is not None and cost is not None:
        unrealized = market_value - cost if long_side else market_value + cost
    else:
        unrealized = None
    price = None
    if market_value is not None and quantity:
        units = quantity if multiplier is ONE else quantity * multiplier
        price = (market_value / units).quantize(PRICE_PLACES).normalize()
    day_pnl = _number(raw.currentDayProfitLoss, "currentDayProfitLoss", missing)
    day_pct = _number(raw.currentDayProfitLossPercentage, "currentDayProfitLossPercentage", missing)
    maintenance = _number(raw.maintenanceRequirement, "maintenanceRequirement", missing)
    text = decimal_text
    record = PositionRecord(
        symbol,
        asset_type,
        _asset_class(asset_type, instrument_type),
        instrument_type,
        _text(instrument.description),
        _text(instrument.cusip),
        text(quantity),  # type: ignore[arg-type]  # never None here, as the three below
        text(long_qty),  # type: ignore[arg-type]
        "0" if short_qty is ZERO else text(short_qty),  # type: ignore[arg-type]
        "1" if multiplier is ONE else text(multiplier),  # type: ignore[arg-type]
        text(average),
        text(price),
        text(market_value),
        text(cost),
        text(unrealized),
        text(_percent(unrealized, cost)),
        text(day_pnl),
        text(day_pct),
        text(maintenance),
        option,
        _text(instrument.maturityDate) if asset_type == "FIXED_INCOME" else None,
        missing,
    )
    return record, day_pnl


# Our balance field -> Schwab's currentBalances field, per account type (schwab-api.md section 3).
_MARGIN = {
    "buying_power": "buyingPower",
    "day_trading_buying_power": "dayTradingBuyingPower",
    "cash": "cashBalance",
    "available_funds": "availableFunds",
    "equity": "equity",
    "long_market_value": "longMarketValue",
    "short_market_value": "shortMarketValue",
    "margin_balance": "marginBalance",
    "maintenance_requirement": "maintenanceRequirement",
}
_CASH = {
    "buying_power": "cashAvailableForTrading",
    "cash": "cashBalance",
    "cash_available_for_trading": "cashAvailableForTrading",
    "cash_available_for_withdrawal": "cashAvailableForWithdrawal",
    "long_market_value": "longMarketValue",
    "short_market_value": "shortMarketValue",
}
_OTHER = {
    "cash": "cashBalance",
    "long_market_value": "longMarketValue",
    "short_market_value": "shortMarketValue",
}
BALANCE_FIELDS = (
    "net_liquidation_value",
    "buying_power",
    "day_trading_buying_power",
    "cash",
    "cash_available_for_trading",
    "cash_available_for_withdrawal",
    "available_funds",
    "equity",
    "long_market_value",
    "short_market_value",
    "margin_balance",
    "maintenance_requirement",
)


def parse_balances(account_type: Any, current: dict[str, Any], aggregated: Any) -> BalancesRecord:
    account_type = _text(account_type) or "UNKNOWN"
    mapping = {"MARGIN": _MARGIN, "CASH": _CASH}.get(account_type, _OTHER)
    values: dict[str, Decimal | None] = {
        name: to_decimal(current.get(source)) for name, source in mapping.items()
    }
    net_liq = to_decimal(current.get("liquidationValue"))
    if net_liq is None and isinstance(aggregated, dict):
        net_liq = to_decimal(aggregated.get("currentLiquidationValue"))
    values["net_liquidation_value"] = net_liq
    complete = {name: values.get(name) for name in BALANCE_FIELDS}
    unavailable = tuple(name for name, value in complete.items() if value is None)
    return BalancesRecord(account_type=account_type, unavailable=unavailable, **complete)


def parse_account(document: account_document.Account | Any) -> AccountRecord:
    """One Schwab Account document (`accounts/{hash}?fields=positions`) as records; the document typed
    (`account_document.decode`) or as parsed JSON (numbers Decimal or int)."""
    if not isinstance(document, account_document.Account):
        document = account_document.from_json(document)
    securities = document.securitiesAccount
    positions: list[PositionRecord] = []
    warnings: list[str] = []
    day_pnl: Decimal | None = ZERO
    for index, raw in enumerate(securities.positions):
        try:
            parsed = parse_position(raw)
        except ArithmeticError:  # a number past exact arithmetic (a price of 1e30): nothing sensible
            parsed = "position has numbers out of range"
        if isinstance(parsed, str):
            warnings.append(f"position {index} skipped: {parsed}")
            logger.warning("schwab position %s skipped: %s", index, parsed)
            continue
        record, position_day_pnl = parsed
        positions.append(record)
        if position_day_pnl is None:
            day_pnl = None
        elif day_pnl is not None:
            try:
                day_pnl += position_day_pnl
            except ArithmeticError:  # the total is past exact arithmetic: unknown, like a missing one
                day_pnl = None
    current = securities.currentBalances
    return AccountRecord(
        account_type=_text(securities.type) or "UNKNOWN",
        display_number=display_number(securities.accountNumber),
        positions=positions,
        skipped_positions=len(securities.positions) - len(positions),
        balances=parse_balances(
            securities.type, current if isinstance(current, dict) else {}, document.aggregatedBalance
        ),
        day_pnl=day_pnl,
        warnings=warnings,
    )
