"""The page's live channel: the body of GET /schwab/orders/stream/ (ASGI only), server-sent events of the
user's order events, and of the states of the accounts the user owns (positions, balances, the summary
card) and of their connection (`live_state`).

Each account's events are a Redis Stream (`contract.order_events_key`), so an entry id is a position a
client can come back to. An SSE `id` is the client's position in every account it follows,
`<account_id>=<entry id>,...`; the browser sends the last one back as Last-Event-ID when it reconnects,
and the stream resumes right after it: every event once, none skipped. A cursor for an account the user
does not own is ignored; one that is not a cursor at all is refused (400).

An open stream is a login that lasts: at each heartbeat it checks, as Django would, that its session is
still logged in, its user active and its password unchanged (`stream_logins`), and ends when not.

One reader per process (`_Hub`) follows, with a single blocking XREAD, every account that any open stream
follows, and hands each entry to those streams' queues; an open stream costs a queue, not a Redis
connection or a thread. Each entry goes only to the streams of the account's owners as of that moment
(one read of the owners index per batch, whatever the number of streams). A stream whose user no longer
owns an account it follows, or whose accounts changed (checked at each heartbeat), ends, and the browser
reconnects with the accounts it may see now.

The hub also listens to the snapshot notifications (one PSUBSCRIBE per process) and to ownership changes.
On a notification for a followed account it reads the snapshot once and hands the same text to every
owner's stream; an ownership change makes the user's streams check at once (their accounts, their
connection's state). A stream starts with the current states, and after the hub's subscription was lost
and made again, every followed account's states are sent anew: a lost notification never stays lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import weakref
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import redis
from asgiref.sync import SyncToAsync
from django.db import DatabaseError, connections

from LiveData.schwab.conf import schwab_settings
from LiveData.schwab.exceptions import InvalidLastEventId, RedisUnavailable
from LiveData.schwab.live_data import selectors
from LiveData.schwab.streaming import live_state, stream_logins
from LiveData.shared import clock, contract
from LiveData.shared.redis_client import get_async_redis

logger = logging.getLogger(__name__)

Cursor = dict[str, str]  # account_id -> the last entry id delivered
_PART = re.compile(r"([A-Za-z0-9_-]{1,128})=(\d{1,20}-\d{1,20})")
MAX_CURSOR_LENGTH = 4096  # under servers' header limits (gunicorn: 8190)
BACKLOG_LIMIT = 1000  # entries resent per account on resume; older ones mean "reload" (event: reset)
QUEUE_LIMIT = 1000  # a client this far behind is closed; it resumes from its Last-Event-ID
READ_BLOCK_MS = 1000  # how long the hub's XREAD waits (also how soon it follows a newly watched account)
RETRY_MS = 2000  # what the browser waits before reconnecting
NOTES_PER_BATCH = 500  # notifications read together, their snapshots read in one round trip


def read_last_event_id(text: str | None) -> Cursor:
    """A Last-Event-ID as this stream wrote it; InvalidLastEventId for anything else."""
    if not text:
        return {}
    parts = text.split(",")
    if len(text) > MAX_CURSOR_LENGTH or not all(_PART.fullmatch(part) for part in parts):
        raise InvalidLastEventId
    return dict(part.split("=", 1) for part in parts)


def event_id(cursor: Cursor) -> str:
    return ",".join(f"{account}={entry}" for account, entry in sorted(cursor.items()))


def _position(entry_id: str) -> tuple[int, int]:
    milliseconds, _, sequence = entry_id.partition("-")
    return int(milliseconds), int(sequence or 0)


# What a stream's queue holds: an order event (account, entry id, JSON), a state, or None: "check again"
# (ownership or the connection changed).
Item = tuple[str, str, str] | live_state.State | None
SNAPSHOT_PATTERNS = tuple(contract.channel_pattern(kind) for kind in contract.KINDS)


def sse(event: str, data: str, cursor: Cursor | None = None) -> bytes:
    head = f"id: {event_id(cursor)}\n" if cursor is not None else ""
    return f"{head}event: {event}\ndata: {data}\n\n".encode()


@dataclass(eq=False)
class _Listener:
    user_id: str
    accounts: frozenset[str]
    queue: asyncio.Queue[Item] = field(default_factory=lambda: asyncio.Queue(QUEUE_LIMIT))
    overflowed: bool = False

    def offer(self, item: Item) -> None:
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.overflowed = True


class _Hub:
    """The process's one reader of the account streams that open SSE streams follow (per event loop)."""

    def __init__(self) -> None:
        self.client: Any = get_async_redis()  # typed loosely: redis-py's asyncio stubs are unions
        self.listeners: dict[str, set[_Listener]] = {}
        self.users: dict[str, set[_Listener]] = {}
        self.positions: dict[str, str] = {}  # account -> the last entry read
        self.reader: asyncio.Task[None] | None = None
        self.pubsub: Any = None
        self.subscribing = asyncio.Lock()
        self.notes: asyncio.Task[None] | None = None

    async def join(self, listener: _Listener) -> None:
        """Follow the listener's accounts; once this returns, every later event and notification of them
        reaches it (so what the stream reads next cannot miss one)."""
        async with self.subscribing:  # one subscription per process, however many streams join at once
            if self.pubsub is None:
                self.pubsub = await self._subscribe()
        for account in listener.accounts:
            if account not in self.positions:
                self.positions[account] = await latest_entry(self.client, account)
            self.listeners.setdefault(account, set()).add(listener)
        self.users.setdefault(listener.user_id, set()).add(listener)
        if self.reader is None or self.reader.done():
            self.reader = asyncio.create_task(self._read())
        if self.notes is None or self.notes.done():
            self.notes = asyncio.create_task(self._listen())

    def leave(self, listener: _Listener) -> None:
        for account in listener.accounts:
            followers = self.listeners.get(account, set())
            followers.discard(listener)
            if not followers:
                self.listeners.pop(account, None)
                self.positions.pop(account, None)
        streams = self.users.get(listener.user_id, set())
        streams.discard(listener)
        if not streams:
            self.users.pop(listener.user_id, None)
        if not self.users:
            for task in (self.reader, self.notes):
                if task is not None:
                    task.cancel()
            self.reader = self.notes = None
            if self.pubsub is not None:
                asyncio.get_running_loop().create_task(self.pubsub.aclose())
                self.pubsub = None
            stream_logins.let_go()

    async def _read(self) -> None:
        while self.listeners:
            streams = {
                contract.order_events_key(account): self.positions[account] for account in self.listeners
            }
            try:
                found = await self.client.xread(streams, block=READ_BLOCK_MS, count=500)
            except redis.RedisError as failure:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise asyncio.CancelledError from None  # redis-py may turn our cancellation into this
                logger.warning("order stream read failed: %s", type(failure).__name__)
                await asyncio.sleep(READ_BLOCK_MS / 1000)  # Redis is away: try again, not in a tight loop
                continue
            by_key = {contract.order_events_key(account): account for account in self.listeners}
            for key, entries in found or []:
                account = by_key.get(key)
                if account is None or not entries:
                    continue
                self.positions[account] = entries[-1][0]
                try:
                    # Who may see it is decided now, as it is handed out (one read for every stream).
                    owners = await self.client.smembers(contract.account_owners_key(account))
                except redis.RedisError:
                    owners = set()
                for listener in list(self.listeners.get(account, ())):
                    if listener.user_id not in owners:
                        listener.offer(None)  # no longer the user's: the stream re-checks and ends
                        continue
                    for entry_id, fields in entries:
                        listener.offer((account, entry_id, fields.get("event", "{}")))

    async def _subscribe(self) -> Any:
        pubsub = self.client.pubsub()
        await pubsub.psubscribe(*SNAPSHOT_PATTERNS)
        await pubsub.subscribe(contract.OWNERSHIP_CHANNEL)
        return pubsub

    async def _listen(self) -> None:
        """Hand each notification of a followed account to its owners' streams; after a lost
        subscription, subscribe again and send every followed account's states anew."""
        while self.users:
            try:
                if self.pubsub is None:
                    async with self.subscribing:
                        self.pubsub = self.pubsub or await self._subscribe()
                    await self._hand_out({account: set(contract.KINDS) for account in self.listeners})
                note = await self.pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=READ_BLOCK_MS / 1000
                )
                notes: list[dict[str, Any]] = []
                while note is not None and len(notes) < NOTES_PER_BATCH:  # a burst: handled as one
                    notes.append(note)
                    note = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=0)
                if note is not None:
                    notes.append(note)
                await self._hand_out(self._wanted(notes))
            except redis.RedisError as failure:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise asyncio.CancelledError from None
                logger.warning("live channel subscription failed: %s", type(failure).__name__)
                if self.pubsub is not None:
                    with contextlib.suppress(redis.RedisError):
                        await self.pubsub.aclose()
                    self.pubsub = None
                await asyncio.sleep(READ_BLOCK_MS / 1000)  # Redis is away: try again, not in a tight loop

    def _wanted(self, notes: list[dict[str, Any]]) -> dict[str, set[str]]:
        """The followed accounts' snapshots the notes announce (kinds by account); an ownership change
        makes its user's streams check at once."""
        wanted: dict[str, set[str]] = {}
        for note in notes:
            channel = str(note["channel"])
            if channel == contract.OWNERSHIP_CHANNEL:
                user = str(json.loads(note["data"]).get("user_id"))
                for listener in list(self.users.get(user, ())):
                    listener.offer(None)  # its accounts or its login's mark changed: the stream checks now
                continue
            kind, _, account = channel.removeprefix(f"{contract.KEY_PREFIX}:").partition(":")
            if account in self.listeners and kind in contract.KINDS:
                wanted.setdefault(account, set()).add(kind)
        return wanted

    async def _hand_out(self, wanted: dict[str, set[str]]) -> None:
        """Read the snapshots once (all in one round trip, with their owners) and offer them to the
        streams of each account's owners."""
        if not wanted:
            return
        reads = [(account, sorted(kinds)) for account, kinds in wanted.items()]
        async with self.client.pipeline(transaction=False) as pipe:
            for account, kinds in reads:
                for kind in kinds:
                    pipe.get(contract.snapshot_key(kind, account))  # type: ignore[arg-type]
                pipe.smembers(contract.account_owners_key(account))
            answers = iter(await pipe.execute())
        now = clock.now()
        for account, kinds in reads:
            texts = [next(answers) for _ in kinds]
            owners = next(answers)
            states = [
                state
                for kind, text in zip(kinds, texts, strict=True)
                for state in live_state.snapshot_states(kind, account, text, now=now)
            ]
            for listener in list(self.listeners.get(account, ())):
                if listener.user_id not in owners:
                    listener.offer(None)
                    continue
                for state in states:
                    listener.offer(state)


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Hub] = weakref.WeakKeyDictionary()


