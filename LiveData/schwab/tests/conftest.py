"""Fixtures for the Schwab app: Thor pointed at the sandbox, one clock for both, a connected trader."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client

from devtools.testing import connect
from LiveData.shared import clock, ownership


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
def account_id(connected, browser):
    return browser.get("/schwab/accounts/").json()["accounts"][0]["account_id"]


@pytest.fixture
def trading(connected, settings, account_id):
    """Trading switched on, the trader allowed to trade; the trader's first account."""
    settings.SCHWAB_TRADING_ENABLED = True
    connected.user_permissions.add(Permission.objects.get(codename="trade", content_type__app_label="schwab"))
    return account_id


# Two users' accounts, for the order stream and the live channel: each user owns one.
MINE, THEIRS = "A" * 64, "B" * 64


@pytest.fixture(params=["fake", "real"])
def store(request):
    """Both Redis flavours: what the streams promise must hold on the real thing too."""
    return request.getfixturevalue("fake_redis" if request.param == "fake" else "real_redis")


@pytest.fixture
def owner(db, store) -> User:
    user = User.objects.create_user("olga", password="olga-password-123")
    ownership.replace_user_accounts(user_id=user.pk, account_ids=[MINE], at=clock.now())
    other = User.objects.create_user("oscar", password="oscar-password-123")
    ownership.replace_user_accounts(user_id=other.pk, account_ids=[THEIRS], at=clock.now())
    return user
