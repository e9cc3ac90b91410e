"""Authorization holds in every process at every moment: two real Thor servers share PostgreSQL and Redis.

The repro: a trader whose account list is cached in both servers reconnects (through one of them) as
another Schwab login, and another trader connects the first login. From then on, through either server,
the first trader reads nothing of the second trader's accounts, and marks none of their snapshots stale.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import User

from conftest import SANDBOX_CALLBACK, FrozenClock
from devtools.testing import consent, local
from LiveData.schwab.tests.servers import database_url, logged_in_session, thor_server
from LiveData.shared import clock, reader

pytestmark = pytest.mark.django_db(transaction=True)


def _connect(server, session, sandbox, username: str) -> None:
    start = session.get(f"{server.url}/schwab/oauth/start/", allow_redirects=False, timeout=30)
    assert start.status_code == 302, start.text
    callback = consent(sandbox, start.headers["Location"], username=username)
    finish = session.get(f"{server.url}{local(callback)}", allow_redirects=False, timeout=30)
    assert finish.status_code == 302, finish.text


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


def test_reconnecting_as_another_login_is_seen_by_every_process(
    postgres, real_redis, schwab, settings, tmp_path, monkeypatch
):
    now = FrozenClock(datetime.now(UTC))  # the servers run on the real clock; so do the sandbox and we
    schwab.state.clock = now
    monkeypatch.setattr(clock, "now", now)
    environment = {
        "DEBUG": "true",
        "DATABASE_URL": database_url(settings),
        "REDIS_URL": settings.REDIS_URL,
        "SCHWAB_API_BASE_URL": schwab.url,
        "SCHWAB_CALLBACK_URL": SANDBOX_CALLBACK,
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
        _connect(server_a, as_alice, schwab, "trader1")
        for server in (server_a, server_b):  # both servers now know alice's accounts (and have published)
            for account_id in first_login:
                assert {status for _, status in _reads(server, as_alice, account_id)} == {200}

        _connect(server_a, as_alice, schwab, "trader2")  # through server A only
        _connect(server_a, as_bob, schwab, "trader1")
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