def _hub() -> _Hub:
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None or hub.client is not get_async_redis():
        hub = _hubs[loop] = _Hub()
    return hub


async def latest_entry(client: Any, account: str) -> str:
    """The id of the account's newest event ("0-0" when there is none yet)."""
    last = await client.xrevrange(contract.order_events_key(account), count=1)
    return str(last[0][0]) if last else "0-0"


async def user_accounts(user_id: int | str) -> frozenset[str]:
    """The accounts the user's current login lists (the contract's ownership index)."""
    try:
        members = await get_async_redis().smembers(contract.user_accounts_key(user_id))
    except redis.RedisError:
        raise RedisUnavailable from None
    return frozenset(str(member) for member in members)


def _mark_of(connection: dict[str, Any]) -> str | None:
    """The ownership index's mark that goes with a connection's state."""
    status = connection.get("status")
    return (
        contract.ACTIVE
        if status in ("active", "expiring")
        else status
        if status == "reauth_required"
        else None
    )


async def login_mark(user_id: int | str) -> str | None:
    """The ownership index's mark of the user's broker login: active, reauth_required or None."""
    try:
        mark = await get_async_redis().get(contract.user_accounts_status_key(user_id))
    except redis.RedisError:
        raise RedisUnavailable from None
    return str(mark) if mark is not None else None


