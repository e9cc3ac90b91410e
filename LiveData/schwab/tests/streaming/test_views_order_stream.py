"""GET /schwab/orders/stream/: server-sent order events under ASGI. Resuming with Last-Event-ID gives every
event once; only the user's accounts are streamed; forged cursors, anonymous callers and WSGI are refused
in the JSON error shape; an ownership change ends the stream."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import redis
from asgiref.sync import async_to_sync
from django.contrib.auth.models import User
from django.db import connection
from django.test import AsyncClient, Client

from LiveData.schwab.streaming import order_stream
from LiveData.schwab.tests.conftest import MINE, THEIRS
from LiveData.shared import clock, order_events, ownership

pytestmark = pytest.mark.django_db

STREAM = "/schwab/orders/stream/"


def refused_at_once(owner: User, headers: dict[str, str] | None = None) -> Any:
    """The stream's answer to the owner's request when it refuses before streaming anything."""

    async def attempt() -> Any:
        client = AsyncClient()
        await client.aforce_login(owner)
        return await client.get(STREAM, headers=headers or {})

    return async_to_sync(attempt)()


def event(account: str, order_id: str, status: str) -> str | None:
    order = {"order_id": order_id, "status": status, "open": status == "WORKING", "filled_quantity": "0"}
    return order_events.record(
        account_id=account, order=order, source="stream", schwab_event=None, at=clock.now(), max_length=100
    )


def frames(text: str) -> list[dict[str, str]]:
    parsed = []
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            name, _, value = line.partition(": ")
            fields[name] = value
        if fields:
            parsed.append(fields)
    return parsed


async def read(
    user: User,
    *,
    until: int | Callable[[list[dict[str, str]]], bool],
    last_event_id: str | None = None,
    during: Any = None,
) -> list[dict[str, str]]:
    """Open the stream and read until `until` order events have come, or `until(frames)` holds (or the
    stream ends); `during` runs once ready. Then hang up as a browser does: the server cancels the
    response (it does not close the iterator)."""
    if isinstance(until, int):
        count = until
        until = lambda seen: sum(frame.get("event") == "order" for frame in seen) >= count  # noqa: E731
    client = AsyncClient()
    await client.aforce_login(user)
    headers = {"Last-Event-ID": last_event_id} if last_event_id is not None else {}
    response = await client.get(STREAM, headers=headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/event-stream")
    seen: list[dict[str, str]] = []
    enough = asyncio.Event()

    async def consume() -> None:
        nonlocal during
        buffer = ""
        async for chunk in response.streaming_content:  # type: ignore[attr-defined]
            buffer += chunk.decode()
            while "\n\n" in buffer:
                block, buffer = buffer.split("\n\n", 1)
                seen.extend(frames(block + "\n\n"))
                if seen and seen[-1].get("event") == "ready" and during is not None:
                    during()
                    during = None
            if until(seen):
                enough.set()
        enough.set()  # the server ended the stream

    consumer = asyncio.create_task(consume())
    try:
        async with asyncio.timeout(10):
            await enough.wait()
    finally:
        consumer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await consumer
    return seen


def orders_in(seen: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [
        (json.loads(frame["data"])["order_id"], json.loads(frame["data"])["status"])
        for frame in seen
        if frame.get("event") == "order"
    ]


def test_resuming_with_last_event_id_gives_every_event_once(owner):
    for number in range(3):
        event(MINE, str(number), "WORKING")
    live = async_to_sync(read)(
        owner, until=2, during=lambda: (event(MINE, "3", "WORKING"), event(MINE, "4", "WORKING"))
    )
    assert orders_in(live) == [("3", "WORKING"), ("4", "WORKING")]  # from now on, without a cursor
    ready = next(frame for frame in live if frame.get("event") == "ready")
    first_live = next(frame for frame in live if frame.get("event") == "order")

    resumed = async_to_sync(read)(owner, until=1, last_event_id=first_live["id"])
    assert orders_in(resumed) == [("4", "WORKING")]
    from_ready = async_to_sync(read)(owner, until=2, last_event_id=ready["id"])
    assert orders_in(from_ready) == [("3", "WORKING"), ("4", "WORKING")]

    entries = [entry_id for entry_id, _ in order_events.events(MINE)]
    from_start = async_to_sync(read)(owner, until=4, last_event_id=f"{MINE}={entries[0]}")
    assert [order_id for order_id, _ in orders_in(from_start)] == ["1", "2", "3", "4"]
    assert from_start[-1]["id"] == f"{MINE}={entries[-1]}"


def test_another_users_account_is_never_streamed(owner):
    event(THEIRS, "9", "WORKING")
    event(MINE, "1", "WORKING")
    seen = async_to_sync(read)(owner, until=1, last_event_id=f"{MINE}=0-1,{THEIRS}=0-1")
    assert orders_in(seen) == [("1", "WORKING")]
    assert THEIRS not in "".join(frame.get("id", "") + frame.get("data", "") for frame in seen)


def test_a_cursor_from_the_future_starts_from_now(owner):
    event(MINE, "1", "WORKING")
    seen = async_to_sync(read)(
        owner, until=1, last_event_id=f"{MINE}=99999999999999-0", during=lambda: event(MINE, "2", "WORKING")
    )
    assert orders_in(seen) == [("2", "WORKING")]


@pytest.mark.parametrize(
    "forged", ["garbage", f"{MINE}=1-2\nevent: x", f"{MINE}=abc", "x" * 5000, f"{MINE}=1-1,"]
)
def test_a_forged_last_event_id_is_refused(owner, forged):
    answer = refused_at_once(owner, {"Last-Event-ID": forged})
    assert answer.status_code == 400
    assert answer.json() == {
        "success": False,
        "error": "invalid_last_event_id",
        "message": "Last-Event-ID is not a cursor this stream gave out. Reconnect without it.",
    }


def test_anonymous_unconnected_and_wsgi_callers_get_json_errors(owner):
    async def anonymous() -> Any:
        return await AsyncClient().get(STREAM)

    assert async_to_sync(anonymous)().json()["error"] == "not_authenticated"
    stranger = User.objects.create_user("sam", password="sam-password-123")

    async def unconnected() -> Any:
        client = AsyncClient()
        await client.aforce_login(stranger)
        return await client.get(STREAM)

    answer = async_to_sync(unconnected)()
    assert (answer.status_code, answer.json()["error"]) == (404, "schwab_not_connected")
    wsgi = Client()
    wsgi.force_login(owner)
    answer = wsgi.get(STREAM)
    assert (answer.status_code, answer.json()["error"]) == (503, "stream_needs_asgi")

    async def posted() -> Any:
        client = AsyncClient()
        await client.aforce_login(owner)
        return await client.post(STREAM)

    assert async_to_sync(posted)().status_code == 405


def test_losing_the_account_ends_the_stream(owner):
    def lose() -> None:
        ownership.replace_user_accounts(user_id=owner.pk, account_ids=[], at=clock.now())
        event(MINE, "1", "WORKING")

    seen = async_to_sync(read)(owner, until=1, during=lose)
    assert orders_in(seen) == []  # the stream ended; the event after the change was never sent


# The login check at each heartbeat reads the session on a thread of its own: the session must be committed.
@pytest.mark.django_db(transaction=True)
def test_heartbeats_keep_an_idle_stream_open(owner, settings):
    settings.THOR_SSE_HEARTBEAT_SECONDS = 0.05
    settings.THOR_SSE_MAX_SECONDS = 0.3
    seen = async_to_sync(read)(owner, until=1)
    assert orders_in(seen) == [] and seen[0] == {"retry": str(order_stream.RETRY_MS)}
    assert {"": "heartbeat"} in seen  # a comment line: ": heartbeat"


@pytest.mark.django_db(transaction=True)
def test_a_logout_ends_an_open_stream_at_the_next_heartbeat(owner, settings):
    from django.contrib.sessions.models import Session

    settings.THOR_SSE_HEARTBEAT_SECONDS = 0.05
    settings.THOR_SSE_MAX_SECONDS = 60  # only the logout can end it within the test

    def delete_sessions() -> None:
        Session.objects.all().delete()
        connection.close()

    def log_out() -> None:  # from another thread, as another request's logout would
        with ThreadPoolExecutor(1) as other:
            other.submit(delete_sessions).result()

    seen = async_to_sync(read)(owner, until=1, during=log_out)
    assert orders_in(seen) == [] and seen[-1]["event"] == "ready"  # ended without a heartbeat


def test_the_cursor_round_trips():
    cursor = {MINE: "1700000000000-3", THEIRS: "1-0"}
    assert order_stream.read_last_event_id(order_stream.event_id(cursor)) == cursor


def test_redis_failing_mid_stream_ends_it_cleanly(owner, monkeypatch):
    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise redis.ConnectionError("Redis went away")

    async def attempt() -> tuple[list[bytes], int]:
        hub = order_stream._hub()
        monkeypatch.setattr(hub, "join", broken)
        client = AsyncClient()
        await client.aforce_login(owner)
        response = await client.get(STREAM)
        chunks = [chunk async for chunk in response.streaming_content]  # type: ignore[attr-defined]
        return chunks, response.status_code

    chunks, status = async_to_sync(attempt)()
    assert status == 200 and chunks == [f"retry: {order_stream.RETRY_MS}\n\n".encode()]  # then a clean end


def test_a_closed_stream_leaves_the_hub(owner):
    async def attempt() -> int:
        await read(owner, until=1, during=lambda: event(MINE, "1", "WORKING"))  # then hang up
        return len(order_stream._hub().listeners)

    assert async_to_sync(attempt)() == 0


def test_redis_down_before_the_stream_starts_is_a_503_in_the_error_shape(owner, monkeypatch):
    class Down:
        async def smembers(self, key: str) -> Any:
            raise redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(order_stream, "get_async_redis", Down)
    answer = refused_at_once(owner)
    assert answer.status_code == 503
    assert answer.json()["error"] == "redis_unavailable" and "111" not in answer.content.decode()
