"""An open order stream is a logged-in request that lasts: it ends within one heartbeat of its session
being logged out, its user deactivated or its password changed (uvicorn and PostgreSQL, real processes)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest
from django.contrib.auth.models import User

from LiveData.schwab.tests.servers import ROOT, asgi_server, logged_in_session
from LiveData.shared import clock, ownership

pytestmark = pytest.mark.django_db(transaction=True)
CSRF = "c" * 32

CHANGES = {
    "deactivated": "User.objects.filter(username='sasha').update(is_active=False)",
    "password changed": (
        "from django.contrib.auth.hashers import make_password;"
        " User.objects.filter(username='sasha').update(password=make_password('another-password-9'))"
    ),
}


def _shell(statement: str, environment: dict[str, str]) -> None:
    subprocess.run(  # noqa: S603 - fixed arguments
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            f"from django.contrib.auth.models import User; {statement}",
        ],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "thor_project.settings", **environment},
        check=True,
        timeout=60,
    )


@pytest.mark.parametrize("change", ["logged out", *CHANGES])
def test_an_open_stream_ends_when_its_login_does(change, servers_environment, tmp_path):
    environment = {**servers_environment, "THOR_SSE_HEARTBEAT_SECONDS": "0.2"}
    user = User.objects.create_user("sasha", password="sasha-password-123")
    ownership.replace_user_accounts(user_id=user.pk, account_ids=["A" * 64], at=clock.now())
    session = logged_in_session(user)
    heartbeats_before = 0
    opened, ended = threading.Event(), threading.Event()
    with asgi_server(environment, log=tmp_path / "uvicorn.log") as server:

        def follow() -> None:
            nonlocal heartbeats_before
            with session.get(f"{server.url}/schwab/orders/stream/", stream=True, timeout=30) as response:
                assert response.status_code == 200
                for line in response.iter_lines():
                    if line == b": heartbeat" and not opened.is_set():
                        heartbeats_before += 1
                        if heartbeats_before == 3:  # the login holds: the stream goes on
                            opened.set()
            ended.set()  # the server ended the stream (a read timeout would have raised instead)

        follower = threading.Thread(target=follow, daemon=True)
        follower.start()
        assert opened.wait(timeout=30)
        if change == "logged out":
            session.cookies.set("csrftoken", CSRF)
            answer = session.post(
                f"{server.url}/accounts/logout/",
                headers={"X-CSRFToken": CSRF},
                allow_redirects=False,
                timeout=30,
            )
            assert answer.status_code == 302
        else:
            _shell(CHANGES[change], environment)
        follower.join(timeout=30)
        ended_while_serving = ended.is_set()  # not by the server's shutdown below
    assert ended_while_serving and heartbeats_before == 3
