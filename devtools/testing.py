"""What tests do again and again, in one place: drive the sandbox as a client would (the consent form,
the token endpoint, the Trader API), inject its faults, and run Thor's connect flow through its views.

Development tooling like the sandbox itself: tests import it, the product never does.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from django.test import Client

from devtools.sandbox.server import SandboxServer
from thor_project.checks import DEV_APP_KEY, DEV_APP_SECRET

CALLBACK = "https://127.0.0.1:8000/schwab/oauth/callback/"
APP_KEY, APP_SECRET = DEV_APP_KEY, DEV_APP_SECRET  # the sandbox's registered development app


def approve(
    sandbox: SandboxServer, username: str = "trader1", state: str = "xyz", **extra: str
) -> dict[str, str]:
    """Submit the consent form; return the callback's query parameters (raw, still URL-encoded)."""
    form = {
        "client_id": APP_KEY,
        "redirect_uri": CALLBACK,
        "state": state,
        "username": username,
        "password": f"{username}-pass",
        "action": "approve",
        **extra,
    }
    response = requests.post(f"{sandbox.url}/v1/oauth/authorize", data=form, allow_redirects=False, timeout=5)
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    assert location.startswith(CALLBACK)
    raw = urlsplit(location).query
    return {part.split("=", 1)[0]: part.split("=", 1)[1] for part in raw.split("&")}


def decoded(params: dict[str, str]) -> dict[str, str]:
    return {
        key: values[0] for key, values in parse_qs("&".join(f"{k}={v}" for k, v in params.items())).items()
    }


def token_request(
    sandbox: SandboxServer, data: dict[str, str], auth: tuple[str, str] = (APP_KEY, APP_SECRET)
) -> requests.Response:
    return requests.post(f"{sandbox.url}/v1/oauth/token", data=data, auth=auth, timeout=5)


def login(sandbox: SandboxServer, username: str = "trader1") -> dict[str, Any]:
    """Run the whole authorization-code flow; return the token response body."""
    code = decoded(approve(sandbox, username))["code"]
    response = token_request(
        sandbox, {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def api(
    sandbox: SandboxServer, token: str, path: str, method: str = "GET", **kwargs: Any
) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
    return requests.request(method, f"{sandbox.url}/trader/v1{path}", headers=headers, timeout=5, **kwargs)


def fault(sandbox: SandboxServer, **body: Any) -> None:
    """Queue a fault at the sandbox (kind, count, path_prefix, retry_after, latency_ms)."""
    response = requests.post(f"{sandbox.url}/sandbox/faults", json=body, timeout=5)
    assert response.status_code == 201, response.text


def clear_faults(sandbox: SandboxServer) -> None:
    assert requests.delete(f"{sandbox.url}/sandbox/faults", timeout=5).status_code == 200


def consent(
    sandbox: SandboxServer, authorize_url: str, *, username: str = "trader1", action: str = "approve"
) -> str:
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


def connect(
    browser: Client, sandbox: SandboxServer, *, username: str = "trader1", next_url: str | None = None
) -> Any:
    """Run start → consent → callback through Thor's views; return the callback's response."""
    start = browser.get("/schwab/oauth/start/", {"next": next_url} if next_url else {})
    assert start.status_code == 302
    return browser.get(local(consent(sandbox, start["Location"], username=username)))


def raw_tokens() -> tuple[str, str]:
    """The token columns as the database holds them (ciphertext, if all is well)."""
    from django.db import connection as db_connection

    with db_connection.cursor() as cursor:
        cursor.execute("SELECT access_token, refresh_token FROM schwab_brokerconnection")
        access, refresh = cursor.fetchone()
    return str(access), str(refresh)


def stream_fault(sandbox: SandboxServer, **body: Any) -> None:
    """Queue a streamer fault (kind: drop, stall, refuse_login, expire_token or lose; count; seconds)."""
    response = requests.post(f"{sandbox.url}/sandbox/stream-faults", json=body, timeout=5)
    assert response.status_code == 201, response.text


def limit_buy(symbol: str, quantity: int, price: float = 1.0) -> dict[str, Any]:
    """A day limit buy as a client posts it to Schwab (far below the market: it stays WORKING)."""
    return {
        "orderType": "LIMIT",
        "session": "NORMAL",
        "duration": "DAY",
        "orderStrategyType": "SINGLE",
        "price": price,
        "orderLegCollection": [
            {
                "instruction": "BUY",
                "quantity": quantity,
                "instrument": {"symbol": symbol, "assetType": "EQUITY"},
            }
        ],
    }


def eventually(condition: Callable[[], Any], *, within: float = 30.0) -> Any:
    """Wait for another thread's or process's work to show: a deadline to fail by, not a timed assertion."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("condition not reached")
