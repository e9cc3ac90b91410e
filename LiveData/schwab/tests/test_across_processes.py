"""What must hold across processes, with real Thor servers (gunicorn) sharing PostgreSQL and Redis:
authorization in every process at every moment, and one order per Idempotency-Key.

The authorization repro: a trader whose account list is cached in both servers reconnects (through one
of them) as another Schwab login, and another trader connects the first login. From then on, through
either server, the first trader reads nothing of the second trader's accounts, and marks none of their
snapshots stale.
"""

from __future__ import annotations

from collections import Counter

import pytest
from django.contrib.auth.models import User

from LiveData.schwab.tests.servers import connect, logged_in_session, thor_server
from LiveData.shared import reader

pytestmark = pytest.mark.django_db(transaction=True)


def _reads(server, session, account_id: str) -> list[tuple[str, int]]:
    """The three reads of the repro, each answered for `account_id`: (what, status)."""
    paths = {
        "latest": f"/schwab/accounts/{account_id}/positions/latest/",
        "summary": f"/schwab/account/summary/?account_hash={account_id}",
        "positions": f"/schwab/accounts/{account_id}/positions/",
    }
    return [
        (what, session.get(f"{server.url}{path}", timeout=30).status_code) for what, path in paths.items()
    ]


def test_reconnecting_as_another_login_is_seen_by_every_process(servers_environment, schwab, tmp_path):
    environment = {
        **servers_environment,
        "SCHWAB_ACCOUNTS_CACHE_SECONDS": "600",  # a cached list outlives the whole test
        "SCHWAB_SUMMARY_MAX_AGE_SECONDS": "600",  # the summary is served from Redis
    }
    alice, bob = User.objects.create_user("alice"), User.objects.create_user("bob")
    as_alice, as_bob = logged_in_session(alice), logged_in_session(bob)
    first_login = [account.hash_value for account in schwab.state.users["trader1"].accounts]

    with (
        thor_server(environment, log=tmp_path / "server-a.log") as server_a,
        thor_server(environment, log=tmp_path / "server-b.log") as server_b,
    ):
        connect(server_a, as_alice, schwab, "trader1")
        for server in (server_a, server_b):  # both servers now know alice's accounts (and have published)
            for account_id in first_login:
                assert {status for _, status in _reads(server, as_alice, account_id)} == {200}

        connect(server_a, as_alice, schwab, "trader2")  # through server A only
        connect(server_a, as_bob, schwab, "trader1")
        for account_id in first_login:
            assert {status for _, status in _reads(server_b, as_bob, account_id)} == {200}
        bobs_snapshots = {account_id: reader.latest_positions(account_id) for account_id in first_login}

        answers = Counter()
        for _ in range(3):
            for server in (server_b, server_a):
                for account_id in first_login:
                    answers.update(_reads(server, as_alice, account_id))

    foreign_reads = sum(count for (_, status), count in answers.items() if status == 200)
    after = {account_id: reader.latest_positions(account_id) for account_id in first_login}
    foreign_stale_marks = sum(bool(snapshot and snapshot["stale"]) for snapshot in after.values())
    assert sum(answers.values()) == 36
    assert (foreign_reads, foreign_stale_marks) == (0, 0), f"alice's answers: {dict(answers)}"
    assert set(answers) == {("latest", 404), ("summary", 404), ("positions", 404)}
    assert after == bobs_snapshots  # untouched: neither marked stale nor republished


def test_one_key_sends_one_order_across_server_processes(servers_environment, schwab, tmp_path):
    """Twenty requests with one Idempotency-Key, spread over two Thor servers: one order at the sandbox."""
    from concurrent.futures import ThreadPoolExecutor

    from django.contrib.auth.models import Permission

    environment = {**servers_environment, "SCHWAB_TRADING_ENABLED": "true"}
    trader = User.objects.create_user("tess")
    trader.user_permissions.add(Permission.objects.get(codename="trade", content_type__app_label="schwab"))
    as_trader = logged_in_session(trader)
    as_trader.cookies.set("csrftoken", "c" * 32)
    headers = {"X-CSRFToken": "c" * 32, "Idempotency-Key": "one-order", "Content-Type": "application/json"}
    ticket = '{"symbol": "KO", "instruction": "buy", "quantity": 1, "limit_price": "1.00"}'
    with (
        thor_server(environment, log=tmp_path / "a.log", workers=2) as server_a,
        thor_server(environment, log=tmp_path / "b.log", workers=2) as server_b,
    ):
        connect(server_a, as_trader, schwab, "trader1")
        account_id = schwab.state.users["trader1"].accounts[0].hash_value

        def post(index: int):
            server = (server_a, server_b)[index % 2]
            url = f"{server.url}/schwab/accounts/{account_id}/orders/"
            return as_trader.post(url, data=ticket, headers=headers, timeout=60)

        with ThreadPoolExecutor(max_workers=20) as pool:
            answers = list(pool.map(post, range(20)))

    assert {answer.status_code for answer in answers} == {201}
    assert schwab.state.calls["orders.place"] == 1 and len(schwab.state.orders) == 1
    assert {answer.json()["order_id"] for answer in answers} == {str(next(iter(schwab.state.orders)))}


def test_a_disconnect_through_one_process_is_seen_by_every_other_at_once(
    servers_environment, schwab, tmp_path
):
    """Both servers answer the summary from their copy of the login; a disconnect through one of them ends
    it in the other at once (the copy's token is replaced at the commit)."""
    environment = {**servers_environment, "SCHWAB_SUMMARY_MAX_AGE_SECONDS": "600"}
    alice = User.objects.create_user("alice")
    as_alice = logged_in_session(alice)
    as_alice.cookies.set("csrftoken", "c" * 32)
    with (
        thor_server(environment, log=tmp_path / "a.log") as server_a,
        thor_server(environment, log=tmp_path / "b.log") as server_b,
    ):
        connect(server_a, as_alice, schwab, "trader1")
        account_id = schwab.state.users["trader1"].accounts[0].hash_value
        summary = f"/schwab/account/summary/?account_hash={account_id}"
        for server in (server_a, server_b, server_a, server_b):  # the second round from the copies
            assert as_alice.get(f"{server.url}{summary}", timeout=30).status_code == 200
        disconnect = as_alice.post(
            f"{server_a.url}/schwab/oauth/disconnect/", headers={"X-CSRFToken": "c" * 32}, timeout=30
        )
        assert disconnect.status_code == 200, disconnect.text
        answers = [as_alice.get(f"{server.url}{summary}", timeout=30) for server in (server_b, server_a)]
    assert [(answer.status_code, answer.json()["error"]) for answer in answers] == [
        (404, "schwab_not_connected")
    ] * 2
