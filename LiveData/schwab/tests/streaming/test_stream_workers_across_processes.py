"""Several stream workers (real `manage.py schwab_stream` processes) share the fleet through leases in
Redis: each connection is streamed by exactly one worker at a time, and when a worker is killed its
connections are taken over within lease + poll seconds, with no event lost or repeated."""

from __future__ import annotations

import signal
import time
from collections import Counter

import pytest
import requests
from django.contrib.auth.models import User
from django.test import Client

from devtools.testing import api, connect, eventually, limit_buy
from LiveData.schwab.models import BrokerConnection
from LiveData.schwab.tests.servers import stream_worker
from LiveData.shared import contract, leases, order_events

pytestmark = pytest.mark.django_db(transaction=True)

LEASE_SECONDS, POLL_SECONDS = 2.0, 0.2
TRADERS = ("trader1", "trader2", "trader3", "bulk")


def holders(connections: list[BrokerConnection]) -> dict[int, str | None]:
    return {c.pk: leases.holder_of(contract.stream_lease_key(c.pk)) for c in connections}


def test_each_connection_is_streamed_by_one_worker_and_a_killed_workers_are_taken_over(
    servers_environment, schwab, tmp_path
):
    connections = []
    for username in TRADERS:
        browser = Client()
        browser.force_login(User.objects.create_user(f"thor-{username}", password="pw-123456789"))
        assert connect(browser, schwab, username=username).status_code == 302
    connections = list(BrokerConnection.objects.order_by("pk"))
    environment = {
        **servers_environment,
        "SCHWAB_STREAM_LEASE_SECONDS": str(LEASE_SECONDS),
        "SCHWAB_STREAM_POLL_SECONDS": str(POLL_SECONDS),
        "SCHWAB_STREAM_BACKOFF_MAX_SECONDS": "0.2",
    }
    workers = {
        name: stream_worker(environment, log=tmp_path / f"{name}.log", worker_id=name)
        for name in ("w1", "w2")
    }
    try:
        streamed = lambda: sum(schwab.state.stream_sessions.values()) == len(TRADERS)  # noqa: E731
        eventually(lambda: streamed() and None not in holders(connections).values())
        eventually(
            lambda: Counter(holders(connections).values()) == Counter({"w1": 2, "w2": 2}) and streamed()
        )
        before = holders(connections)  # a fair share each
        assert max(schwab.state.stream_sessions.values()) == 1  # one socket per Schwab login

        victim, survivor = "w1", "w2"
        workers[victim].send_signal(signal.SIGKILL)
        workers[victim].wait(timeout=30)
        killed_at = time.monotonic()
        eventually(lambda: set(holders(connections).values()) == {survivor} and streamed())
        takeover = time.monotonic() - killed_at
        print(f"takeover of {victim}'s connections by {survivor}: {takeover:.2f}s")

        # Every connection streams again: an order on each is one event, once.
        tokens = [api(schwab, c.access_token, "/accounts/accountNumbers") for c in connections]
        accounts = [answer.json()[0]["hashValue"] for answer in tokens]
        for connection, account in zip(connections, accounts, strict=True):
            connection.refresh_from_db()
            placed = api(
                schwab,
                connection.access_token,
                f"/accounts/{account}/orders",
                "POST",
                json=limit_buy("KO", 1),
            )
            assert placed.status_code == 201
        eventually(lambda: all(len(order_events.events(account)) == 1 for account in accounts))
        for account in accounts:
            order_id = order_events.events(account)[0][1]["order_id"]
            requests.post(f"{schwab.url}/sandbox/orders/{order_id}/execute", json={}, timeout=5)
        eventually(lambda: all(len(order_events.events(account)) == 2 for account in accounts))
        for account in accounts:
            statuses = [(e["previous_status"], e["status"]) for _, e in order_events.events(account)]
            assert statuses == [(None, "WORKING"), ("WORKING", "FILLED")]
        assert schwab.state.stream_stats["busy"] == 0  # no worker ever found a login streamed by another
        assert before != holders(connections)
        assert takeover < LEASE_SECONDS + POLL_SECONDS + 10  # bounded (the slack covers a busy machine)
    finally:
        for process in workers.values():
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=30)
