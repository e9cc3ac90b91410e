"""Reads for the views: a connection's state, the latest published snapshots, the summary card.

The summary is served from Redis while the balances snapshot is fresh; only when it is due does one
refresh run, shared by concurrent requests for the same account in a process.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import redis

from LiveData.schwab.conf import schwab_settings
from LiveData.schwab.connection import accounts
from LiveData.schwab.connection.session import TraderSession
from LiveData.schwab.connection.singleflight import SingleFlight
from LiveData.schwab.exceptions import RedisUnavailable, SchwabApiError
from LiveData.schwab.live_data import refresh, summary
from LiveData.schwab.models import BrokerConnection
from LiveData.shared import clock, contract, reader

_refreshes: SingleFlight[Mapping[str, dict[str, Any]]] = SingleFlight()


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def connection_status(*, user_id: int | str) -> dict[str, Any]:
    """Connected or not, the connection's state and expiries; never a token."""
    connection = BrokerConnection.objects.filter(user_id=user_id).first()
    if connection is None:
        return {"connected": False, "status": "not_connected"}
    state = connection.state
    return {
        "connected": state in ("active", "expiring"),
        "status": state,
        "connected_at": _iso(connection.logged_in_at),
        "access_token_expires_at": _iso(connection.access_token_expires_at),
        "refresh_token_expires_at": _iso(connection.refresh_token_expires_at),
        "last_refreshed_at": _iso(connection.last_refreshed_at),
        "last_error": connection.last_error_code or None,
    }


def latest_positions(*, session: TraderSession, account_id: str) -> dict[str, Any] | None:
    """The positions snapshot last published for one of the user's accounts, from Redis only."""
    accounts.account_authorize(session=session, account_id=account_id)
    try:
        return reader.latest_positions(account_id)
    except redis.RedisError:
        raise RedisUnavailable from None


def account_summary(*, session: TraderSession, account_id: str) -> dict[str, Any]:
    """The summary card, from a fresh enough snapshot in Redis; otherwise one shared refresh. When Schwab
    fails and a snapshot exists, the last good numbers, marked stale."""
    accounts.account_authorize(session=session, account_id=account_id)
    now = clock.now()
    try:
        balances = reader.latest_balances(account_id)
    except redis.RedisError:
        raise RedisUnavailable from None
    if balances is not None and not _due(balances, now):
        return summary.build(balances=balances, now=now)
    try:
        fresh = _refreshes.do(
            account_id, lambda: refresh.account_refresh(session=session, account_id=account_id)
        )
    except SchwabApiError:
        if balances is None:
            raise
        with contextlib.suppress(redis.RedisError):  # serve the last good numbers, marked stale
            balances = reader.latest_balances(account_id) or balances
        return summary.build(balances=balances, now=now)
    return summary.build(balances=fresh[contract.BALANCES], now=now)


def _due(envelope: dict[str, Any], now: datetime) -> bool:
    """A snapshot is due for a refresh when it is stale or older than SCHWAB_SUMMARY_MAX_AGE_SECONDS."""
    try:
        moment = contract.parse_timestamp(envelope.get("published_at", ""))
    except ValueError:
        return True
    return bool(envelope.get("stale")) or now - moment > schwab_settings().summary_max_age
