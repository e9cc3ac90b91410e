"""Turn transformed Schwab records into live-data snapshots (the documents of LiveData.shared.contract)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from LiveData.schwab.live_data.transforms import BALANCE_FIELDS, AccountRecord, BalancesRecord
from LiveData.shared import contract
from LiveData.shared.publisher import Snapshot

SOURCE = "schwab"


def balances_json(record: BalancesRecord) -> dict[str, str | None]:
    return {name: contract.decimal_text(getattr(record, name)) for name in BALANCE_FIELDS}


def build(
    *, account_id: str, account: AccountRecord, as_of: datetime, published_at: datetime
) -> list[Snapshot]:
    """The positions and balances snapshots of one account refresh."""
    common = {"account_type": account.account_type, "display_number": account.display_number}
    positions = account.positions  # already in their published form (encoded as they are)
    balances = balances_json(account.balances)
    # Aggregates from the same upstream document, so the summary card needs only the small balances key.
    totals = {"count": len(positions), "day_pnl": contract.decimal_text(account.day_pnl)}
    positions_envelope = contract.envelope(
        contract.POSITIONS,
        account_id=account_id,
        source=SOURCE,
        as_of=as_of,
        published_at=published_at,
        body={**common, "positions": positions, "skipped_positions": account.skipped_positions},
    )
    balances_envelope: dict[str, Any] = contract.envelope(
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
            {position.symbol: position.quantity for position in positions},
        ),
        Snapshot(contract.BALANCES, account_id, balances_envelope, balances),
    ]
