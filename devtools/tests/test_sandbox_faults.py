"""Each injected fault happens, on the chosen requests only, and is counted."""

from __future__ import annotations

import json

import pytest
import requests

from devtools.sandbox import trader
from devtools.testing import api, login, token_request


@pytest.fixture
def token(sandbox):
    return login(sandbox)["access_token"]


def _control(sandbox, path, body=None, method="POST"):
    response = requests.request(method, f"{sandbox.url}/sandbox/{path}", json=body, timeout=5)
    assert response.status_code in (200, 201), response.text
    return response.json()


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_by_header(sandbox, token, status):
    response = api(sandbox, token, "/accounts", headers={"X-Sandbox-Fault": str(status)})
    assert response.status_code == status
    assert set(response.json()) == {"message", "errors"}
    assert sandbox.state.faults_injected[str(status)] == 1
    assert api(sandbox, token, "/accounts").status_code == 200  # only that request


def test_429_carries_retry_after(sandbox, token):
    response = api(sandbox, token, "/accounts", headers={"X-Sandbox-Fault": "429:7"})
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert sandbox.state.faults_injected["429"] == 1


def test_queued_faults_hit_matching_paths_the_given_number_of_times(sandbox, token):
    _control(sandbox, "faults", {"kind": "503", "count": 2, "path_prefix": "/trader/v1/accounts"})
    assert api(sandbox, token, "/userPreference").status_code == 200  # another path is untouched
    statuses = [api(sandbox, token, "/accounts").status_code for _ in range(3)]
    assert statuses == [503, 503, 200]
    stats = _control(sandbox, "stats", method="GET")
    assert stats["faults_injected"] == {"503": 2}
    assert stats["calls"]["accounts.list"] == 3
    assert stats["calls"]["user_preference"] == 1


def test_401_for_a_token_that_should_still_be_valid(sandbox, token):
    _control(sandbox, "faults", {"kind": "401"})
    assert api(sandbox, token, "/accounts").status_code == 401
    assert api(sandbox, token, "/accounts").status_code == 200


def test_truncated_and_malformed_json(sandbox, token):
    for kind in ("truncated", "malformed"):
        response = api(sandbox, token, "/accounts", headers={"X-Sandbox-Fault": kind})
        assert response.status_code == 200
        with pytest.raises(json.JSONDecodeError):
            json.loads(response.text)
    assert sandbox.state.faults_injected == {"truncated": 1, "malformed": 1}


def test_hang_outlasts_the_client_timeout(sandbox, token):
    with pytest.raises(requests.Timeout):
        requests.get(
            f"{sandbox.url}/trader/v1/accounts",
            headers={"Authorization": f"Bearer {token}", "X-Sandbox-Fault": "hang"},
            timeout=0.2,
        )
    assert sandbox.state.faults_injected["hang"] == 1


def test_latency_is_counted_and_answers_normally(sandbox, token):
    response = api(sandbox, token, "/accounts", headers={"X-Sandbox-Fault": "latency:20"})
    assert response.status_code == 200
    assert sandbox.state.faults_injected["latency"] == 1


def test_faults_apply_to_the_token_endpoint_too(sandbox):
    refresh = login(sandbox)["refresh_token"]
    _control(sandbox, "faults", {"kind": "502", "path_prefix": "/v1/oauth/token"})
    data = {"grant_type": "refresh_token", "refresh_token": refresh}
    assert token_request(sandbox, data).status_code == 502
    assert token_request(sandbox, data).status_code == 200
    assert sandbox.state.token_grants["refresh_token"] == 1


def test_control_rejects_bad_input(sandbox):
    for body in ({"kind": "explode"}, {"kind": "503", "count": "two"}):
        response = requests.post(f"{sandbox.url}/sandbox/faults", json=body, timeout=5)
        assert response.status_code == 400
        assert "error" in response.json()
    junk = requests.post(f"{sandbox.url}/sandbox/faults", data=b"{", timeout=5)
    assert junk.status_code == 400


def test_expire_tokens_control(sandbox):
    tokens = login(sandbox)
    assert _control(sandbox, "tokens/expire", {"username": "trader1", "kind": "refresh"}) == {"expired": 1}
    response = token_request(
        sandbox, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )
    assert response.json()["error"] == "refresh_token_authentication_error"


def test_a_handler_bug_is_a_500_service_error_not_a_traceback(sandbox, token, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom in the sandbox")

    monkeypatch.setattr(trader, "account_json", broken)
    response = api(sandbox, token, "/accounts")
    assert response.status_code == 500
    assert set(response.json()) == {"message", "errors"}
    assert "boom" not in response.text and "Traceback" not in response.text


def test_request_rates_are_measured_per_user_and_in_total(sandbox, token):
    from devtools.sandbox.state import _densest

    for _ in range(3):
        api(sandbox, token, "/accounts/accountNumbers")
    rates = _control(sandbox, "stats", method="GET")["rates"]
    assert rates["requests"] == 3 and rates["max_per_user_per_minute"] == 3
    assert _densest([0.0, 0.5, 0.99, 1.0, 1.5], 1.0) == 3  # [0.5, 1.5) holds 0.5, 0.99, 1.0
    assert _control(sandbox, "stats/reset") == {"reset": True}
    assert _control(sandbox, "stats", method="GET")["rates"]["requests"] == 0


def test_fleet_users_for_load_tests():
    from devtools.sandbox.state import SandboxConfig, SandboxState

    state = SandboxState(SandboxConfig(fleet_users=3, fleet_accounts=4))
    fleet = [user for name, user in state.users.items() if name.startswith("fleet")]
    assert len(fleet) == 3 and all(len(user.accounts) == 4 for user in fleet)
    assert all(len(account.holdings) == 5 for user in fleet for account in user.accounts)
