"""The stream worker (`manage.py schwab_stream`): Schwab's streamer to Redis, for every active connection.

One asyncio process holds one streamer socket per connection it leases. Several workers (on several
machines) share the fleet through leases in Redis: each connection is streamed by one worker at a time,
and a dead worker's connections are taken over within lease + poll seconds.

Per connection, a session: fetch `streamerInfo` and the account-number map by REST, LOGIN with a fresh
access token and SUBS to ACCT_ACTIVITY in one frame, then **catch up by REST** (list the accounts' orders
and record what changed while no socket was open), then follow the socket. Each order message leads to one
REST read of that order (reads of one order are coalesced), and the order's new state is recorded as an
event (`order_events.record`: once per change, whoever sees it), merged into live_data:orders and
announced; a fill, a cancel or a replace also refreshes the account's positions and balances at once (one
refresh at a time per account, within the shared limits). Any doubt (a dropped socket, a failed read,
silence past the heartbeat allowance, a refused login) ends the session; the next one starts with a
catch-up, so the event history has no holes. Schwab does not replay, so the catch-up is what makes it
complete; the recorded states are what keep it duplicate-free.

Blocking work (the database, REST, Redis) runs on a thread pool; the event loop only moves frames.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import random
import secrets
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import redis
import websockets
from django.db import DatabaseError, close_old_connections, connections
from websockets.exceptions import ConnectionClosed, WebSocketException

from LiveData.schwab.conf import SchwabSettings, schwab_settings
from LiveData.schwab.connection import accounts, services
from LiveData.schwab.connection.session import TraderSession
from LiveData.schwab.exceptions import (
    SchwabError,
    SchwabReauthRequired,
    StreamerBusy,
    StreamerError,
    StreamerLoginDenied,
)
from LiveData.schwab.live_data import refresh
from LiveData.schwab.models import REFRESH_TOKEN_LIFETIME, BrokerConnection, RecordedOrderState
from LiveData.schwab.orders import order_reads
from LiveData.schwab.streaming import stream_registry
from LiveData.schwab.streaming.stream_protocol import (
    CLOSE_CONNECTION,
    LOGIN_DENIED,
    SUCCESS,
    Activity,
    Heartbeat,
    Notice,
    Reply,
    StreamerInfo,
    login_and_subscribe,
    logout,
    parse,
)
from LiveData.shared import clock, contract, leases, order_events, publisher

logger = logging.getLogger(__name__)
T = TypeVar("T")
BACKOFF_BASE_SECONDS = 1.0
BUSY_BACKOFF_SECONDS = 30.0  # code 12: another socket holds the Schwab login (e.g. a shared login)
STABLE_AFTER_SECONDS = 60.0  # a session that lasted this long resets the back-off


def backoff_delay(attempt: int, *, maximum: float) -> float:
    """Exponential back-off with full jitter: uniform in [0, min(maximum, base x 2^attempt)]."""
    return random.uniform(0, min(maximum, BACKOFF_BASE_SECONDS * 2 ** min(attempt, 16)))  # noqa: S311


async def receive(socket_: Any, seconds: float) -> Any:
    """The socket's next frame; TimeoutError after `seconds`. Not asyncio.wait_for: on Python 3.11 it
    returns a frame that arrives with a cancel and drops the cancel, so a stream told to stop went on
    following (and logged in again), holding the login's one streamer session."""
    async with asyncio.timeout(seconds):
        return await socket_.recv()


def active_connections() -> dict[int, int]:
    """The connections that can stream now (active, with a living refresh token): id -> generation."""
    alive_since = clock.now() - REFRESH_TOKEN_LIFETIME
    rows = BrokerConnection.objects.filter(
        status=BrokerConnection.Status.ACTIVE, logged_in_at__gt=alive_since
    ).values_list("pk", "generation")
    return dict(rows)


# Streamer messages that say the account has moved (a fill, a cancel done): its refresh starts at once.
_ACCOUNT_MOVED = frozenset({"OrderFillCompleted", "OrderUROutCompleted"})


def _moves_the_account(order: dict[str, Any]) -> bool:
    """Whether a recorded change of the order changed the account: a fill (partial or whole), a cancel, a
    replace."""
    filled = order.get("filled_quantity")
    return order["status"] in ("FILLED", "CANCELED", "REPLACED") or bool(filled and Decimal(filled) > 0)


