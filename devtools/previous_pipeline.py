"""The refresh pipeline's decoding and transform as they were before issue 13, frozen.

Development tooling, never imported by the product: the oracle the tests hold the fast pipeline to (the
same bytes for every document, odd ones included) and the baseline `bench/pipeline.py` times it against.
Schwab's JSON is parsed generically (every number a Decimal), turned into dataclass records, then into
dict documents, then encoded. Do not change it: it is the reference.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec

from LiveData.shared import contract

_DECODER = msgspec.json.Decoder(float_hook=Decimal)
_ENCODER = msgspec.json.Encoder()


def published(data: bytes, *, account_id: str, as_of: datetime, published_at: datetime) -> dict[str, bytes]:
    """Schwab's document in, the texts the publisher stored out: each snapshot and its diff base, by name.
    Raise MalformedAccount when the document is refused, msgspec.DecodeError when it is not JSON."""
    account = parse_account(_DECODER.decode(data))
    texts: dict[str, bytes] = {}
    for kind, envelope, diff_map in build(
        account_id=account_id, account=account, as_of=as_of, published_at=published_at
    ):
        texts[kind] = _ENCODER.encode(envelope)
        texts[f"{kind}.diff"] = _ENCODER.encode(diff_map)
    return texts


logger = logging.getLogger(__name__)

HUNDRED = Decimal(100)
ZERO = Decimal(0)
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


class MalformedAccount(ValueError):
    """The account document's shape is too broken to publish anything from it."""


@dataclass(frozen=True, slots=True)
class OptionDetails:
    underlying: str | None
    put_call: str | None
    strike: Decimal | None
    expiration: date | None


@dataclass(slots=True)  # not frozen: frozen __init__ costs a setattr call per field, 500 times a refresh
class PositionRecord:
    symbol: str
    asset_type: str  # Schwab's raw assetType, kept as sent (unknown types included)
    asset_class: (
        str  # ours: equity, etf, fund, option, mutual_fund, fixed_income, cash_equivalent, ..., other
    )
    instrument_type: str | None
    description: str | None
    cusip: str | None
    quantity: Decimal  # long minus short
    long_quantity: Decimal
    short_quantity: Decimal
    multiplier: Decimal
    average_price_per_unit: Decimal | None
    current_price: Decimal | None
    market_value: Decimal | None
    cost_basis_total: Decimal | None
    unrealized_pnl: Decimal | None
    unrealized_pnl_percent: Decimal | None
    day_pnl: Decimal | None
    day_pnl_percent: Decimal | None
    maintenance_requirement: Decimal | None
    option: OptionDetails | None = None
    maturity_date: str | None = None
    unavailable: tuple[str, ...] = ()


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


def _number(data: dict[str, Any], name: str, missing: list[str] | None, prefix: str = "") -> Decimal | None:
    """Read one numeric field; note it in `missing` when absent or not a number."""
    value = data.get(name)
    if type(value) is Decimal and value.is_finite():  # the common case, kept fast
        return value
    number = to_decimal(value)
    if number is None and missing is not None:
        missing.append(prefix + name)
    return number


def display_number(account_number: Any) -> str:
    text = str(account_number or "")
    return f"…{text[-4:]}" if len(text) >= 4 else "…"


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
    return value.normalize() if value != 0 else ZERO


def _percent(part: Decimal | None, whole: Decimal | None) -> Decimal | None:
    if part is None or whole is None or whole == 0:
        return None
    return (part / abs(whole) * HUNDRED).quantize(PERCENT_PLACES)


def parse_position(raw: Any) -> PositionRecord | str:
    """A position record, or the reason it must be skipped."""
    if not isinstance(raw, dict):
        return "position is not an object"
    instrument = raw.get("instrument")
    if not isinstance(instrument, dict) or not _text(instrument.get("symbol")):
        return "position has no instrument symbol"
    missing: list[str] = []
    long_qty = _number(raw, "longQuantity", None)
    short_qty = _number(raw, "shortQuantity", None)
    if long_qty is None and short_qty is None:
        return "position has no quantity"
    # Quantities are canonical (no trailing zeros) so that "10" and "10.0" never look like a change.
    long_qty, short_qty = _canonical(long_qty or ZERO), _canonical(short_qty or ZERO)
    quantity = _canonical(long_qty - short_qty)
    symbol = instrument["symbol"]
    asset_type = _text(instrument.get("assetType")) or "UNKNOWN"
    instrument_type = _text(instrument.get("type"))

    option: OptionDetails | None = None
    multiplier = Decimal(1)
    if asset_type == "OPTION":
        multiplier = _number(instrument, "optionMultiplier", missing, "instrument.") or Decimal(100)
        parsed = parse_occ_symbol(symbol)
        if parsed is None:
            missing.append("instrument.symbol (not an OCC option symbol)")
        put_call = _text(instrument.get("putCall")) or (parsed.put_call if parsed else None)
        option = OptionDetails(
            underlying=_text(instrument.get("underlyingSymbol")) or (parsed.underlying if parsed else None),
            put_call=put_call,
            strike=parsed.strike if parsed else None,
            expiration=parsed.expiration if parsed else None,
        )
    elif asset_type == "FIXED_INCOME":
        multiplier = Decimal("0.01")  # bonds are priced per 100 of face value; quantity is face value

    average = _number(raw, "averagePrice", missing)
    market_value = _number(raw, "marketValue", missing)
    cost = abs(quantity) * average * multiplier if average is not None else None
    reported = _number(raw, "longOpenProfitLoss" if quantity >= 0 else "shortOpenProfitLoss", None)
    if reported is not None:
        unrealized: Decimal | None = reported
    elif market_value is not None and cost is not None:
        unrealized = market_value - cost if quantity >= 0 else market_value + cost
    else:
        unrealized = None
    price = None
    if market_value is not None and quantity != 0:
        price = (market_value / (quantity * multiplier)).quantize(PRICE_PLACES).normalize()
    day_pnl = _number(raw, "currentDayProfitLoss", missing)
    day_pct = _number(raw, "currentDayProfitLossPercentage", missing)
    maintenance = _number(raw, "maintenanceRequirement", missing)
    return PositionRecord(
        symbol=symbol,
        asset_type=asset_type,
        asset_class=_asset_class(asset_type, instrument_type),
        instrument_type=instrument_type,
        description=_text(instrument.get("description")),
        cusip=_text(instrument.get("cusip")),
        quantity=quantity,
        long_quantity=long_qty,
        short_quantity=short_qty,
        multiplier=multiplier,
        average_price_per_unit=average,
        current_price=price,
        market_value=market_value,
        cost_basis_total=cost,
        unrealized_pnl=unrealized,
        unrealized_pnl_percent=_percent(unrealized, cost),
        day_pnl=day_pnl,
        day_pnl_percent=day_pct,
        maintenance_requirement=maintenance,
        option=option,
        maturity_date=_text(instrument.get("maturityDate")) if asset_type == "FIXED_INCOME" else None,
        unavailable=tuple(missing),
    )


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


