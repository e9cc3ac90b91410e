"""The listener on real Redis: catches up at start, syncs what is published, survives a dropped connection."""

from __future__ import annotations

import queue
import threading
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.db import connection as db_connection

from ActAndPos.listener import Listener
from ActAndPos.models import Account, Position
from ActAndPos.tests.factories import ACCOUNT, T0, own, positions_snapshot
from LiveData.shared import contract, ownership, publisher


def publish(user_id: int, quantities: dict[str, str], seconds: int) -> None:
    """What the producer does: the user's login lists the account, and a snapshot of it is published."""
    own(user_id)
    snapshot = positions_snapshot(quantities, seconds=seconds)
    publisher.publish(snapshots=[publisher.Snapshot(contract.POSITIONS, ACCOUNT, snapshot, quantities)])


@pytest.fixture
def running(real_redis, transactional_db):
    """A listener in a thread; `synced` receives (kind, account, result) for every sync it makes."""
    synced = queue.Queue()
    stop = threading.Event()

    def run():
        try:
            listener.run()
        finally:
            db_connection.close()

    listener = Listener(stop=stop, on_sync=lambda *event: synced.put(event), max_backoff=0.2)
    yield listener, synced, run, stop
    stop.set()


def start(run) -> threading.Thread:
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_catches_up_then_follows_publishes(running, real_redis):
    listener, synced, run, stop = running
    owner = User.objects.create_user("erin")
    publish(owner.pk, {"AAPL": "10"}, seconds=0)  # stored before the listener starts
    thread = start(run)
    kind, account, result = synced.get(timeout=10)
    assert (kind, account, result.applied) == ("positions", ACCOUNT, True)
    assert listener.connected.wait(timeout=10)

    publish(owner.pk, {"AAPL": "12", "KO": "3"}, seconds=5)
    _, _, result = synced.get(timeout=10)
    assert (result.applied, result.created, result.updated) == (True, 1, 1)
    assert dict(Position.objects.values_list("symbol", "quantity")) == {"AAPL": Decimal(12), "KO": Decimal(3)}
    stop.set()
    thread.join(timeout=10)


def test_recovers_after_the_redis_connection_drops(running, real_redis):
    listener, synced, run, stop = running
    owner = User.objects.create_user("frank")
    thread = start(run)
    assert listener.connected.wait(timeout=10)

    real_redis.client_kill_filter(_type="pubsub")  # Redis drops every subscriber, as on a restart
    publish(owner.pk, {"TSLA": "7"}, seconds=1)  # published while the listener is away
    _, _, result = synced.get(timeout=10)  # caught up after reconnecting
    assert result.applied
    assert listener.connected.wait(timeout=10)
    publish(owner.pk, {"TSLA": "8"}, seconds=2)
    while True:  # the catch-up and the notification may both arrive; wait for the newest to be applied
        _, _, result = synced.get(timeout=10)
        if Position.objects.filter(symbol="TSLA", quantity=8).exists():
            break
    stop.set()
    thread.join(timeout=10)


def test_follows_ownership_changes_of_a_shared_account(running, real_redis):
    listener, synced, run, stop = running
    first, second = User.objects.create_user("gina"), User.objects.create_user("hal")
    own(second.pk)
    publish(first.pk, {"AAPL": "10"}, seconds=0)
    thread = start(run)
    assert listener.connected.wait(timeout=10)
    synced.get(timeout=10)
    assert set(Account.objects.filter(detached_at__isnull=True).values_list("user__username", flat=True)) == {
        "gina",
        "hal",
    }

    ownership.replace_user_accounts(user_id=second.pk, account_ids=["ELSEWHERE"], at=T0)  # hal reconnected
    while synced.get(timeout=10)[:2] != ("ownership", str(second.pk)):
        pass
    assert Account.objects.get(user=second).is_live is False  # detached by the ownership notification
    assert Account.objects.get(user=first).is_live is True

    publish(first.pk, {"AAPL": "11"}, seconds=5)
    while Position.objects.filter(account__user=first, quantity=11).count() == 0:
        synced.get(timeout=10)
    assert Position.objects.get(account__user=second).quantity == 10  # kept as it was, not live
    stop.set()
    thread.join(timeout=10)