def recorded_states(account_id: str) -> dict[str, str]:
    """The durable copy of the account's recorded order states, within the catch-up's reach."""
    since = clock.now() - schwab_settings().stream_catch_up - timedelta(days=1)
    rows = RecordedOrderState.objects.filter(account_id=account_id, recorded_at__gte=since)
    return dict(rows.values_list("order_id", "state"))


def _close_connections(barrier: threading.Barrier) -> None:
    barrier.wait(timeout=5)  # a thread still busy past this breaks the barrier; its connection goes with it
    connections.close_all()


def live_workers() -> int:
    """How many stream workers reported within a lease (this one included, once it has reported)."""
    return max(1, len(stream_registry.live_reports()))


@dataclass
class WorkerStats:
    events: int = 0
    last_event_at: datetime | None = None
    lag_ms: int | None = None  # Schwab's message timestamp to the event recorded, for the last event
    sockets: int = 0  # sessions logged in, subscribed and caught up: following live now
    messages: int = 0  # account activity messages received


class StreamWorker:
    def __init__(self, *, worker_id: str | None = None, threads: int = 16) -> None:
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.conf = schwab_settings()
        self.stats = WorkerStats()
        self.streams: dict[int, ConnectionStream] = {}
        self._threads = threads
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="schwab-stream")

    async def blocking(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run database, REST or Redis work on the pool, leaving the thread's connections tidy."""

        def run() -> T:
            close_old_connections()
            try:
                return function(*args, **kwargs)
            finally:
                close_old_connections()

        return await asyncio.get_running_loop().run_in_executor(self._executor, run)

    def reading(self) -> bool:
        """Whether an order read (set off by a message) is in flight on any of the streams."""
        return any(stream.reading() for stream in self.streams.values())

    @property
    def lease_ms(self) -> int:
        return int(self.conf.stream_lease_seconds * 1000)

    async def run(self, stop: asyncio.Event) -> None:
        """Take, keep and let go of connections until `stop` is set; then log out of every socket."""
        logger.info("stream worker %s started", self.worker_id)
        try:
            while not stop.is_set():
                try:
                    await self.round()
                except (redis.RedisError, DatabaseError) as failure:
                    logger.warning("stream worker round failed: %s", type(failure).__name__)
                with suppress(TimeoutError):
                    async with asyncio.timeout(self.conf.stream_poll_seconds):
                        await stop.wait()
        finally:
            for connection_id in list(self.streams):
                await self._drop(connection_id)
            with suppress(redis.RedisError):
                await self.blocking(stream_registry.remove, self.worker_id)
            # Each pool thread keeps its database connection between calls: close them, each on its own
            # thread (a barrier holds every call on a distinct one), then wait for any work still in
            # flight (a REST read, at most the HTTP timeout), so none outlives the worker.
            barrier = threading.Barrier(self._threads)
            await asyncio.gather(
                *(self.blocking(_close_connections, barrier) for _ in range(self._threads)),
                return_exceptions=True,
            )
            self._executor.shutdown(wait=True, cancel_futures=True)
            logger.info("stream worker %s stopped", self.worker_id)

    async def round(self) -> None:
        """One pass: renew what is held, let go of what is gone, take what is free, report."""
        wanted = await self.blocking(active_connections)
        await self.blocking(self._beat)  # first, so workers starting together see each other
        # A fair share each, so the fleet spreads over the workers; what is over it is handed back (the
        # taker catches up, so nothing is lost in the handover).
        share = min(
            self.conf.stream_max_connections, math.ceil(len(wanted) / await self.blocking(live_workers))
        )
        if len(self.streams) > share:
            for connection_id in random.sample(list(self.streams), len(self.streams) - share):
                await self._drop(connection_id)
        for connection_id, stream in list(self.streams.items()):
            keep = wanted.get(connection_id) == stream.generation and not stream.task.done()
            if keep:
                keep = await self.blocking(
                    leases.hold,
                    contract.stream_lease_key(connection_id),
                    self.worker_id,
                    ttl_ms=self.lease_ms,
                )
            if not keep:
                await self._drop(connection_id)
        free = [connection_id for connection_id in wanted if connection_id not in self.streams]
        random.shuffle(free)  # workers starting together spread the fleet between them
        for connection_id in free:
            if len(self.streams) >= share:
                break
            key = contract.stream_lease_key(connection_id)
            if await self.blocking(leases.hold, key, self.worker_id, ttl_ms=self.lease_ms):
                self.streams[connection_id] = ConnectionStream(self, connection_id, wanted[connection_id])
        await self.blocking(self._beat)

    async def _drop(self, connection_id: int) -> None:
        stream = self.streams[connection_id]
        stream.task.cancel()
        with suppress(asyncio.CancelledError, Exception):
            await stream.task
        with suppress(redis.RedisError):
            await self.blocking(leases.release, contract.stream_lease_key(connection_id), self.worker_id)
        del self.streams[connection_id]  # last: a connection is listed for as long as its lease is held

    def _beat(self) -> None:
        """Report this worker in the registry /schwab/health/ reads; forget the long dead."""
        stats = self.stats
        report = {
            "heartbeat_at": contract.timestamp(clock.now()),
            "connections": len(self.streams),
            "streaming": stats.sockets,
            "events": stats.events,
            "last_event_at": contract.timestamp(stats.last_event_at) if stats.last_event_at else None,
            "lag_ms": stats.lag_ms,
        }
        stream_registry.report(self.worker_id, report)
        stream_registry.prune()


@dataclass
class _Login:
    """What one session needs, read at its start (the account-number map stays in memory only)."""

    session: TraderSession
    info: StreamerInfo
    access_token: str = field(repr=False)
    accounts_by_number: dict[str, str] = field(repr=False)


class ConnectionStream:
    """One connection's sessions, one after another, for as long as its worker holds the lease."""

    def __init__(self, worker: StreamWorker, connection_id: int, generation: int) -> None:
        self.worker = worker
        self.conf: SchwabSettings = worker.conf
        self.connection_id = connection_id
        self.generation = generation
        self._force_refresh = False
        self._fetches: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._refetch: set[tuple[str, str]] = set()
        # The newest message per read, for its event (None: a periodic reconcile, no message).
        self._latest: dict[tuple[str, str], Activity | None] = {}
        self._refreshes: dict[str, asyncio.Task[None]] = {}  # account -> its refresh after a fill
        self._refresh_again: set[str] = set()
        self._heard_at: dict[tuple[str, str], float] = {}  # when the latest message of an order came
        self._read_since: dict[str, float] = {}  # account -> when its latest refresh began its read
        self.task = asyncio.create_task(self.run(), name=f"stream-{connection_id}")

    def reading(self) -> bool:
        return bool(self._fetches or self._refreshes)

    async def run(self) -> None:
        attempt = 0
        while True:
            started = time.monotonic()
            delay: float | None = None
            try:
                await self._session()
            except SchwabReauthRequired:
                logger.info("stream of connection %s ends: a new Schwab login is needed", self.connection_id)
                return
            except StreamerBusy:
                delay = BUSY_BACKOFF_SECONDS
            except StreamerLoginDenied:
                if not self._force_refresh:
                    self._force_refresh = True  # the token may be dead early: refresh, then log in again
                    delay = 0.0
            except (ConnectionClosed, WebSocketException, OSError, TimeoutError) as failure:
                logger.info("stream of connection %s dropped: %s", self.connection_id, type(failure).__name__)
            except (SchwabError, redis.RedisError, DatabaseError) as failure:
                code = getattr(failure, "code", type(failure).__name__)
                logger.warning("stream of connection %s failed: %s", self.connection_id, code)
            attempt = 0 if time.monotonic() - started > STABLE_AFTER_SECONDS else attempt + 1
            if delay is None:
                delay = backoff_delay(attempt, maximum=self.conf.stream_backoff_max_seconds)
            await asyncio.sleep(delay)

    def _prepare(self) -> _Login:
        connection = BrokerConnection.objects.select_related("user").get(pk=self.connection_id)
        if connection.generation != self.generation:
            raise SchwabReauthRequired  # another login now: the worker starts a new stream for it
        wait = self.conf.refresh_rate_limit_wait
        session = TraderSession(connection.user, rate_limit_wait=wait, background=True)
        session.use(connection)
        if self._force_refresh:
            token = services.connection_refresh(connection=connection, force=True)
        else:
            token = services.connection_access_token(connection=connection)
        info = StreamerInfo.from_preferences(session.get("/userPreference", path_name="user_preference"))
        numbers = accounts.account_numbers_fetch(session=session)
        by_number = {str(item.get("accountNumber")): str(item["hashValue"]) for item in numbers}
        return _Login(session=session, info=info, access_token=token, accounts_by_number=by_number)

    async def _session(self) -> None:
        login = await self.worker.blocking(self._prepare)
        async with websockets.connect(
            login.info.url, open_timeout=10, close_timeout=2, ping_interval=None, max_size=2**22
        ) as socket_:
            await socket_.send(login_and_subscribe(login.info, login.access_token))
            await self._expect(socket_, "LOGIN")
            self._force_refresh = False
            await self._expect(socket_, "SUBS")
            try:
                # Subscribed first, then caught up: whatever changes meanwhile arrives on the socket too.
                for account_id, changed in await self.worker.blocking(self._catch_up, login, None):
                    self._refresh_after(login, account_id, changed)
                self.worker.stats.sockets += 1  # streaming: following live from here on
                try:
                    await self._follow(socket_, login)
                finally:
                    self.worker.stats.sockets -= 1
            finally:
                for task in [*self._fetches.values(), *self._refreshes.values()]:
                    task.cancel()
                with suppress(ConnectionClosed, WebSocketException, OSError):
                    await socket_.send(logout(login.info))

    async def _expect(self, socket_: Any, command: str) -> None:
        """Wait for the reply to LOGIN or SUBS; raise unless it succeeded."""
        deadline = time.monotonic() + self.conf.stream_silence_seconds
        while True:
            frame = await receive(socket_, max(0.1, deadline - time.monotonic()))
            for message in parse(frame):
                if isinstance(message, Reply | Notice) and message.code == CLOSE_CONNECTION:
                    raise StreamerBusy
                if isinstance(message, Reply | Notice) and message.code == LOGIN_DENIED:
                    raise StreamerLoginDenied
                if isinstance(message, Reply) and message.command == command:
                    if message.code != SUCCESS:
                        raise StreamerError
                    return

    async def _follow(self, socket_: Any, login: _Login) -> None:
        """Act on frames until the socket ends or falls silent past the allowance. Every
        SCHWAB_STREAM_RECONCILE_SECONDS it also reads the orders again, as after a reconnect: a healthy
        socket can lose a message, and what it lost is recorded then (once, like anything recorded)."""
        broken = asyncio.Event()
        reconcile_at = time.monotonic() + self.conf.stream_reconcile_seconds
        while not broken.is_set():
            if time.monotonic() >= reconcile_at:
                reconcile_at = time.monotonic() + self.conf.stream_reconcile_seconds
                self._read_again(login, ("*", "*"), None, broken, socket_)
            frame = await receive(socket_, self.conf.stream_silence_seconds)
            for message in parse(frame):
                if isinstance(message, Activity):
                    self._on_activity(login, message, broken, socket_)
                elif isinstance(message, Notice) and message.code == LOGIN_DENIED:
                    self._force_refresh = True  # the token died under the session
                    raise StreamerLoginDenied
                elif isinstance(message, Notice | Reply) and message.code not in (SUCCESS, -1):
                    raise StreamerError
                elif isinstance(message, Heartbeat):
                    continue

    def _on_activity(self, login: _Login, activity: Activity, broken: asyncio.Event, socket_: Any) -> None:
        self.worker.stats.messages += 1
        account_id = login.accounts_by_number.get(activity.account_number)
        if account_id is None or activity.order_id is None:
            key = (account_id or "*", "*")  # an account or a message we cannot place: catch up
        else:
            key = (account_id, activity.order_id)
            if activity.message_type in _ACCOUNT_MOVED:
                # The account moved when Schwab says so: read it alongside the order, not after it.
                self._refresh_now(login, account_id)
        self._read_again(login, key, activity, broken, socket_)

    def _read_again(
        self,
        login: _Login,
        key: tuple[str, str],
        activity: Activity | None,
        broken: asyncio.Event,
        socket_: Any,
    ) -> None:
        """Read `key` (an order, or "*": the orders) once more: now, or after the read in flight."""
        self._latest[key] = activity
        self._heard_at[key] = time.monotonic()
        if key in self._fetches:
            self._refetch.add(key)  # one read in flight already: read once more after it
            return
        self._fetches[key] = asyncio.create_task(self._fetch(login, key, broken, socket_))

    async def _fetch(self, login: _Login, key: tuple[str, str], broken: asyncio.Event, socket_: Any) -> None:
        try:
            while True:
                self._refetch.discard(key)
                activity, heard = self._latest[key], self._heard_at[key]
                account_id, order_id = key
                if order_id == "*" or activity is None:
                    caught_up = await self.worker.blocking(
                        self._catch_up, login, None if account_id == "*" else account_id
                    )
                else:
                    changed = await self.worker.blocking(
                        self._record_order, login, account_id, order_id, activity
                    )
                    caught_up = [(account_id, changed)]
                for changed_account, changed in caught_up:
                    if self._read_since.get(changed_account, float("-inf")) < heard:
                        self._refresh_after(login, changed_account, changed)
                    # else a refresh that began after the message came covers it already
                if key not in self._refetch:
                    return
        except (SchwabError, redis.RedisError, DatabaseError) as failure:
            # Not recorded: end the session, so the next one's catch-up reads what this missed.
            logger.warning(
                "order read failed (%s); reconnecting", getattr(failure, "code", type(failure).__name__)
            )
            broken.set()
            await socket_.close()
        finally:
            self._fetches.pop(key, None)
            self._latest.pop(key, None)
            self._heard_at.pop(key, None)

    def _record_order(
        self, login: _Login, account_id: str, order_id: str, activity: Activity
    ) -> list[dict[str, Any]]:
        document = order_reads.order_get(session=login.session, account_id=account_id, order_id=order_id)
        changed = self._record(account_id, [document], source="stream", schwab_event=activity.message_type)
        if activity.timestamp_ms is not None:
            self.worker.stats.lag_ms = max(0, int(time.time() * 1000) - activity.timestamp_ms)
        return changed

    def _catch_up(self, login: _Login, only_account: str | None) -> list[tuple[str, list[dict[str, Any]]]]:
        """Read the accounts' orders by REST and record what changed since the last recorded state; return
        each account's changed orders."""
        now = clock.now()
        since = now - self.conf.stream_catch_up
        caught_up = []
        for account_id in sorted(set(login.accounts_by_number.values())):
            if only_account is not None and account_id != only_account:
                continue
            documents = order_reads.orders_list(
                session=login.session, account_id=account_id, since=since, until=now
            )
            changed = self._record(
                account_id, list(reversed(documents)), source="catch_up", schwab_event=None
            )
            order_reads.recent_orders_publish(account_id=account_id, documents=documents, as_of=now)
            caught_up.append((account_id, changed))
        return caught_up

    def _refresh_after(self, login: _Login, account_id: str, changed: list[dict[str, Any]]) -> None:
        """A fill, a cancel or a replace moves the account's positions and balances: fetch and publish
        them now (one refresh at a time per account; changes meanwhile make one more)."""
        if any(_moves_the_account(document) for document in changed):
            self._refresh_now(login, account_id)

    def _refresh_now(self, login: _Login, account_id: str) -> None:
        if account_id in self._refreshes:
            self._refresh_again.add(account_id)
            return
        self._refreshes[account_id] = asyncio.create_task(self._refresh(login, account_id))

    async def _refresh(self, login: _Login, account_id: str) -> None:
        try:
            while True:
                self._refresh_again.discard(account_id)
                self._read_since[account_id] = time.monotonic()
                try:
                    await self.worker.blocking(
                        refresh.account_refresh, session=login.session, account_id=account_id
                    )
                except (SchwabError, redis.RedisError, DatabaseError) as failure:
                    # Not fatal to the stream: the refresher's next round publishes what this could not.
                    code = getattr(failure, "code", type(failure).__name__)
                    logger.warning("account refresh after an order change failed: %s", code)
                if account_id not in self._refresh_again:
                    return
        finally:
            self._refreshes.pop(account_id, None)

    def _record(
        self, account_id: str, documents: list[dict[str, Any]], *, source: Any, schwab_event: str | None
    ) -> list[dict[str, Any]]:
        if not order_events.has_states(account_id):  # new here, or Redis lost its data: bring them back
            order_events.restore_states(account_id, recorded_states(account_id))
        changed = []
        for document in documents:
            at = clock.now()
            entry = order_events.record(
                account_id=account_id,
                order=document,
                source=source,
                schwab_event=schwab_event,
                at=at,
                max_length=self.conf.order_events_max_length,
            )
            if entry is not None:
                RecordedOrderState.objects.update_or_create(
                    account_id=account_id,
                    order_id=document["order_id"],
                    defaults={"state": order_events.state_text(document), "recorded_at": at},
                )
                changed.append(document)
                self.worker.stats.events += 1
                self.worker.stats.last_event_at = at
        if changed and source == "stream":
            publisher.merge_orders(
                account_id=account_id, source=order_reads.SOURCE, orders=changed, at=clock.now()
            )
        return changed
