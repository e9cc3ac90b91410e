"""What /schwab/health/ reports: Redis, the database, the age of the oldest published snapshot and the
stream workers' state (nothing about any account)."""

from __future__ import annotations

from typing import Any

import redis
from django.db import DatabaseError
from django.db import connection as db_connection

from LiveData.schwab.streaming import stream_registry
from LiveData.shared import clock, reader


def checks() -> dict[str, Any]:
    """Redis, the database, the age of the oldest published snapshot and the stream workers' state
    (nothing about any account)."""
    checks: dict[str, Any] = {
        "redis": "ok",
        "database": "ok",
        "oldest_snapshot_age_seconds": None,
        "streaming": None,
    }
    try:
        oldest = reader.oldest_publish()
        if oldest is not None:
            checks["oldest_snapshot_age_seconds"] = max(0, int((clock.now() - oldest).total_seconds()))
        checks["streaming"] = stream_registry.fleet_status()
    except redis.RedisError:
        checks["redis"] = "unavailable"
    try:
        with db_connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        checks["database"] = "unavailable"
    return checks
