"""The stream worker against the sandbox's streamer: order changes become events once each, and a dropped
socket, a refused login, a token dying mid-stream or Redis failing under an event loses nothing (the REST
catch-up after the reconnect records what the socket missed)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
import requests
from websockets.frames import Frame

from devtools.sandbox import activity
from devtools.sandbox.book import price_at
from devtools.testing import api, connect, eventually, limit_buy, stream_fault
from LiveData.schwab.models import BrokerConnection
from LiveData.schwab.streaming import stream_worker
from LiveData.shared import contract, leases, order_events, reader

pytestmark = pytest.mark.django_db(transaction=True)


class RunningWorker:
    def __init__(self) -> None:
        self.worker = stream_worker.StreamWorker(worker_id="test-worker", threads=4)
        self.loop = asyncio.new_event_loop()
        self.stop = asyncio.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        self.loop.run_until_complete(self.worker.run(self.stop))

    def __enter__(self) -> RunningWorker:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(timeout=30)
        # A worker still running would hold the login's one streamer session into the next test.
        assert not self.thread.is_alive(), "the stream worker did not stop"

    def streaming(self) -> bool:
        return self.worker.stats.sockets == 1


@pytest.fixture
def streaming_settings(settings):
    settings.SCHWAB_STREAM_POLL_SECONDS = 0.1
    settings.SCHWAB_STREAM_LEASE_SECONDS = 5.0
    settings.SCHWAB_STREAM_BACKOFF_MAX_SECONDS = 0.05
    settings.SCHWAB_STREAM_SILENCE_SECONDS = 5.0
    return settings


@pytest.fixture(params=["fake", "real"])
def store(request):
    """Both Redis flavours: the worker's history must hold on the real thing, not only the stand-in."""
    return request.getfixturevalue("fake_redis" if request.param == "fake" else "real_redis")


@pytest.fixture
def account(store, connected, schwab, streaming_settings) -> str:
    schwab.state.config.stream_heartbeat_seconds = 0.2  # well inside the worker's 5 s silence allowance
    connection = BrokerConnection.objects.get(user=connected)
    return str(api(schwab, connection.access_token, "/accounts/accountNumbers").json()[0]["hashValue"])


@pytest.fixture
def worker(account) -> Iterator[RunningWorker]:
    with RunningWorker() as running:
        eventually(running.streaming)
        yield running


def place(schwab, connected, account: str) -> str:
    token = BrokerConnection.objects.get(user=connected).access_token
    answer = api(schwab, token, f"/accounts/{account}/orders", "POST", json=limit_buy("AAPL", 10, 1.25))
    assert answer.status_code == 201, answer.text
    return str(answer.headers["Location"].rsplit("/", 1)[1])


def place_and_stream(schwab, connected, account: str, running: RunningWorker) -> str:
    """Place an order and wait until the worker has received and read every placement message: a stream
    fault queued next then falls on the next order change, and no read of a placement message is left
    to see that change first."""
    order_id = place(schwab, connected, account)
    eventually(lambda: running.worker.stats.messages == len(activity.PLACED) and not running.worker.reading())
    assert len(history(account)) == 1
    return order_id


def execute(schwab, order_id: str, **body: Any) -> None:
    answer = requests.post(f"{schwab.url}/sandbox/orders/{order_id}/execute", json=body, timeout=5)
    assert answer.status_code == 200, answer.text


def history(account: str) -> list[tuple[str | None, str, str | None, str]]:
    return [
        (event["previous_status"], event["status"], event["filled_quantity"], event["source"])
        for _, event in order_events.events(account)
    ]


def test_an_order_placed_and_filled_becomes_two_events_and_live_orders(worker, schwab, connected, account):
    order_id = place(schwab, connected, account)
    eventually(lambda: len(history(account)) == 1)
    execute(schwab, order_id, quantity="4")
    eventually(lambda: len(history(account)) == 2)
    execute(schwab, order_id)
    eventually(lambda: len(history(account)) == 3)

    assert history(account) == [
        (None, "WORKING", "0", "stream"),
        ("WORKING", "WORKING", "4", "stream"),
        ("WORKING", "FILLED", "10", "stream"),
    ]
    placed, partly, filled = (event["schwab_event"] for _, event in order_events.events(account))
    # An event names the message after which the worker's read saw the change: a fill can be seen after an
    # earlier message of the order, when it lands before the worker has read them all (messages for one
    # order are coalesced into one read at a time), never after a later one.
    assert placed in activity.PLACED
    assert partly in (*activity.PLACED, *activity.PARTLY_FILLED)
    assert filled in (*activity.PLACED, *activity.PARTLY_FILLED, *activity.FILLED)
    # live_data:orders is merged right after the events are recorded (and their states kept in the
    # database): wait for it rather than race it.
    eventually(
        lambda: (reader.latest_orders(account) or {"orders": [{}]})["orders"][0].get("status") == "FILLED"
    )
    assert leases.holder_of(contract.stream_lease_key(connected.schwab_token.pk)) == "test-worker"


