"""The order stream under a real ASGI server (uvicorn) on PostgreSQL: an open stream holds no thread and no
database connection of the server's, however many are open."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.db import connection

from LiveData.schwab.tests.servers import asgi_server, logged_in_session
from LiveData.shared import clock, ownership

pytestmark = pytest.mark.django_db(transaction=True)
STREAMS = 20


def server_threads(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("Threads:")))


def database_sessions() -> int:
    """Connections to the test database other than this one (the server's)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return int(cursor.fetchone()[0])


def test_open_streams_hold_no_thread_and_no_database_connection(servers_environment, tmp_path):
    user = User.objects.create_user("sasha", password="sasha-password-123")
    ownership.replace_user_accounts(user_id=user.pk, account_ids=["A" * 64], at=clock.now())
    session = logged_in_session(user)
    with asgi_server(servers_environment, log=tmp_path / "uvicorn.log") as server:
        assert session.get(f"{server.url}/schwab/health/", timeout=30).status_code == 200
        threads_before = server_threads(server.pid)
        ready = threading.Barrier(STREAMS + 1, timeout=60)
        done = threading.Event()
        responses = []

        def follow() -> None:
            with session.get(f"{server.url}/schwab/orders/stream/", stream=True, timeout=60) as response:
                responses.append(response.status_code)
                for line in response.iter_lines():
                    if line.startswith(b"event: ready"):
                        ready.wait()
                        done.wait(timeout=60)
                        return

        followers = [threading.Thread(target=follow, daemon=True) for _ in range(STREAMS)]
        for follower in followers:
            follower.start()
        ready.wait()  # every stream is open and past its start
        try:
            assert responses == [200] * STREAMS
            assert server_threads(server.pid) - threads_before < STREAMS / 4
            assert database_sessions() < STREAMS / 4
        finally:
            done.set()
            for follower in followers:
                follower.join(timeout=30)
