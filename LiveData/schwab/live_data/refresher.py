"""Background refresh: every active connection's accounts, without a browser, within Schwab's limits.

Celery tasks (`tasks.py`) and `manage.py livedata_refresh` both run this. One trader's failure never stops
the others; a connection that keeps failing backs off (base x 2^(failures-1), capped), and a connection
that needs a new login is skipped until the trader reconnects. Each account refresh is logged as
structured fields (event, connection, account masked, outcome, duration_ms), never a token or number.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

import redis
from django.db import close_old_connections
from django.db import connection as db_connection

from LiveData.schwab.conf import schwab_settings
from LiveData.schwab.connection import accounts, services
from LiveData.schwab.connection.session import TraderSession
from LiveData.schwab.exceptions import SchwabError, SchwabReauthRequired
from LiveData.schwab.live_data import refresh
from LiveData.schwab.models import BrokerConnection
from LiveData.schwab.orders import order_reads
from LiveData.shared import contract, logs
from LiveData.shared.redis_client import get_redis

logger = logging.getLogger("livedata.refresh")
T = TypeVar("T")


@dataclass(frozen=True)
class Outcome:
    connection_id: int
    account: str  # masked: the last 6 characters of the opaque account id
    outcome: str  # "ok", "skipped:<why>", or an error code
    duration_ms: float

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


def _mask(account_id: str) -> str:
    return f"…{account_id[-6:]}"


def active_connection_ids() -> list[int]:
    return list(
        BrokerConnection.objects.filter(status=BrokerConnection.Status.ACTIVE)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _record(connection_id: int, failed: bool) -> None:
    client = get_redis()
    if not failed:
        client.delete(contract.refresh_failures_key(connection_id))
        return
    failures = int(client.incr(contract.refresh_failures_key(connection_id)))
    conf = schwab_settings()
    client.expire(contract.refresh_failures_key(connection_id), conf.backoff_max_seconds * 2)
    delay = min(conf.backoff_base_seconds * 2 ** (failures - 1), conf.backoff_max_seconds)
    client.set(contract.refresh_backoff_key(connection_id), failures, ex=int(delay))


def _log(outcome: Outcome) -> None:
    level = logging.INFO if outcome.ok or outcome.outcome.startswith("skipped") else logging.WARNING
    logger.log(
        level,
        "account refresh",
        extra={
            "event": "livedata.refresh",
            "connection": outcome.connection_id,
            "account": outcome.account,
            "outcome": outcome.outcome,
            "duration_ms": f"{outcome.duration_ms:.1f}",
        },
    )


def _session_for(connection_id: int) -> tuple[TraderSession | None, str]:
    connection = BrokerConnection.objects.select_related("user").filter(pk=connection_id).first()
    if connection is None or connection.status != BrokerConnection.Status.ACTIVE:
        return None, "skipped:inactive"
    try:
        if get_redis().exists(contract.refresh_backoff_key(connection_id)):
            return None, "skipped:backing_off"
    except redis.RedisError:
        return None, "redis_unavailable"
    wait = schwab_settings().refresh_rate_limit_wait
    session = TraderSession(connection.user, rate_limit_wait=wait, background=True)
    session.use(connection)  # the row just read: its tokens and its login, without reading them again
    return session, ""


def list_accounts(connection_id: int) -> tuple[TraderSession | None, list[str], Outcome | None]:
    """The connection's account ids (one upstream listing), or the outcome that stops it."""
    started = time.perf_counter()
    session, why = _session_for(connection_id)
    if session is None:
        return None, [], Outcome(connection_id, "-", why, 0.0)
    try:
        return session, list(accounts.account_ids(session=session)), None
    except SchwabError as error:
        code, failed = error.code, not isinstance(error, SchwabReauthRequired)
    except Exception as bug:  # as in refresh_one: this connection's round ends, the others' go on
        logger.error("account listing failed: %s", logs.unexpected(bug), extra={"connection": connection_id})
        code, failed = "internal_error", True
    _record(connection_id, failed=failed)
    outcome = Outcome(connection_id, "-", code, (time.perf_counter() - started) * 1000)
    _log(outcome)
    return None, [], outcome


def refresh_one(session: TraderSession, connection_id: int, account_id: str) -> Outcome:
    started = time.perf_counter()
    try:
        refresh.account_refresh(session=session, account_id=account_id)
        code = "ok"
    except SchwabError as error:
        code = error.code
    except Exception as bug:  # a bug met by one account: logged, backed off, and the round goes on
        logger.error("account refresh failed: %s", logs.unexpected(bug), extra={"connection": connection_id})
        code = "internal_error"
    if code == "ok" and order_reads.has_open_orders(account_id):  # follow working orders until they close
        order_reads.orders_publish(session=session, account_id=account_id)
    outcome = Outcome(connection_id, _mask(account_id), code, (time.perf_counter() - started) * 1000)
    _log(outcome)
    return outcome


def refresh_connection(connection_id: int) -> list[Outcome]:
    """Refresh every account of one connection, one after another (a Celery task's unit of work)."""
    session, account_ids, stopped = list_accounts(connection_id)
    if session is None:
        return [stopped] if stopped else []
    outcomes = [refresh_one(session, connection_id, account_id) for account_id in account_ids]
    _record(connection_id, failed=any(not o.ok and o.outcome != "schwab_reauth_required" for o in outcomes))
    return outcomes


def _closing_db(work: Callable[[], T]) -> T:
    """Run `work` in a pool thread, closing that thread's database connection afterwards."""
    try:
        return work()
    finally:
        db_connection.close()


def refresh_all(
    connection_ids: Iterable[int] | None = None,
    *,
    concurrency: int = 8,
    progress: Callable[[int, int], None] | None = None,
) -> list[Outcome]:
    """Refresh every active connection's accounts, `concurrency` upstream calls at a time."""
    close_old_connections()
    if connection_ids is None:  # a full round also repairs ownership marks that a Redis outage left behind
        try:
            services.ownership_reconcile()
        except redis.RedisError:
            logger.warning("ownership reconcile skipped: redis unavailable")
    ids = list(connection_ids) if connection_ids is not None else active_connection_ids()
    outcomes: list[Outcome] = []
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="livedata-refresh") as pool:
        listings = list(pool.map(lambda pk: _closing_db(partial(list_accounts, pk)), ids))
        work: list[tuple[TraderSession, int, str]] = []
        for connection_id, (session, account_ids, stopped) in zip(ids, listings, strict=True):
            if stopped is not None:
                outcomes.append(stopped)
            if session is not None:
                work += [(session, connection_id, account_id) for account_id in account_ids]
        total = len(work)
        futures = [pool.submit(_closing_db, partial(refresh_one, *item)) for item in work]
        for done, future in enumerate(futures, start=1):
            outcomes.append(future.result())
            if progress is not None:
                progress(done, total)
    by_connection: dict[int, bool] = {}
    for outcome in outcomes:
        if outcome.account != "-":
            failed = not outcome.ok and outcome.outcome != "schwab_reauth_required"
            by_connection[outcome.connection_id] = by_connection.get(outcome.connection_id, False) or failed
    for connection_id, failed in by_connection.items():
        try:
            _record(connection_id, failed=failed)
        except redis.RedisError:
            logger.warning("could not record refresh outcome: redis unavailable")
    return outcomes
