"""Real-shaped live-data snapshots for ActAndPos tests, built with the shared contract."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from LiveData.shared import contract, ownership

T0 = datetime(2026, 11, 25, 15, 30, tzinfo=UTC)
ACCOUNT = "F" * 64


def positions_snapshot(
    quantities: dict[str, str],
    *,
    seconds: int = 0,
    stale: bool = False,
    account_id: str = ACCOUNT,
) -> dict[str, Any]:
    at = T0 + timedelta(seconds=seconds)
    positions = [
        {
            "symbol": symbol,
            "asset_class": "equity",
            "description": f"{symbol} INC",
            "quantity": quantity,
            "average_price_per_unit": "10.00",
            "market_value": str(int(quantity) * 11),
            "day_pnl": "1.25",
            "unrealized_pnl": str(int(quantity)),
        }
        for symbol, quantity in quantities.items()
    ]
    envelope = contract.envelope(
        contract.POSITIONS,
        account_id=account_id,
        source="schwab",
        as_of=at,
        published_at=at,
        body={
            "account_type": "MARGIN",
            "display_number": "…5678",
            "positions": positions,
            "skipped_positions": 0,
        },
    )
    envelope["stale"] = stale
    return envelope


def balances_snapshot(net_liq: str, *, seconds: int = 0, account_id: str = ACCOUNT) -> dict[str, Any]:
    at = T0 + timedelta(seconds=seconds)
    return contract.envelope(
        contract.BALANCES,
        account_id=account_id,
        source="schwab",
        as_of=at,
        published_at=at,
        body={
            "account_type": "MARGIN",
            "display_number": "…5678",
            "balances": {"net_liquidation_value": net_liq, "buying_power": "5000.00", "cash": "100.00"},
            "unavailable": [],
            "positions_totals": {"count": 0, "day_pnl": "0"},
        },
    )


def own(user_id: int, *account_ids: str) -> None:
    """Record, as the producer does when it lists a login's accounts, that the user owns `account_ids`."""
    ownership.replace_user_accounts(user_id=user_id, account_ids=account_ids or (ACCOUNT,), at=T0)
