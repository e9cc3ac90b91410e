"""Server-sent events of the user's order events: the body of GET /schwab/orders/stream/ (ASGI only).

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
from typing import Any

import redis
from asgiref.sync import SyncToAsync
from django.db import connections

from LiveData.schwab import stream_logins
from LiveData.schwab.conf import schwab_settings
from LiveData.schwab.exceptions import InvalidLastEventId, RedisUnavailable
from LiveData.shared import contract
from LiveData.shared.redis_client import get_async_redis

logger = logging.getLogger(__name__)

Cursor = dict[str, str]  # account_id -> the last entry id delivered
_PART = re.compile(r"([A-Za-z0-9_-]{1,128})=(\d{1,20}-\d{1,20})")
MAX_CURSOR_LENGTH = 4096  # under servers' header limits (gunicorn: 8190)
BACKLOG_LIMIT = 1000  # entries resent per account on resume; older ones mean "reload" (event: reset)
QUEUE_LIMIT = 1000  # a client this far behind is closed; it resumes from its Last-Event-ID
READ_BLOCK_MS = 1000  # how long the hub's XREAD waits (also how soon it follows a newly watched account)
RETRY_MS = 2000  # what the browser waits before reconnecting


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


def sse(event: str, data: str, cursor: Cursor | None = None) -> bytes:
    head = f"id: {event_id(cursor)}\n" if cursor is not None else ""
    return f"{head}event: {event}\ndata: {data}\n\n".encode()


@dataclass(eq=False)
class _Listener:
    user_id: str
    accounts: frozenset[str]
    queue: asyncio.Queue[tuple[str, str, str] | None] = field(
        default_factory=lambda: asyncio.Queue(QUEUE_LIMIT)
    )
    overflowed: bool = False

    def offer(self, item: tuple[str, str, str] | None) -> None:
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.overflowed = True


class _Hub:
    """The process's one reader of the account streams that open SSE streams follow (per event loop)."""

    def __init__(self) -> None:
        self.client: Any = get_async_redis()  # typed loosely: redis-py's asyncio stubs are unions
        self.listeners: dict[str, set[_Listener]] = {}
        self.positions: dict[str, str] = {}  # account -> the last entry read
        self.reader: asyncio.Task[None] | None = None

    async def join(self, listener: _Listener) -> None:
        for account in listener.accounts:
            if account not in self.positions:
                self.positions[account] = await latest_entry(self.client, account)
            self.listeners.setdefault(account, set()).add(listener)
        if self.reader is None or self.reader.done():
            self.reader = asyncio.create_task(self._read())

    def leave(self, listener: _Listener) -> None:
        for account in listener.accounts:
            followers = self.listeners.get(account, set())
            followers.discard(listener)
            if not followers:
                self.listeners.pop(account, None)
                self.positions.pop(account, None)
        if not self.listeners and self.reader is not None:
            self.reader.cancel()
            self.reader = None
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


async def has_login(user_id: int | str) -> bool:
    """Whether the user has a broker login at all (active or awaiting renewal), per the ownership index."""
    try:
        status = await get_async_redis().get(contract.user_accounts_status_key(user_id))
    except redis.RedisError:
        raise RedisUnavailable from None
    return status in (contract.ACTIVE, contract.REAUTH_REQUIRED)


async def events(
    user_id: int | str, accounts: frozenset[str], cursor: Cursor, still_signed_in: stream_logins.Check
) -> AsyncIterator[bytes]:
    """The SSE body: resume after `cursor`, then follow live, with heartbeats, until the stream's time is
    up, the login ends (`still_signed_in`, checked at each heartbeat), the user's accounts change or the
    client goes (the server cancels this generator). The answer has started, so a Redis failure can only
    end the stream: the browser comes back after `retry` and resumes from its last event's id."""
    await _let_go_of_the_request_thread()
    yield f"retry: {RETRY_MS}\n\n".encode()
    try:
        async with contextlib.aclosing(
            _follow(user_id, accounts, cursor, still_signed_in)
        ) as chunks:  # leaves the hub when we end
            async for chunk in chunks:
                yield chunk
    except (redis.RedisError, RedisUnavailable) as failure:
        logger.warning("order stream ended early: redis %s", type(failure).__name__)


async def _let_go_of_the_request_thread() -> None:
    """Django runs an ASGI request's synchronous parts (loading the session and the user, the middleware)
    on a thread of the request's own, with its own database connection, kept until the request ends: for
    a stream, hours, so a thousand streams would hold a thousand idle threads and database connections.
    From here on nothing synchronous runs, so close that thread's connections, on it, and let it go."""
    try:
        context = SyncToAsync.thread_sensitive_context.get()
    except LookupError:
        return  # no request context of its own (a test client's request runs on the caller's thread)
    executor = SyncToAsync.context_to_thread_executor.pop(context, None)
    if executor is not None:
        await asyncio.get_running_loop().run_in_executor(executor, connections.close_all)
        executor.shutdown(wait=False)


async def _follow(
    user_id: int | str, accounts: frozenset[str], cursor: Cursor, still_signed_in: stream_logins.Check
) -> AsyncGenerator[bytes]:
    conf = schwab_settings()
    hub = _hub()
    client: Any = hub.client
    listener = _Listener(user_id=str(user_id), accounts=accounts)
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
        yield sse("ready", json.dumps({"account_ids": sorted(accounts)}), delivered)
        loop = asyncio.get_running_loop()
        ends_at = loop.time() + conf.sse_max_seconds
        while not listener.overflowed:
            wait = min(conf.sse_heartbeat_seconds, ends_at - loop.time())
            if wait <= 0:
                break
            try:
                # Not wait_for: on Python 3.11 it can swallow the cancel of a disconnect.
                async with asyncio.timeout(wait):
                    item = await listener.queue.get()
            except TimeoutError:
                if not await stream_logins.check(still_signed_in):
                    break  # logged out, deactivated or a new password: the browser's retry gets a 401
                if await user_accounts(user_id) != accounts:
                    break  # accounts gained or lost: reconnect to follow what the user may see now
                yield b": heartbeat\n\n"
                continue
            if item is None:
                if await user_accounts(user_id) != accounts:
                    break  # ownership changed: the browser reconnects and sees what it may see now
                continue  # (an event it may not see is never queued for it)
            account, entry_id, text = item
            if _position(entry_id) <= _position(delivered[account]):
                continue  # already sent from the backlog
            delivered[account] = entry_id
            yield sse("order", text, delivered)
    finally:
        hub.leave(listener)