def test_a_socket_dropped_during_a_fill_loses_nothing(worker, schwab, connected, account):
    order_id = place_and_stream(schwab, connected, account, worker)
    stream_fault(schwab, kind="drop")
    execute(schwab, order_id)  # its messages never leave the sandbox: the socket drops instead

    eventually(lambda: len(history(account)) == 2)
    assert history(account) == [(None, "WORKING", "0", "stream"), ("WORKING", "FILLED", "10", "catch_up")]
    assert schwab.state.stream_stats["logins"] == 2
    eventually(worker.streaming)
    stored = reader.latest_orders(account)
    assert stored is not None and stored["orders"][0]["status"] == "FILLED"


def test_a_refused_login_and_a_token_dying_mid_stream_are_survived(account, schwab, connected):
    stream_fault(schwab, kind="refuse_login")
    refreshes = schwab.state.token_grants["refresh_token"]
    with RunningWorker() as running:
        eventually(running.streaming)
        assert schwab.state.stream_stats["login_denied"] == 1
        order_id = place_and_stream(schwab, connected, account, running)

        stream_fault(schwab, kind="expire_token")
        execute(schwab, order_id, quantity="3")  # the session ends on this fill, unseen

        eventually(lambda: len(history(account)) == 2)
        eventually(running.streaming)
    assert history(account) == [(None, "WORKING", "0", "stream"), ("WORKING", "WORKING", "3", "catch_up")]
    assert schwab.state.token_grants["refresh_token"] - refreshes == 2  # once per refusal, then logged in


def test_redis_failing_under_an_event_loses_nothing(worker, schwab, connected, account, monkeypatch):
    real_record = order_events.record
    failures = []

    def flaky(**kwargs: Any) -> str | None:
        if not failures:
            failures.append(kwargs["order"]["status"])
            raise __import__("redis").ConnectionError("Redis restarting")
        entry: str | None = real_record(**kwargs)
        return entry

    monkeypatch.setattr(order_events, "record", flaky)
    place(schwab, connected, account)
    eventually(lambda: len(history(account)) == 1)
    assert failures == ["WORKING"]
    assert history(account) == [(None, "WORKING", "0", "catch_up")]


def test_a_session_counts_as_streaming_once_it_has_caught_up(account, schwab, connected, monkeypatch):
    """`streaming` (and /schwab/health/) means following live: a change made while the catch-up reads is
    the catch-up's or the socket's, but one made after streaming shows is always the socket's."""
    reading, release = threading.Event(), threading.Event()
    real_catch_up = stream_worker.ConnectionStream._catch_up

    def slow_catch_up(self: stream_worker.ConnectionStream, *args: Any) -> Any:
        reading.set()
        release.wait(timeout=30)
        return real_catch_up(self, *args)

    monkeypatch.setattr(stream_worker.ConnectionStream, "_catch_up", slow_catch_up)
    with RunningWorker() as running:
        try:
            eventually(reading.is_set)
            assert not running.streaming()  # subscribed, still catching up
        finally:
            release.set()
        eventually(running.streaming)
        place(schwab, connected, account)
        eventually(lambda: len(history(account)) == 1)
    assert history(account) == [(None, "WORKING", "0", "stream")]


def test_a_cancel_that_arrives_with_a_frame_still_stops_the_stream():
    """asyncio.wait_for on Python 3.11 returns such a frame and drops the cancel: a worker told to stop
    went on following, logged in again, and held the login's one streamer session."""

    async def scenario() -> bool:
        frame: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        receiving = asyncio.create_task(stream_worker.receive(SimpleNamespace(recv=lambda: frame), 5.0))
        await asyncio.sleep(0)  # waiting for the frame now
        frame.set_result('{"notify": []}')
        receiving.cancel()  # in the same turn of the loop as the frame
        with contextlib.suppress(asyncio.CancelledError):
            await receiving
        return receiving.cancelled()

    assert asyncio.run(scenario())