async def has_login(user_id: int | str) -> bool:
    """Whether the user has a broker login at all (active or awaiting renewal), per the ownership index."""
    return await login_mark(user_id) in (contract.ACTIVE, contract.REAUTH_REQUIRED)


async def events(
    user_id: int | str,
    accounts: frozenset[str],
    cursor: Cursor,
    still_signed_in: stream_logins.Check,
    connection: dict[str, Any],
) -> AsyncIterator[bytes]:
    """The SSE body: resume after `cursor`, then follow live, with heartbeats, until the stream's time is
    up, the login ends (`still_signed_in`, checked at each heartbeat), the user's accounts change or the
    client goes (the server cancels this generator). `connection` is the connection's state as the
    request found it. The answer has started, so a Redis or database failure can only end the stream:
    the browser comes back after `retry` and resumes from its last event's id."""
    await _let_go_of_the_request_thread()
    yield f"retry: {RETRY_MS}\n\n".encode()
    try:
        async with contextlib.aclosing(
            _follow(user_id, accounts, cursor, still_signed_in, connection)
        ) as chunks:  # leaves the hub when we end
            async for chunk in chunks:
                yield chunk
    except (redis.RedisError, RedisUnavailable) as failure:
        logger.warning("order stream ended early: redis %s", type(failure).__name__)
    except DatabaseError as failure:
        logger.warning("order stream ended early: database %s", type(failure).__name__)


