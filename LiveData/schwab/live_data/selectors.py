"""Reads for the views: a connection's state and the latest published snapshots. A selector only reads:
nothing here calls Schwab or writes (the summary card, which may refresh, is `refresh.account_summary`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import redis

from LiveData.schwab.connection import accounts
from LiveData.schwab.connection.session import TraderSession
from LiveData.schwab.exceptions import RedisUnavailable
from LiveData.schwab.models import BrokerConnection
from LiveData.shared import reader


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
