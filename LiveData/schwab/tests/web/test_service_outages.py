"""When our own services die: PostgreSQL and Redis killed (private servers the tests start, never the
machine's), with nothing lost, sent twice or left unsettled, and every long-running process going on."""

from __future__ import annotations

import contextlib
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import requests

from devtools.testing import eventually, fault
from LiveData.schwab.tests.servers import ROOT, connect, thor_server

pytestmark = pytest.mark.django_db(transaction=True)
CSRF = "c" * 32
TICKET = '{"symbol": "KO", "instruction": "buy", "quantity": 1, "limit_price": "1.00"}'


def _manage(environment: dict[str, str], *arguments: str) -> str:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "thor_project.settings", **environment}
    result = subprocess.run(  # noqa: S603 - fixed arguments
        [sys.executable, "manage.py", *arguments],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@contextlib.contextmanager
def _running(environment: dict[str, str], *arguments: str) -> Iterator[tuple[subprocess.Popen[str], Any]]:
    """A manage.py command as its own process, with a queue of the lines it prints."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "thor_project.settings",
        "PYTHONUNBUFFERED": "1",
        **environment,
    }
    process = subprocess.Popen(  # noqa: S603 - fixed arguments
        [sys.executable, "manage.py", *arguments],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        yield process, lines
    finally:
        process.terminate()
        process.wait(timeout=30)


def _line_with(lines: queue.Queue[str], text: str) -> str:
    """The next printed line containing `text` (a deadline to fail by, not a timed assertion)."""
    while True:
        line = lines.get(timeout=60)
        if text in line:
            return line


def test_the_refresh_loop_outlives_its_database(real_redis, settings, private_postgres):
    environment = {"DEBUG": "true", "DATABASE_URL": private_postgres.url, "REDIS_URL": settings.REDIS_URL}
    with _running(environment, "livedata_refresh", "--loop", "--interval", "0.2") as (process, lines):
        _line_with(lines, "refreshed 0 account(s)")
        private_postgres.kill()
        _line_with(lines, "refresh round failed: the database unavailable")
        assert process.poll() is None  # still running, backing off
        private_postgres.start()
        _line_with(lines, "refreshed 0 account(s)")  # and back to work by itself
        assert process.poll() is None


def _trader(environment: dict[str, str]) -> str:
    """A trader allowed to trade, created in the private database; the session key of their login."""
    return _manage(
        environment,
        "shell",
        "-c",
        "from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY;"
        "from django.contrib.auth.models import Permission, User;"
        "from django.contrib.sessions.backends.db import SessionStore;"
        "user = User.objects.create_user('tess');"
        "trade = Permission.objects.get(codename='trade', content_type__app_label='schwab');"
        "user.user_permissions.add(trade);"
        "session = SessionStore(); session[SESSION_KEY] = str(user.pk);"
        "session[BACKEND_SESSION_KEY] = 'django.contrib.auth.backends.ModelBackend';"
        "session[HASH_SESSION_KEY] = user.get_session_auth_hash();"
        "session.create(); print(session.session_key)",
    ).splitlines()[-1]


def _row_state(url: str) -> str | None:
    with psycopg.connect(url, connect_timeout=5) as connection:
        found = connection.execute(
            "SELECT state FROM schwab_orderrequest WHERE idempotency_key = 'k1'"
        ).fetchone()
    return None if found is None else str(found[0])


def test_an_order_in_flight_when_the_database_dies_is_unknown_then_settled(
    servers_environment, schwab, tmp_path, private_postgres
):
    environment = {
        **servers_environment,
        "DATABASE_URL": private_postgres.url,
        "SCHWAB_TRADING_ENABLED": "true",
        "SCHWAB_ORDER_RECONCILE_GRACE_SECONDS": "0",
    }
    session = requests.Session()
    session.cookies.set("sessionid", _trader(environment))
    session.cookies.set("csrftoken", CSRF)
    headers = {"X-CSRFToken": CSRF, "Content-Type": "application/json"}
    with thor_server(environment, log=tmp_path / "server.log") as server:
        connect(server, session, schwab)
        account_id = schwab.state.users["trader1"].accounts[0].hash_value
        orders = f"{server.url}/schwab/accounts/{account_id}/orders/"
        fault(
            schwab,
            kind="latency",
            latency_ms=3000,
            count=1,
            path_prefix=f"/trader/v1/accounts/{account_id}/orders",
        )
        answers: list[requests.Response] = []
        client = threading.Thread(
            target=lambda: answers.append(
                session.post(orders, data=TICKET, headers={**headers, "Idempotency-Key": "k1"}, timeout=60)
            )
        )
        client.start()
        eventually(lambda: _row_state(private_postgres.url) == "sending")
        private_postgres.kill()  # while Schwab works on the order
        client.join(timeout=60)
        # Before anything is sent, the database gone is a 503 with a stable code (an order, the summary).
        refused = session.post(orders, data=TICKET, headers={**headers, "Idempotency-Key": "k2"}, timeout=30)
        summary = session.get(f"{server.url}/schwab/account/summary/?account_hash={account_id}", timeout=30)
    assert (answers[0].status_code, answers[0].json()["outcome"]) == (202, "unknown")  # never a 500
    assert (refused.status_code, refused.json()["error"]) == (503, "database_unavailable")
    assert (summary.status_code, summary.json()["error"]) == (503, "database_unavailable")
    private_postgres.start()
    assert _row_state(private_postgres.url) == "sending"  # nothing could be written; the task settles it
    assert _manage(environment, "schwab_settle_orders") == "settled 1 order request(s) (placed: 1)"
    assert _row_state(private_postgres.url) == "placed"
    assert schwab.state.calls["orders.place"] == 1 and len(schwab.state.orders) == 1


def _failures(call: Any, times: int) -> list[str]:
    """What each of `times` calls raised (the exception's class), or "answered"."""
    import redis

    seen = []
    for _ in range(times):
        try:
            call()
            seen.append("answered")
        except redis.RedisError as failure:
            seen.append(type(failure).__name__)
    return seen


def test_a_hung_redis_costs_one_timeout_then_calls_fail_at_once(private_redis, settings):
    from LiveData.shared import redis_client, redis_guard

    settings.REDIS_URL = private_redis.url
    settings.REDIS_SOCKET_TIMEOUT = 0.5
    settings.REDIS_OUTAGE_HOLD_SECONDS = 600  # longer than the test: nothing but the guard decides
    redis_client.reset_client()
    redis_guard.forget()
    try:
        client = redis_client.get_redis()
        assert client.ping()
        private_redis.pause()  # SIGSTOP: the connection stays open and nothing answers
        assert _failures(lambda: client.get("anything"), 3) == [
            "TimeoutError",  # the one wait
            "RedisNotAnswering",  # then at once, without sending
            "RedisNotAnswering",
        ]
        private_redis.resume()
        redis_guard.forget()  # the hold over: the next call tries Redis again
        assert _failures(lambda: client.get("anything"), 1) == ["answered"]
    finally:
        private_redis.resume()
        redis_client.reset_client()
        redis_guard.forget()


def test_requests_on_a_hung_redis_wait_one_timeout_in_all(
    servers_environment, schwab, tmp_path, private_redis
):
    """A gunicorn worker whose Redis hangs: three summary requests answer 503 redis_unavailable, and the
    server waited on Redis once (one timeout logged), not once per call of each request."""
    from django.contrib.auth.models import User

    from LiveData.schwab.tests.servers import logged_in_session

    environment = {
        **servers_environment,
        "REDIS_URL": private_redis.url,
        "REDIS_SOCKET_TIMEOUT": "1",
        "REDIS_OUTAGE_HOLD_SECONDS": "600",
    }
    session = logged_in_session(User.objects.create_user("hana"))
    with thor_server(environment, log=tmp_path / "server.log") as server:
        connect(server, session, schwab)
        account_id = schwab.state.users["trader1"].accounts[0].hash_value
        summary = f"{server.url}/schwab/account/summary/?account_hash={account_id}"
        assert session.get(summary, timeout=30).status_code == 200
        private_redis.pause()
        answers = [session.get(summary, timeout=60) for _ in range(3)]
        private_redis.resume()
    assert [(a.status_code, a.json()["error"]) for a in answers] == [(503, "redis_unavailable")] * 3
    assert (tmp_path / "server.log").read_text().count("redis is not answering") == 1
