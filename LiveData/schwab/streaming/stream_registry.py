"""The stream workers' registry in Redis: each worker's last report, what /schwab/health/ and the fleet's
fair share read. Workers write and prune it; readers only read (a GET never changes anything)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from LiveData.schwab.conf import schwab_settings
from LiveData.shared import clock, contract
from LiveData.shared.redis_client import get_redis

FORGET_AFTER_LEASES = 100  # a worker silent this long was killed, never stopped: its report goes


def report(worker_id: str, document: dict[str, Any]) -> None:
    """Record this worker's report (its heartbeat_at says when)."""
    get_redis().hset(contract.STREAM_WORKERS_KEY, worker_id, json.dumps(document))


def remove(worker_id: str) -> None:
    """A worker that stops takes its report out."""
    get_redis().hdel(contract.STREAM_WORKERS_KEY, worker_id)


def reports() -> list[tuple[float, dict[str, Any]]]:
    """Every worker's last readable report with its age in seconds (read only)."""
    now = clock.now()
    found: Any = get_redis().hgetall(contract.STREAM_WORKERS_KEY)
    readable = []
    for text in found.values():
        document = _read(text)
        if document is not None:
            readable.append((_silent(document, now), document))
    return readable


def live_reports() -> list[tuple[float, dict[str, Any]]]:
    """The reports of workers heard from within a lease."""
    lease = schwab_settings().stream_lease_seconds
    return [(age, document) for age, document in reports() if age <= lease]


def fleet_status() -> dict[str, Any]:
    """For /schwab/health/: live stream workers, connections streamed, last heartbeat age, lag."""
    live = live_reports()
    lags = [report["lag_ms"] for _, report in live if report.get("lag_ms") is not None]
    return {
        "workers": len(live),
        "connections": sum(report.get("connections", 0) for _, report in live),
        "streaming": sum(report.get("streaming", 0) for _, report in live),
        "last_heartbeat_age_seconds": round(min(age for age, _ in live), 3) if live else None,
        "lag_ms": max(lags) if lags else None,
    }


def prune() -> None:
    """Remove the reports of workers silent for FORGET_AFTER_LEASES leases (run by the workers)."""
    limit = FORGET_AFTER_LEASES * schwab_settings().stream_lease_seconds
    now = clock.now()
    found: Any = get_redis().hgetall(contract.STREAM_WORKERS_KEY)
    gone = [
        worker
        for worker, text in found.items()
        if (document := _read(text)) is None or _silent(document, now) > limit
    ]
    if gone:
        get_redis().hdel(contract.STREAM_WORKERS_KEY, *gone)


def _read(text: str) -> dict[str, Any] | None:
    """A report as a worker wrote it; None for anything else (which the workers' pruning removes)."""
    try:
        document = json.loads(text)
        contract.parse_timestamp(document["heartbeat_at"])
    except (ValueError, TypeError, KeyError):
        return None
    return document if isinstance(document, dict) else None


def _silent(document: dict[str, Any], now: datetime) -> float:
    return float((now - contract.parse_timestamp(document["heartbeat_at"])).total_seconds())
