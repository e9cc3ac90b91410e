"""Apply live-data snapshots to ActAndPos's Account and Position rows: idempotent and order-safe.

A snapshot is applied in one transaction with the account row locked. One whose `as_of` is not newer
than what was applied is ignored (a duplicate or a late arrival never moves data backwards), except that
a stale flag on the same data is recorded. Positions are created, updated and removed to match.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction

from ActAndPos.models import Account, Position
from LiveData.shared import contract, reader

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SyncResult:
    applied: bool
    created: int = 0
    updated: int = 0
    removed: int = 0


def _decimal(text: Any) -> Decimal | None:
    return Decimal(text) if isinstance(text, str) else None


def _as_of(snapshot: dict[str, Any]) -> datetime:
    return contract.parse_timestamp(snapshot["as_of"])


def _locked_account(snapshot: dict[str, Any]) -> Account | None:
    user = get_user_model().objects.filter(pk=snapshot["user_id"]).first()
    if user is None:
        logger.warning("snapshot for an unknown user ignored")
        return None
    account, _ = Account.objects.select_for_update().get_or_create(
        source=snapshot["source"],
        external_id=snapshot["account_id"],
        defaults={"user": user},
    )
    account.user = user
    account.account_type = snapshot.get("account_type") or ""
    account.display_number = snapshot.get("display_number") or ""
    return account


def sync_positions(snapshot: dict[str, Any]) -> SyncResult:
    """Make the account's Position rows match the snapshot, unless a newer one was applied already."""
    as_of = _as_of(snapshot)
    with transaction.atomic():
        account = _locked_account(snapshot)
        if account is None:
            return SyncResult(applied=False)
        if account.positions_as_of is not None and as_of <= account.positions_as_of:
            if as_of == account.positions_as_of and account.stale != snapshot["stale"]:
                account.stale = snapshot["stale"]
                account.save(update_fields=["stale", "updated_at"])
            return SyncResult(applied=False)
        wanted = {item["symbol"]: item for item in snapshot["positions"]}
        existing = {position.symbol: position for position in account.positions.all()}
        created = updated = 0
        for symbol, item in wanted.items():
            values = {
                "asset_class": item.get("asset_class") or "other",
                "description": (item.get("description") or "")[:255],
                "quantity": _decimal(item["quantity"]),
                "average_price_per_unit": _decimal(item.get("average_price_per_unit")),
                "market_value": _decimal(item.get("market_value")),
                "day_pnl": _decimal(item.get("day_pnl")),
                "unrealized_pnl": _decimal(item.get("unrealized_pnl")),
            }
            position = existing.get(symbol)
            if position is None:
                Position.objects.create(account=account, symbol=symbol, **values)
                created += 1
            elif any(getattr(position, name) != value for name, value in values.items()):
                for name, value in values.items():
                    setattr(position, name, value)
                position.save()
                updated += 1
        gone = [position.pk for symbol, position in existing.items() if symbol not in wanted]
        Position.objects.filter(pk__in=gone).delete()
        account.positions_as_of = as_of
        account.stale = snapshot["stale"]
        account.save()
    return SyncResult(applied=True, created=created, updated=updated, removed=len(gone))


def sync_balances(snapshot: dict[str, Any]) -> SyncResult:
    as_of = _as_of(snapshot)
    with transaction.atomic():
        account = _locked_account(snapshot)
        if account is None:
            return SyncResult(applied=False)
        if account.balances_as_of is not None and as_of <= account.balances_as_of:
            return SyncResult(applied=False)
        balances = snapshot["balances"]
        account.net_liquidation_value = _decimal(balances.get("net_liquidation_value"))
        account.buying_power = _decimal(balances.get("buying_power"))
        account.cash = _decimal(balances.get("cash"))
        account.balances_as_of = as_of
        account.save()
    return SyncResult(applied=True, updated=1)


def sync_snapshot(kind: contract.Kind, snapshot: dict[str, Any]) -> SyncResult:
    return sync_positions(snapshot) if kind == contract.POSITIONS else sync_balances(snapshot)


def sync_account(account_id: str) -> list[SyncResult]:
    """Apply whatever is stored in Redis for the account (on demand, and to catch up)."""
    results = []
    for kind in contract.KINDS:
        snapshot = reader.latest(kind, account_id)
        if snapshot is not None:
            results.append(sync_snapshot(kind, snapshot))
    return results
