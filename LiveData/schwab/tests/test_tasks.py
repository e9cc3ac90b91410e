"""A real Celery worker process (not eager mode) refreshes an account against the running sandbox."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.contrib.auth.models import User

from conftest import FrozenClock
from devtools.testing import connect
from LiveData.schwab.models import BrokerConnection
from LiveData.schwab.tasks import refresh_connection
from LiveData.shared import clock, reader

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.django_db(transaction=True)
def test_a_worker_process_refreshes_a_connection(postgres, real_redis, schwab, client, settings, monkeypatch):
    # The worker runs on the real clock, so the sandbox and this process do too (frozen at "now").
    now = FrozenClock(datetime.now(UTC))
    schwab.state.clock = now
    monkeypatch.setattr(clock, "now", now)
    user = User.objects.create_user("gail", password="x")
    client.force_login(user)
    assert connect(client, schwab).status_code == 302
    connection = BrokerConnection.objects.get(user=user)

    database = settings.DATABASES["default"]
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "thor_project.settings_test",
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_RESULT_BACKEND": settings.CELERY_RESULT_BACKEND,
        "SCHWAB_API_BASE_URL": schwab.url,
    }
    command = [sys.executable, "-m", "celery", "-A", "thor_project", "worker", "--pool=solo"]
    command += ["--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel=WARNING"]
    worker = subprocess.Popen(command, cwd=ROOT, env=environment)  # noqa: S603 - fixed arguments
    try:
        outcomes = refresh_connection.delay(connection.pk).get(timeout=90)
    finally:
        worker.terminate()
        worker.wait(timeout=30)

    assert [outcome["outcome"] for outcome in outcomes] == ["ok", "ok"]
    assert schwab.state.calls["accounts.get"] == 2  # the worker, not this process, called the sandbox
    for account in schwab.state.users["trader1"].accounts:
        snapshot = reader.latest_positions(account.hash_value)
        assert snapshot is not None and reader.account_owners(account.hash_value) == [str(user.pk)]