async def _let_go_of_the_request_thread() -> None:
    """Django runs an ASGI request's synchronous parts (loading the session and the user, the middleware)
    on a thread of the request's own, with its own database connection, kept until the request ends: for
    a stream, hours, so a thousand streams would hold a thousand idle threads and database connections.
    From here on nothing synchronous runs, so close that thread's connections, on it, and let it go.
    asgiref has no public way to end a request's executor early: this uses its two class attributes, with
    asgiref pinned (requirements.txt). The public alternative, closing the connections only, measured 125
    KiB per open dashboard and a 238 ms fan-out p99 (bench/live.py) against 50 KiB and 29 ms."""
    try:
        context = SyncToAsync.thread_sensitive_context.get()
    except LookupError:
        return  # no request context of its own (a test client's request runs on the caller's thread)
    executor = SyncToAsync.context_to_thread_executor.pop(context, None)
    if executor is not None:
        await asyncio.get_running_loop().run_in_executor(executor, connections.close_all)
        executor.shutdown(wait=False)


async def _follow(
    user_id: int | str,
    accounts: frozenset[str],
    cursor: Cursor,
    still_signed_in: stream_logins.Check,
    connection: dict[str, Any],
) -> AsyncGenerator[bytes]:
    conf = schwab_settings()
    hub = _hub()
    client: Any = hub.client
    listener = _Listener(user_id=str(user_id), accounts=accounts)
    connection_status = partial(selectors.connection_status, user_id=user_id)
    try:
        await hub.join(listener)  # first join, then read the backlog: nothing falls between the two
        delivered: Cursor = {}
        ordered = sorted(accounts)
        async with client.pipeline(transaction=False) as pipe:  # every account's newest entry, one trip
            for account in ordered:
                pipe.xrevrange(contract.order_events_key(account), count=1)
            newest = await pipe.execute()
        for account, last in zip(ordered, newest, strict=True):
            latest = str(last[0][0]) if last else "0-0"
            after = cursor.get(account)
            if after is None or _position(after) >= _position(latest):
                delivered[account] = latest  # new here, or a cursor from the future: from now on
                continue
            delivered[account] = after
            backlog = await client.xrange(
                contract.order_events_key(account), min=f"({after}", count=BACKLOG_LIMIT
            )
            oldest = await client.xrange(contract.order_events_key(account), count=1)
            if oldest and _position(oldest[0][0]) > _position(after) and after != "0-0":
                yield sse("reset", json.dumps({"account_id": account, "reason": "events_trimmed"}))
            for entry_id, fields in backlog:
                delivered[account] = entry_id
                yield sse("order", fields.get("event", "{}"), delivered)
        # The states as they are now: whatever a resumed stream missed of them, this is newer.
        sent: dict[tuple[str, str], str] = {}
        for account in ordered:
            for state in await live_state.account_states(client, account, now=clock.now()):
                if live_state.newer(state, sent):
                    yield sse(state.event, state.data, delivered)
        yield sse(live_state.CONNECTION, live_state.connection_event(connection), delivered)
        yield sse("ready", json.dumps({"account_ids": ordered}), delivered)
        # What the request read is the baseline: a mark changed since then (its notification may have
        # come before the hub listened) is caught by the check this first item asks for.
        seen_mark = _mark_of(connection)
        listener.offer(None)
        loop = asyncio.get_running_loop()
        ends_at = loop.time() + conf.sse_max_seconds
        task = asyncio.current_task()
        while not listener.overflowed:
            if task is not None and task.cancelling():
                raise asyncio.CancelledError  # a cancel that landed in a Redis command, which swallowed it
            wait = min(conf.sse_heartbeat_seconds, ends_at - loop.time())
            if wait <= 0:
                break
            heartbeat = False
            try:
                # Not wait_for: on Python 3.11 it can swallow the cancel of a disconnect.
                async with asyncio.timeout(wait):
                    item = await listener.queue.get()
            except TimeoutError:
                if not await stream_logins.check(still_signed_in):
                    break  # logged out, deactivated or a new password: the browser's retry gets a 401
                item, heartbeat = None, True
            if item is None:  # a heartbeat, or the user's accounts or login's mark changed: check them
                if await user_accounts(user_id) != accounts:
                    break  # accounts gained or lost: reconnect to follow what the user may see now
                # Time moves a login to `expiring` (checked at each heartbeat); Schwab's refusal moves
                # it to `reauth_required` (a mark in Redis, announced at once).
                mark = await login_mark(user_id)
                if heartbeat or mark != seen_mark:
                    seen_mark = mark
                    status = await stream_logins.read(connection_status)
                    if status != connection:
                        connection = status
                        yield sse(live_state.CONNECTION, live_state.connection_event(status), delivered)
                if heartbeat:
                    yield b": heartbeat\n\n"
                continue  # (an event it may not see is never queued for it)
            if isinstance(item, live_state.State):
                if live_state.newer(item, sent):
                    yield sse(item.event, item.data, delivered)
                continue
            account, entry_id, text = item
            if _position(entry_id) <= _position(delivered[account]):
                continue  # already sent from the backlog
            delivered[account] = entry_id
            yield sse("order", text, delivered)
    finally:
        hub.leave(listener)
