"""Turn transformed Schwab records into live-data snapshots (the documents of LiveData.shared.contract)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from decimal import Decimal
from typing import Any

from LiveData.schwab.transforms import AccountRecord, BalancesRecord, PositionRecord
from LiveData.shared import contract
from LiveData.shared.publisher import Snapshot

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
) -> list[Snapshot]:
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
        Snapshot(
            contract.POSITIONS,
            account_id,
            positions_envelope,
            {position["symbol"]: position["quantity"] for position in positions},
        ),
        Snapshot(contract.BALANCES, account_id, balances_envelope, balances),
    ]
