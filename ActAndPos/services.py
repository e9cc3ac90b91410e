"""Apply live data to ActAndPos's Account and Position rows: idempotent, order-safe, owner by owner.

Each user entitled to an account (the contract's ownership index, read when syncing) has a mirror of it.
A snapshot is applied to each owner's mirror in one transaction with that row locked. One whose `as_of` is
not newer than what was applied is ignored (a duplicate or a late arrival never moves data backwards),
except that a stale flag on the same data is recorded. Positions are created, updated and removed to
match. A mirror whose user no longer owns the account is detached: kept as it was, no longer live.
Every entry point reconciles against what Redis holds now, so any delivery order ends in the same state.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction

from ActAndPos.models import Account, Position
from LiveData.shared import clock, contract, reader

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


def owner_ids(account_id: str) -> list[int]:
    """The Thor users entitled to the account now, who exist here."""
    wanted = [int(text) for text in reader.account_owners(account_id) if text.isdigit()]
    return list(get_user_model().objects.filter(pk__in=wanted).order_by("pk").values_list("pk", flat=True))


def detach_non_owners(account_id: str, owners: list[int]) -> int:
    """Detach the live mirrors of the account whose users are not among `owners`; return how many."""
    return (
        Account.objects.filter(external_id=account_id, detached_at__isnull=True)
        .exclude(user_id__in=owners)
        .update(detached_at=clock.now())
    )


def _locked_account(user_id: int, snapshot: dict[str, Any]) -> tuple[Account, bool]:
    """The owner's mirror, locked and live; and whether it had been detached (so needs saving)."""
    account, _ = Account.objects.select_for_update().get_or_create(
        user_id=user_id, source=snapshot["source"], external_id=snapshot["account_id"]
    )
    reattached = account.detached_at is not None
    account.detached_at = None
    account.account_type = snapshot.get("account_type") or ""
    account.display_number = snapshot.get("display_number") or ""
    return account, reattached


def _for_owners(
    apply: Callable[[int, dict[str, Any]], SyncResult], snapshot: dict[str, Any], owners: list[int] | None
) -> SyncResult:
    owners = owner_ids(snapshot["account_id"]) if owners is None else owners
    detach_non_owners(snapshot["account_id"], owners)
    results = [apply(user_id, snapshot) for user_id in owners]
    return SyncResult(
        applied=any(result.applied for result in results),
        created=sum(result.created for result in results),
        updated=sum(result.updated for result in results),
        removed=sum(result.removed for result in results),
    )


def sync_positions(snapshot: dict[str, Any], *, owners: list[int] | None = None) -> SyncResult:
    """Make each owner's Position rows match the snapshot, unless a newer one was applied already."""
    return _for_owners(_sync_positions, snapshot, owners)


def sync_balances(snapshot: dict[str, Any], *, owners: list[int] | None = None) -> SyncResult:
    """Bring each owner's balances to the snapshot's, unless newer ones were applied already."""
    return _for_owners(_sync_balances, snapshot, owners)


def _sync_positions(user_id: int, snapshot: dict[str, Any]) -> SyncResult:
    as_of = _as_of(snapshot)
    with transaction.atomic():
        account, reattached = _locked_account(user_id, snapshot)
        if account.positions_as_of is not None and as_of <= account.positions_as_of:
            restaled = as_of == account.positions_as_of and account.stale != snapshot["stale"]
            if restaled:
                account.stale = snapshot["stale"]
            if restaled or reattached:
                account.save()
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


def _sync_balances(user_id: int, snapshot: dict[str, Any]) -> SyncResult:
    as_of = _as_of(snapshot)
    with transaction.atomic():
        account, reattached = _locked_account(user_id, snapshot)
        if account.balances_as_of is not None and as_of <= account.balances_as_of:
            if reattached:
                account.save()
            return SyncResult(applied=False)
        balances = snapshot["balances"]
        account.net_liquidation_value = _decimal(balances.get("net_liquidation_value"))
        account.buying_power = _decimal(balances.get("buying_power"))
        account.cash = _decimal(balances.get("cash"))
        account.balances_as_of = as_of
        account.save()
    return SyncResult(applied=True, updated=1)


def sync_snapshot(
    kind: contract.Kind, snapshot: dict[str, Any], *, owners: list[int] | None = None
) -> SyncResult:
    if kind == contract.POSITIONS:
        return sync_positions(snapshot, owners=owners)
    return sync_balances(snapshot, owners=owners)


def sync_account(account_id: str) -> list[SyncResult]:
    """Reconcile the account's mirrors with what Redis holds now: its owners, its stored snapshots."""
    owners = owner_ids(account_id)
    detach_non_owners(account_id, owners)
    results = []
    for kind in contract.KINDS:
        snapshot = reader.latest(kind, account_id)
        if snapshot is not None:
            results.append(sync_snapshot(kind, snapshot, owners=owners))
    return results


def sync_user(user_id: int | str) -> list[SyncResult]:
    """Reconcile one user's mirrors after their accounts changed: the accounts they own now, and the ones
    their live mirrors still show."""
    account_ids = set(reader.user_account_ids(user_id))
    account_ids |= set(
        Account.objects.filter(user_id=int(user_id), detached_at__isnull=True).values_list(
            "external_id", flat=True
        )
    )
    return [result for account_id in sorted(account_ids) for result in sync_account(account_id)]


def live_account_ids() -> set[str]:
    """The accounts some live mirror shows (catch-up reconciles them even when Redis holds no snapshot)."""
    return set(Account.objects.filter(detached_at__isnull=True).values_list("external_id", flat=True))