def test_the_same_state_seen_twice_is_one_event(fake_redis):
    order = {"order_id": "1", "status": "WORKING", "open": True, "filled_quantity": "0"}
    at = stream_worker.clock.now()
    first = order_events.record(
        account_id="A", order=order, source="stream", schwab_event="OrderAccepted", at=at, max_length=100
    )
    again = order_events.record(
        account_id="A", order=order, source="catch_up", schwab_event=None, at=at, max_length=100
    )
    closed = {**order, "status": "FILLED", "open": False}
    filled = order_events.record(
        account_id="A", order=closed, source="stream", schwab_event=None, at=at, max_length=100
    )
    stale = order_events.record(
        account_id="A", order=order, source="stream", schwab_event=None, at=at, max_length=100
    )
    assert first and filled and again is None and stale is None
    assert [event["status"] for _, event in order_events.events("A")] == ["WORKING", "FILLED"]


def test_health_counts_the_workers_heard_from_within_a_lease(fake_redis, client, thor_clock, db):
    def report(worker: str, seconds_ago: float, connections: int, lag_ms: int | None) -> None:
        beat = thor_clock() - timedelta(seconds=seconds_ago)
        document = {"heartbeat_at": contract.timestamp(beat), "connections": connections}
        document |= {"streaming": connections, "events": 0, "last_event_at": None, "lag_ms": lag_ms}
        fake_redis.hset(contract.STREAM_WORKERS_KEY, worker, json.dumps(document))

    report("alive-1", 1.5, 3, 40)
    report("alive-2", 4, 2, None)
    report("dead", 31, 9, 9000)  # beyond the 30 s lease: gone
    streaming = client.get("/schwab/health/").json()["streaming"]
    assert streaming == {
        "workers": 2,
        "connections": 5,
        "streaming": 5,
        "last_heartbeat_age_seconds": 1.5,
        "lag_ms": 40,
    }


def test_reports_of_long_dead_workers_are_removed_by_the_workers_not_by_health(
    fake_redis, thor_clock, client, db
):
    for worker, seconds_ago in (("alive", 1), ("recently-dead", 60), ("long-dead", 3001)):
        beat = contract.timestamp(thor_clock() - timedelta(seconds=seconds_ago))
        fake_redis.hset(contract.STREAM_WORKERS_KEY, worker, json.dumps({"heartbeat_at": beat}))
    assert client.get("/schwab/health/").status_code == 200  # a GET reads; it changes nothing
    assert stream_worker.live_workers() == 1
    assert len(fake_redis.hkeys(contract.STREAM_WORKERS_KEY)) == 3
    stream_worker.StreamWorker(worker_id="beating", threads=1)._beat()
    assert sorted(fake_redis.hkeys(contract.STREAM_WORKERS_KEY)) == ["alive", "beating", "recently-dead"]


def test_a_stalled_socket_is_given_up_after_the_silence_allowance(
    account, schwab, connected, streaming_settings
):
    streaming_settings.SCHWAB_STREAM_SILENCE_SECONDS = 1.0  # heartbeats come every 0.2 s until the stall
    with RunningWorker() as running:
        eventually(running.streaming)
        order_id = place_and_stream(schwab, connected, account, running)
        stream_fault(schwab, kind="stall", seconds=60)  # silent from the next message on, socket open
        execute(schwab, order_id)

        eventually(lambda: len(history(account)) == 2)
    assert history(account) == [(None, "WORKING", "0", "stream"), ("WORKING", "FILLED", "10", "catch_up")]
    assert schwab.state.stream_stats["logins"] == 2


