"""Fixtures for the Schwab app: Thor pointed at the sandbox, one clock for both, a connected trader."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import User
from django.test import Client

from conftest import SANDBOX_CALLBACK, FrozenClock
from devtools.testing import connect
from LiveData.schwab.tests.servers import database_url
from LiveData.shared import clock


@pytest.fixture
def trader(db) -> User:
    return User.objects.create_user("alice", password="alice-password-123")


@pytest.fixture
def browser(trader) -> Client:
    client = Client()
    client.force_login(trader)
    return client


@pytest.fixture
def connected(browser, schwab, trader):
    response = connect(browser, schwab)
    assert response.status_code == 302
    trader.refresh_from_db()
    return trader


@pytest.fixture
def servers_environment(postgres, real_redis, schwab, settings, monkeypatch):
    """What Thor servers need to share this test's database, Redis and sandbox; all on the real clock."""
    now = FrozenClock(datetime.now(UTC))  # the servers run on the real clock; so do the sandbox and we
    schwab.state.clock = now
    monkeypatch.setattr(clock, "now", now)
    return {
        "DEBUG": "true",
        "DATABASE_URL": database_url(settings),
        "REDIS_URL": settings.REDIS_URL,
        "SCHWAB_API_BASE_URL": schwab.url,
        "SCHWAB_CALLBACK_URL": SANDBOX_CALLBACK,
    }
