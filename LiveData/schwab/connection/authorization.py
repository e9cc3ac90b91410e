"""Which accounts a trader may address: exactly those Schwab shares with their current login.

Schwab fixes the shared accounts at a login's consent page, so the list is remembered per login
(connection id + generation) in the cache every process shares. A new login or a disconnect bumps the
generation, so from the moment it commits no process reads the old login's list again: nothing has to be
deleted in time. A list younger than SCHWAB_ACCOUNTS_CACHE_SECONDS is trusted as it is; an older one is
listed again, and kept for the login's life to answer with while Schwab is down (it is the same login).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import redis
from django.core.cache import cache

from LiveData.schwab.models import REFRESH_TOKEN_LIFETIME, Login
from LiveData.shared import contract

logger = logging.getLogger(__name__)

# Longer than any login lives, so a list outlasts outages but not the login it belongs to.
_KEEP_SECONDS = int((REFRESH_TOKEN_LIFETIME + timedelta(days=1)).total_seconds())


@dataclass(frozen=True)
class KnownAccounts:
    account_ids: tuple[str, ...]
    listed_at: datetime

    def is_fresh(self, *, now: datetime, max_age: timedelta) -> bool:
        return now - self.listed_at < max_age


def _key(login: Login) -> str:
    return contract.accounts_cache_key(login.connection_id, login.generation)


# A few seconds' memo in this process saves the shared cache's round trip on hot paths (the summary). It is
# keyed by the login too, so a new login or a disconnect, read from the database on every request, never
# finds an old entry here either.
_MEMO_SECONDS = 5.0
_MEMO_SIZE = 10_000
_memo: dict[Login, tuple[float, KnownAccounts]] = {}
_memo_lock = threading.Lock()


def known_accounts(login: Login) -> KnownAccounts | None:
    """The account ids last listed for this login, or None (never listed, or the cache is unreachable)."""
    with _memo_lock:
        memo = _memo.get(login)
    if memo is not None and memo[0] > time.monotonic():
        return memo[1]
    try:
        entry: Any = cache.get(_key(login))
    except redis.RedisError:
        logger.warning("account list cache unavailable; listing at Schwab")
        return None
    if not isinstance(entry, dict):
        return None
    known = KnownAccounts(tuple(entry["ids"]), datetime.fromisoformat(entry["listed_at"]))
    _remember_here(login, known)
    return known


def _remember_here(login: Login, known: KnownAccounts) -> None:
    with _memo_lock:
        if len(_memo) >= _MEMO_SIZE:
            _memo.clear()
        _memo[login] = (time.monotonic() + _MEMO_SECONDS, known)


def forget_here() -> None:
    """Drop this process's memo (tests)."""
    with _memo_lock:
        _memo.clear()


def remember_accounts(login: Login, account_ids: list[str], *, listed_at: datetime) -> None:
    """Remember what Schwab listed for this login (best effort: a cache outage only costs a listing)."""
    entry = {"ids": list(account_ids), "listed_at": listed_at.isoformat()}
    _remember_here(login, KnownAccounts(tuple(account_ids), listed_at))
    try:
        cache.set(_key(login), entry, _KEEP_SECONDS)
    except redis.RedisError:
        logger.warning("account list cache unavailable; the list was not remembered")