def parse_balances(securities: dict[str, Any], aggregated: Any) -> BalancesRecord:
    account_type = _text(securities.get("type")) or "UNKNOWN"
    current = securities.get("currentBalances")
    current = current if isinstance(current, dict) else {}
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


def parse_account(data: Any) -> AccountRecord:
    """One Schwab Account document (`accounts/{hash}?fields=positions`) as records."""
    if not isinstance(data, dict) or not isinstance(data.get("securitiesAccount"), dict):
        raise MalformedAccount("no securitiesAccount object")
    securities = data["securitiesAccount"]
    raw_positions = securities.get("positions", [])
    if not isinstance(raw_positions, list):
        raise MalformedAccount("positions is not a list")
    positions: list[PositionRecord] = []
    warnings: list[str] = []
    for index, raw in enumerate(raw_positions):
        parsed = parse_position(raw)
        if isinstance(parsed, str):
            warnings.append(f"position {index} skipped: {parsed}")
            logger.warning("schwab position %s skipped: %s", index, parsed)
        else:
            positions.append(parsed)
    return AccountRecord(
        account_type=_text(securities.get("type")) or "UNKNOWN",
        display_number=display_number(securities.get("accountNumber")),
        positions=positions,
        skipped_positions=len(raw_positions) - len(positions),
        balances=parse_balances(securities, data.get("aggregatedBalance")),
        warnings=warnings,
    )


SOURCE = "schwab"
dec = contract.decimal_text


def position_json(record: PositionRecord) -> dict[str, Any]:
    option = record.option
    return {
        "symbol": record.symbol,
        "asset_type": record.asset_type,
        "asset_class": record.asset_class,
        "instrument_type": record.instrument_type,
        "description": record.description,
        "cusip": record.cusip,
        "quantity": dec(record.quantity),
        "long_quantity": dec(record.long_quantity),
        "short_quantity": dec(record.short_quantity),
        "multiplier": dec(record.multiplier),
        "average_price_per_unit": dec(record.average_price_per_unit),
        "current_price": dec(record.current_price),
        "market_value": dec(record.market_value),
        "cost_basis_total": dec(record.cost_basis_total),
        "unrealized_pnl": dec(record.unrealized_pnl),
        "unrealized_pnl_percent": dec(record.unrealized_pnl_percent),
        "day_pnl": dec(record.day_pnl),
        "day_pnl_percent": dec(record.day_pnl_percent),
        "maintenance_requirement": dec(record.maintenance_requirement),
        "option": None
        if option is None
        else {
            "underlying": option.underlying,
            "put_call": option.put_call,
            "strike": dec(option.strike),
            "expiration": option.expiration.isoformat() if option.expiration else None,
        },
        "maturity_date": record.maturity_date,
        "unavailable": list(record.unavailable),
    }


def balances_json(record: BalancesRecord) -> dict[str, Any]:
    values = asdict(record)
    values.pop("account_type")
    values.pop("unavailable")
    return {name: dec(value) for name, value in values.items()}


def build(
    *, account_id: str, account: AccountRecord, as_of: datetime, published_at: datetime
) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """The positions and balances snapshots of one account refresh."""
    common = {"account_type": account.account_type, "display_number": account.display_number}
    positions = [position_json(record) for record in account.positions]
    balances = balances_json(account.balances)
    # Aggregates from the same upstream document, so the summary card needs only the small balances key.
    day_values = [record.day_pnl for record in account.positions]
    known = [value for value in day_values if value is not None]
    totals = {
        "count": len(positions),
        "day_pnl": contract.decimal_text(sum(known, Decimal(0))) if len(known) == len(day_values) else None,
    }
    positions_envelope = contract.envelope(
        contract.POSITIONS,
        account_id=account_id,
        source=SOURCE,
        as_of=as_of,
        published_at=published_at,
        body={**common, "positions": positions, "skipped_positions": account.skipped_positions},
    )
    balances_envelope = contract.envelope(
        contract.BALANCES,
        account_id=account_id,
        source=SOURCE,
        as_of=as_of,
        published_at=published_at,
        body={
            **common,
            "balances": balances,
            "unavailable": list(account.balances.unavailable),
            "positions_totals": totals,
        },
    )
    return [
        (
            contract.POSITIONS,
            positions_envelope,
            {position["symbol"]: position["quantity"] for position in positions},
        ),
        (contract.BALANCES, balances_envelope, balances),
    ]
