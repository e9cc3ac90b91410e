"""Write who owns which account (see OWNERSHIP in `contract`): the user's index, its mark, the reverse index.

Each change is one optimistic transaction (WATCH the user's keys, then MULTI/EXEC): the user's SET is
replaced, the owners SETs of the accounts that came and went follow, the mark is set, and a notification
goes out on `contract.OWNERSHIP_CHANNEL`, all or nothing. A change that changes nothing announces nothing,
so listing a user's accounts every minute is quiet.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis

from LiveData.shared import contract
from LiveData.shared.redis_client import get_redis


@dataclass(frozen=True)
class OwnershipChange:
    account_ids: frozenset[str]
    added: frozenset[str]
    removed: frozenset[str]
    status: contract.OwnershipStatus
    changed: bool


def replace_user_accounts(
    *, user_id: int | str, account_ids: Iterable[str], at: datetime, client: redis.Redis | None = None
) -> OwnershipChange:
    """The user's current login lists exactly `account_ids` (and is usable)."""
    return _apply(user_id, frozenset(account_ids), contract.ACTIVE, at, client)


def mark_reauth_required(
    *, user_id: int | str, at: datetime, client: redis.Redis | None = None
) -> OwnershipChange:
    """The login needs renewing: the user keeps the accounts, marked, until they reconnect or disconnect."""
    return _apply(user_id, None, contract.REAUTH_REQUIRED, at, client)


def clear_user_accounts(
    *, user_id: int | str, at: datetime, client: redis.Redis | None = None
) -> OwnershipChange:
    """The user has no login any more (disconnected): they own nothing."""
    return _apply(user_id, frozenset(), contract.NO_LOGIN, at, client)


def users_with_a_login(*, client: redis.Redis | None = None) -> list[str]:
    """The ids of the users the index marks as having a login (active or awaiting renewal)."""
    redis_client = client or get_redis()
    prefix = contract.user_accounts_status_key("")
    keys = redis_client.scan_iter(match=contract.user_accounts_status_key("*"), count=1000)
    return [str(key)[len(prefix) :] for key in keys]


def _apply(
    user_id: int | str,
    wanted: frozenset[str] | None,
    status: contract.OwnershipStatus,
    at: datetime,
    client: redis.Redis | None,
) -> OwnershipChange:
    redis_client = client or get_redis()
    user = str(user_id)
    accounts_key = contract.user_accounts_key(user)
    status_key = contract.user_accounts_status_key(user)
    outcome: list[OwnershipChange] = []

    def change(pipe: Any) -> None:
        outcome.clear()
        before = frozenset(pipe.smembers(accounts_key))
        before_status = pipe.get(status_key) or contract.NO_LOGIN
        after = before if wanted is None else wanted
        added, removed = after - before, before - after
        changed = bool(added or removed) or before_status != status
        outcome.append(OwnershipChange(after, added, removed, status, changed))
        if not changed:
            return
        note = contract.ownership_notification(
            user_id=user,
            status=status,
            account_ids=list(after),
            added=list(added),
            removed=list(removed),
            at=at,
        )
        pipe.multi()
        pipe.delete(accounts_key)
        if after:
            pipe.sadd(accounts_key, *after)
        for account_id in added:
            pipe.sadd(contract.account_owners_key(account_id), user)
        for account_id in removed:
            pipe.srem(contract.account_owners_key(account_id), user)
        if status == contract.NO_LOGIN:
            pipe.delete(status_key)
        else:
            pipe.set(status_key, status)
        pipe.publish(contract.OWNERSHIP_CHANNEL, json.dumps(note, separators=(",", ":")))

    redis_client.transaction(change, accounts_key, status_key)
    return outcome[0]
