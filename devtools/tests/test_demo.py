"""`scripts/demo` (manage.py demo): a second start refuses cleanly, and a restart reconnects by itself."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.test import Client

from devtools.management.commands.demo import reconnect
from devtools.testing import connect

ROOT = Path(__file__).resolve().parents[2]


def test_a_second_demo_says_what_runs_where_and_changes_nothing(tmp_path):
    database = tmp_path / "demo.sqlite3"
    with socket.create_server(("127.0.0.1", 0)) as running:  # the first demo's Thor, say
        port = running.getsockname()[1]
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            sandbox_port = probe.getsockname()[1]
        environment = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "thor_project.settings",
            "DEBUG": "true",
            "DATABASE_URL": f"sqlite:///{database}",
            "SCHWAB_API_BASE_URL": f"http://127.0.0.1:{sandbox_port}",
        }
        environment.pop("REDIS_URL", None)
        result = subprocess.run(  # noqa: S603 - fixed arguments
            [sys.executable, "manage.py", "demo", "--port", str(port)],
            cwd=ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    refusal = [line for line in result.stderr.splitlines() if "in use" in line]
    assert refusal == [
        f"CommandError: port {port} (Thor) is in use: is a demo already running? Open "
        f"http://127.0.0.1:{port}/ or stop it first. Nothing was changed."
    ]
    assert "Traceback" not in result.stderr and "Thor login" not in result.stdout
    assert not database.exists()  # not even migrated: the running demo's login stays valid


@pytest.mark.django_db(transaction=True)
def test_a_restarted_demo_reconnects_by_itself(schwab):
    """The sandbox's tokens end with it; the connection stored in the database then needs a new login,
    which the demo makes at start instead of showing 'Your Schwab connection has expired'."""
    user = User.objects.create_user("demo")
    browser = Client()
    browser.force_login(user)
    assert connect(browser, schwab).status_code == 302
    assert browser.get("/schwab/accounts/").status_code == 200
    schwab.state.reset()  # the demo stopped: every token the sandbox issued is gone
    assert browser.get("/schwab/accounts/").json()["error"] == "schwab_reauth_required"
    assert reconnect(user, schwab) is True
    assert browser.get("/schwab/accounts/").status_code == 200
    assert browser.get("/schwab/oauth/status/").json()["status"] == "active"


@pytest.mark.django_db
def test_a_demo_user_never_connected_is_left_alone(schwab):
    assert reconnect(User.objects.create_user("demo"), schwab) is False


def test_a_port_a_stopped_demo_left_in_time_wait_is_free():
    """Restarting the demo right after stopping it: its closed connections linger in TIME_WAIT, which the
    servers' own bind (SO_REUSEADDR) ignores; so must the check (it refused the restart for a minute)."""
    from devtools.management.commands.demo import _free

    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = server.accept()
        accepted.close()  # the server's side closes first: it is the one left in TIME_WAIT
        client.close()
    assert _free("127.0.0.1", port)
    with socket.create_server(("127.0.0.1", port)):  # a server listening there again
        assert not _free("127.0.0.1", port)