def test_replace_and_cancel_stream_as_events_of_both_orders(worker, schwab, connected, account):
    token = BrokerConnection.objects.get(user=connected).access_token
    original = place(schwab, connected, account)
    eventually(lambda: len(history(account)) == 1)
    replaced = api(schwab, token, f"/accounts/{account}/orders/{original}", "PUT", json=limit_buy("AAPL", 5))
    assert replaced.status_code == 201
    replacement = replaced.headers["Location"].rsplit("/", 1)[1]
    eventually(lambda: len(history(account)) == 3)
    assert api(schwab, token, f"/accounts/{account}/orders/{replacement}", "DELETE").status_code == 200
    eventually(lambda: len(history(account)) == 4)

    by_order: dict[str, list[tuple[str | None, str]]] = {}
    for _, event in order_events.events(account):
        by_order.setdefault(event["order_id"], []).append((event["previous_status"], event["status"]))
    assert by_order == {
        original: [(None, "WORKING"), ("WORKING", "REPLACED")],
        replacement: [(None, "WORKING"), ("WORKING", "CANCELED")],
    }


def test_a_disconnected_connection_stops_streaming_and_a_new_one_starts(worker, schwab, connected, browser):
    assert browser.post("/schwab/oauth/disconnect/").status_code == 200
    eventually(lambda: schwab.state.stream_sessions["trader1"] == 0 and not worker.worker.streams)
    assert leases.holder_of(contract.stream_lease_key(connected.schwab_token.pk)) is None

    connect(browser, schwab, username="trader2")  # a new login: streamed within a poll
    eventually(lambda: schwab.state.stream_sessions["trader2"] == 1)


def test_a_dropped_stream_is_listed_until_its_lease_is_let_go(worker, connected, browser, monkeypatch):
    """Whoever reads the worker's streams (its report, a test) never sees a connection gone while its lease
    is still held: the release is held up here until the streams have been looked at."""
    releasing, go_on = threading.Event(), threading.Event()
    release = leases.release

    def slow_release(*args: Any, **kwargs: Any) -> None:
        releasing.set()
        go_on.wait(timeout=30)
        release(*args, **kwargs)

    monkeypatch.setattr(leases, "release", slow_release)
    try:
        assert browser.post("/schwab/oauth/disconnect/").status_code == 200
        assert releasing.wait(timeout=30)
        assert worker.worker.streams
    finally:
        go_on.set()  # even on a failure: the worker's release goes on
    eventually(lambda: not worker.worker.streams)
    assert leases.holder_of(contract.stream_lease_key(connected.schwab_token.pk)) is None


def test_no_token_reaches_the_logs_even_with_every_frame_logged(
    account, schwab, connected, caplog, monkeypatch
):
    monkeypatch.setattr(Frame, "MAX_LOG_SIZE", 3000)  # websockets would log whole frames, LOGIN's too
    caplog.set_level(logging.DEBUG)
    with RunningWorker() as running:
        eventually(running.streaming)
        place(schwab, connected, account)
        eventually(lambda: len(history(account)) == 1)
    token = BrokerConnection.objects.get(user=connected).access_token
    assert caplog.records and token not in caplog.text


def test_after_redis_loses_its_data_the_catch_up_records_nothing_twice(
    private_redis, connected, schwab, streaming_settings
):
    """A private Redis, killed and started again empty (no persistence): the next worker's catch-up finds
    the same orders, and the states kept in PostgreSQL keep it from recording any change a second time."""
    from LiveData.shared import redis_client

    streaming_settings.REDIS_URL = private_redis.url
    redis_client.reset_client()
    try:
        schwab.state.config.stream_heartbeat_seconds = 0.2
        token = BrokerConnection.objects.get(user=connected).access_token
        account = str(api(schwab, token, "/accounts/accountNumbers").json()[0]["hashValue"])
        with RunningWorker() as running:
            eventually(running.streaming)
            order_id = place(schwab, connected, account)
            eventually(lambda: len(history(account)) == 1)
            execute(schwab, order_id)
            eventually(lambda: len(history(account)) == 2)
        private_redis.kill()
        private_redis.start()  # empty: everything Redis held is gone
        redis_client.reset_client()
        assert history(account) == []
        with RunningWorker() as running:
            eventually(running.streaming)  # streaming means caught up
            assert history(account) == []  # the catch-up saw the same two states: nothing new
            second = place(schwab, connected, account)  # a change after the loss is recorded, once
            eventually(lambda: len(history(account)) == 1)
        assert history(account) == [(None, "WORKING", "0", "stream")]
        assert second != order_id
    finally:
        redis_client.reset_client()


