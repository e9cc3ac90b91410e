"""Logins are exact in every server process at every moment (real gunicorn servers on PostgreSQL).

A logout is the remedy for a stolen session: once it has answered, no request with that cookie succeeds
anywhere, whatever other requests with it were in flight. A change to the user, however it is made (the
ORM's save(), QuerySet.update(), raw SQL), takes effect on the very next request in every process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import requests
from django.contrib.auth.models import Permission, User

from LiveData.schwab.tests.servers import ROOT, ThorServer, logged_in_session, thor_server

pytestmark = pytest.mark.django_db(transaction=True)
CSRF = "c" * 32
STATUS = "/schwab/oauth/status/"


def _logout(server: ThorServer, session: requests.Session) -> requests.Response:
    session.cookies.set("csrftoken", CSRF)
    return session.post(
        f"{server.url}/accounts/logout/", headers={"X-CSRFToken": CSRF}, allow_redirects=False, timeout=30
    )


@contextmanager
def _polling(servers: list[ThorServer], cookie: str, per_server: int) -> Iterator[None]:
    """Threads that keep asking the servers with `cookie` until the block ends (each a client of its own)."""
    done = threading.Event()

    def poll(server: ThorServer) -> None:
        client = requests.Session()
        client.cookies.set("sessionid", cookie)
        while not done.is_set():
            client.get(f"{server.url}{STATUS}", timeout=30)

    threads = [threading.Thread(target=poll, args=(s,)) for s in servers for _ in range(per_server)]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        done.set()
        for thread in threads:
            thread.join()


def test_a_logout_stays_a_logout_while_other_requests_race_it(servers_environment, tmp_path):
    """20 logouts, each while two pollers per server process keep using the cookie; then replays."""
    alice = User.objects.create_user("alice")
    replays_answered = 0
    with (
        thor_server(servers_environment, log=tmp_path / "a.log", workers=2) as server_a,
        thor_server(servers_environment, log=tmp_path / "b.log", workers=2) as server_b,
    ):
        servers = [server_a, server_b]
        for round_ in range(20):
            session = logged_in_session(alice)
            cookie = session.cookies["sessionid"]
            assert session.get(f"{server_a.url}{STATUS}", timeout=30).status_code == 200
            with _polling(servers, cookie, per_server=2):
                assert _logout(servers[round_ % 2], session).status_code == 302
            replay = requests.Session()
            replay.cookies.set("sessionid", cookie)
            for server in servers * 3:
                replays_answered += replay.get(f"{server.url}{STATUS}", timeout=30).status_code == 200
    assert replays_answered == 0


def _change(statement: str, environment: dict[str, str]) -> None:
    """Run `statement` in a process of its own (manage.py shell), as an operator or a migration would."""
    subprocess.run(  # noqa: S603 - fixed arguments
        [sys.executable, "manage.py", "shell", "-c", statement],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "thor_project.settings", **environment},
        check=True,
        timeout=60,
    )


CHANGES = {
    "password, QuerySet.update": (
        "from django.contrib.auth.hashers import make_password; from django.contrib.auth.models import User;"
        " User.objects.filter(username='alice').update(password=make_password('another-password-9'))"
    ),
    "deactivated, QuerySet.update": (
        "from django.contrib.auth.models import User;"
        " User.objects.filter(username='alice').update(is_active=False)"
    ),
    "deactivated, raw SQL": (
        "from django.db import connection; cursor = connection.cursor();"
        " cursor.execute(\"UPDATE auth_user SET is_active = false WHERE username = 'alice'\")"
    ),
    "password, save()": (
        "from django.contrib.auth.models import User; user = User.objects.get(username='alice');"
        " user.set_password('another-password-9'); user.save()"
    ),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_a_change_to_the_user_made_any_way_is_seen_by_every_process_at_once(
    change, servers_environment, tmp_path
):
    User.objects.create_user("alice", password="first-password-1")
    session = logged_in_session(User.objects.get(username="alice"))
    with (
        thor_server(servers_environment, log=tmp_path / "a.log") as server_a,
        thor_server(servers_environment, log=tmp_path / "b.log") as server_b,
    ):
        for server in (server_a, server_b, server_a, server_b):
            assert session.get(f"{server.url}{STATUS}", timeout=30).status_code == 200
        _change(CHANGES[change], servers_environment)
        answers = [session.get(f"{s.url}{STATUS}", timeout=30).status_code for s in (server_b, server_a)]
    assert answers == [401, 401]


def test_a_permission_taken_away_with_raw_sql_is_seen_at_once(servers_environment, tmp_path):
    """Trading needs schwab.trade: revoked outside the ORM's signals, the next order request is refused.
    (Sent without an Idempotency-Key, so nothing could be placed: the permission is checked first.)"""
    environment = {**servers_environment, "SCHWAB_TRADING_ENABLED": "true"}
    tess = User.objects.create_user("tess")
    tess.user_permissions.add(Permission.objects.get(codename="trade", content_type__app_label="schwab"))
    session = logged_in_session(tess)
    session.cookies.set("csrftoken", CSRF)
    revoke = (
        "from django.db import connection; cursor = connection.cursor(); cursor.execute("
        "'DELETE FROM auth_user_user_permissions"
        " WHERE user_id = (SELECT id FROM auth_user WHERE username = %s)', ['tess'])"
    )

    def place(server: ThorServer) -> str:
        answer = session.post(
            f"{server.url}/schwab/accounts/any/orders/", json={}, headers={"X-CSRFToken": CSRF}, timeout=30
        )
        return str(answer.json()["error"])

    with thor_server(environment, log=tmp_path / "a.log", workers=2) as server:
        before = [place(server) for _ in range(2)]
        _change(revoke, environment)
        after = [place(server) for _ in range(2)]
    assert before == ["idempotency_key_required"] * 2
    assert after == ["trading_not_permitted"] * 2
