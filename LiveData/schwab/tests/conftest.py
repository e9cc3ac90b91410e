"""Fixtures for the Schwab app: Thor pointed at the sandbox, one clock for both, a connected trader."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.contrib.auth.models import User
from django.test import Client


@pytest.fixture
def trader(db) -> User:
    return User.objects.create_user("alice", password="alice-password-123")


@pytest.fixture
def browser(trader) -> Client:
    client = Client()
    client.force_login(trader)
    return client


def consent(sandbox, authorize_url: str, *, username: str = "trader1", action: str = "approve") -> str:
    """Approve (or deny) at the sandbox's consent page; return the callback URL Schwab redirects to."""
    query = {key: values[0] for key, values in parse_qs(urlsplit(authorize_url).query).items()}
    form = {
        "client_id": query["client_id"],
        "redirect_uri": query["redirect_uri"],
        "state": query.get("state", ""),
        "username": username,
        "password": f"{username}-pass",
        "action": action,
    }
    response = requests.post(f"{sandbox.url}/v1/oauth/authorize", data=form, allow_redirects=False, timeout=5)
    assert response.status_code == 302, response.text
    return response.headers["Location"]


def local(url: str) -> str:
    """The path and query of a Thor URL, for Django's test client."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def connect(browser: Client, sandbox, *, username: str = "trader1", next_url: str | None = None):
    """Run start → consent → callback through Thor's views; return the callback's response."""
    start = browser.get("/schwab/oauth/start/", {"next": next_url} if next_url else {})
    assert start.status_code == 302
    return browser.get(local(consent(sandbox, start["Location"], username=username)))


@pytest.fixture
def connected(browser, schwab, trader):
    response = connect(browser, schwab)
    assert response.status_code == 302
    trader.refresh_from_db()
    return trader