def test_a_fill_refreshes_the_account_once(worker, schwab, connected, account):
    """The positions and balances a fill changes are published at once (one account read per change), and
    a working order moves nothing."""
    order_id = place_and_stream(schwab, connected, account, worker)
    assert reader.latest_positions(account) is None and schwab.state.calls["accounts.get"] == 0
    execute(schwab, order_id)  # 10 AAPL bought
    held = next(h for h in schwab.state.accounts_by_hash[account][1].holdings if h.security.symbol == "AAPL")

    def published_quantity() -> str | None:
        snapshot = reader.latest_positions(account) or {"positions": []}
        return next((p["quantity"] for p in snapshot["positions"] if p["symbol"] == "AAPL"), None)

    eventually(lambda: published_quantity() is not None and Decimal(published_quantity()) == held.quantity)
    eventually(lambda: not worker.worker.reading())
    assert schwab.state.calls["accounts.get"] == 1
    assert reader.latest_balances(account) is not None


def test_a_fill_whose_messages_were_all_lost_is_recorded_within_the_reconcile_period(
    schwab, connected, account, streaming_settings
):
    """The socket stays healthy (heartbeats go on) while every message of a fill is lost: the periodic
    reconcile reads the orders again and records the fill, once."""
    streaming_settings.SCHWAB_STREAM_RECONCILE_SECONDS = 0.5
    with RunningWorker() as running:
        eventually(running.streaming)
        order_id = place_and_stream(schwab, connected, account, running)
        stream_fault(schwab, kind="lose", count=len(activity.FILLED))
        execute(schwab, order_id)
        eventually(lambda: len(history(account)) == 2)
        assert schwab.state.stream_stats["fault_lose"] == len(activity.FILLED)
        assert schwab.state.stream_stats["logins"] == 1  # no reconnect: the socket never failed
    assert history(account) == [(None, "WORKING", "0", "stream"), ("WORKING", "FILLED", "10", "catch_up")]


def test_a_brackets_exits_are_recorded_as_orders_of_their_own(
    postgres, schwab, connected, account, streaming_settings
):
    """Each order a bracket places streams as itself: the entry's fill, then its take-profit and stop
    working; and when the take-profit's fill and the stop's cancel are lost on the way, the reconcile
    finds them nested under the entry in Schwab's listing and records each as its own order's event.
    (Three orders are read at once on the worker's threads: PostgreSQL, as in production.)"""
    streaming_settings.SCHWAB_STREAM_RECONCILE_SECONDS = 0.5
    token = BrokerConnection.objects.get(user=connected).access_token
    held = schwab.state.accounts_by_hash[account][1].holdings[0].security
    price = price_at(held, schwab.state.now())
    entry = limit_buy(held.symbol, 1, float(price + 1))  # marketable: it fills at once
    take_profit = {**limit_buy(held.symbol, 1, float(price + 5))}
    stop = {**limit_buy(held.symbol, 1), "orderType": "STOP", "stopPrice": float(price - 5)}
    stop.pop("price")
    for order in (take_profit, stop):
        order["orderLegCollection"][0]["instruction"] = "SELL"
    bracket = {
        **entry,
        "orderStrategyType": "TRIGGER",
        "childOrderStrategies": [{"orderStrategyType": "OCO", "childOrderStrategies": [take_profit, stop]}],
    }

    def last_status() -> dict[str, str]:
        return {event["order_id"]: event["status"] for _, event in order_events.events(account)}

    with RunningWorker() as running:
        eventually(running.streaming)
        answer = api(schwab, token, f"/accounts/{account}/orders", "POST", json=bracket)
        assert answer.status_code == 201, answer.text
        entry_id = int(answer.headers["Location"].rsplit("/", 1)[1])
        oco = schwab.state.orders[entry_id]["childOrderStrategies"][0]
        take_profit_id, stop_id = (str(order["orderId"]) for order in oco["childOrderStrategies"])
        eventually(lambda: last_status().get(stop_id) == "WORKING" and not running.worker.reading())
        stream_fault(schwab, kind="lose", count=len(activity.FILLED) + len(activity.CANCELED))
        execute(schwab, take_profit_id)
        eventually(lambda: last_status().get(stop_id) == "CANCELED")
    # The OCO that holds the two is an order too (Schwab gives it an id and a status): done when one fills.
    assert last_status() == {
        str(entry_id): "FILLED",
        str(oco["orderId"]): "FILLED",
        take_profit_id: "FILLED",
        stop_id: "CANCELED",
    }
    assert schwab.state.stream_stats["fault_lose"] == len(activity.FILLED) + len(activity.CANCELED)
