"""Celery tasks: the background refresh, spread over every worker on every machine.

Beat enqueues `refresh_all_connections` every LIVEDATA_REFRESH_INTERVAL_SECONDS; it fans out one
`refresh_connection` per active connection, so the work spreads across workers, while the rate limits
(shared in Redis) hold for all of them together.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from celery import shared_task

from LiveData.schwab.connection import reminders, services
from LiveData.schwab.live_data import refresher
from LiveData.schwab.orders import order_service


@shared_task(name="livedata.refresh_connection", acks_late=True)
def refresh_connection(connection_id: int) -> list[dict[str, Any]]:
    return [asdict(outcome) for outcome in refresher.refresh_connection(connection_id)]


@shared_task(name="livedata.refresh_all_connections")
def refresh_all_connections() -> int:
    ids = refresher.active_connection_ids()
    for connection_id in ids:
        refresh_connection.delay(connection_id)
    return len(ids)


@shared_task(name="livedata.refresh_expiring_tokens")
def refresh_expiring_tokens() -> dict[str, int]:
    refreshed, failed = services.refresh_expiring_tokens(within_minutes=10)
    return {"refreshed": refreshed, "failed": failed}


@shared_task(name="livedata.settle_order_requests")
def settle_order_requests() -> dict[str, int]:
    settled = order_service.settle_stuck()
    return {state: sum(row.state == state for row in settled) for state in {row.state for row in settled}}


@shared_task(name="livedata.send_login_reminders")
def send_login_reminders() -> int:
    return reminders.send_login_reminders()
