"""Helpers for driving the sandbox over HTTP in tests, as a real client would."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from LiveData.schwab.sandbox.server import SandboxServer

CALLBACK = "https://127.0.0.1:8000/schwab/oauth/callback/"
APP_KEY = "thor-dev-app-key"
APP_SECRET = "thor-dev-app-secret"


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
):
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
