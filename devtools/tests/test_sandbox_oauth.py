"""The sandbox's OAuth endpoints answer as schwab-api.md section 1 describes, error cases included."""

from __future__ import annotations

import requests

from devtools.testing import (
    APP_KEY,
    CALLBACK,
    api,
    approve,
    decoded,
    login,
    token_request,
)


def test_authorize_shows_consent_page_for_registered_app(sandbox):
    response = requests.get(
        f"{sandbox.url}/v1/oauth/authorize",
        params={"client_id": APP_KEY, "redirect_uri": CALLBACK, "state": "s1"},
        timeout=5,
    )
    assert response.status_code == 200
    assert "text/html" in response.headers["Content-Type"]
    assert "name='state' value='s1'" in response.text


def test_authorize_refuses_unknown_app_and_unregistered_callback_without_redirect(sandbox):
    for params in (
        {"client_id": "someone-else", "redirect_uri": CALLBACK},
        {"client_id": APP_KEY, "redirect_uri": CALLBACK.rstrip("/")},  # must match exactly
        {"client_id": APP_KEY, "redirect_uri": "https://evil.example/cb"},
        {"client_id": APP_KEY},
    ):
        response = requests.get(
            f"{sandbox.url}/v1/oauth/authorize", params=params, allow_redirects=False, timeout=5
        )
        assert response.status_code == 400
        assert "Location" not in response.headers


def test_approve_redirects_with_encoded_code_session_and_state(sandbox):
    params = approve(sandbox, state="abc123")
    assert params["code"].endswith("%40")  # the trailing "@" arrives URL-encoded
    assert set(params) == {"code", "session", "state"}
    assert params["state"] == "abc123"
    assert len(params["session"]) == 36


def test_deny_redirects_with_access_denied(sandbox):
    form = {"client_id": APP_KEY, "redirect_uri": CALLBACK, "state": "s9", "action": "deny"}
    response = requests.post(f"{sandbox.url}/v1/oauth/authorize", data=form, allow_redirects=False, timeout=5)
    assert response.status_code == 302
    query = decoded(dict(p.split("=", 1) for p in response.headers["Location"].split("?", 1)[1].split("&")))
    assert query["error"] == "access_denied"
    assert query["state"] == "s9"


def test_wrong_password_shows_the_form_again(sandbox):
    form = {
        "client_id": APP_KEY,
        "redirect_uri": CALLBACK,
        "username": "trader1",
        "password": "nope",
        "action": "approve",
    }
    response = requests.post(f"{sandbox.url}/v1/oauth/authorize", data=form, allow_redirects=False, timeout=5)
    assert response.status_code == 200
    assert "wrong" in response.text


def test_code_exchange_returns_schwab_token_shape(sandbox):
    body = login(sandbox)
    assert set(body) == {"expires_in", "token_type", "scope", "refresh_token", "access_token", "id_token"}
    assert body["expires_in"] == 1800
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "api"
    assert sandbox.state.token_grants["authorization_code"] == 1


def test_code_sent_still_encoded_is_invalid_grant(sandbox):
    raw_code = approve(sandbox)["code"]  # "...%40": decoding it twice or not at all are both bugs
    response = token_request(
        sandbox, {"grant_type": "authorization_code", "code": raw_code, "redirect_uri": CALLBACK}
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_code_is_single_use_and_short_lived(sandbox, sandbox_clock):
    code = decoded(approve(sandbox))["code"]
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK}
    assert token_request(sandbox, data).status_code == 200
    reused = token_request(sandbox, data)
    assert (reused.status_code, reused.json()["error"]) == (400, "invalid_grant")

    late = decoded(approve(sandbox))["code"]
    sandbox_clock.advance(seconds=31)
    expired = token_request(sandbox, {**data, "code": late})
    assert (expired.status_code, expired.json()["error"]) == (400, "invalid_grant")


def test_redirect_uri_mismatch_is_invalid_request(sandbox):
    code = decoded(approve(sandbox))["code"]
    response = token_request(
        sandbox,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": "https://127.0.0.1:8443/other/callback/",
        },
    )
    assert (response.status_code, response.json()["error"]) == (400, "invalid_request")


def test_bad_client_credentials_are_401_invalid_client(sandbox):
    code = decoded(approve(sandbox))["code"]
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK}
    wrong = token_request(sandbox, data, auth=(APP_KEY, "not-the-secret"))
    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_client")
    missing = requests.post(f"{sandbox.url}/v1/oauth/token", data=data, timeout=5)
    assert (missing.status_code, missing.json()["error"]) == (401, "invalid_client")
    assert token_request(sandbox, data).status_code == 200  # the code survived the failed attempts


def test_unsupported_grant_and_wrong_content_type(sandbox):
    unsupported = token_request(sandbox, {"grant_type": "password"})
    assert (unsupported.status_code, unsupported.json()["error"]) == (400, "unsupported_grant_type")
    as_json = requests.post(
        f"{sandbox.url}/v1/oauth/token",
        json={"grant_type": "refresh_token"},
        auth=(APP_KEY, "thor-dev-app-secret"),
        timeout=5,
    )
    assert (as_json.status_code, as_json.json()["error"]) == (400, "invalid_request")


def test_refresh_gives_new_access_token_and_keeps_refresh_token(sandbox):
    first = login(sandbox)
    response = token_request(
        sandbox, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["access_token"] != first["access_token"]
    assert body["refresh_token"] == first["refresh_token"]
    assert api(sandbox, body["access_token"], "/accounts/accountNumbers").status_code == 200
    assert sandbox.state.token_grants["refresh_token"] == 1


def test_rotating_refresh_tokens_retire_the_old_one(sandbox):
    sandbox.state.config.rotate_refresh_token = True
    first = login(sandbox)
    body = token_request(
        sandbox, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    ).json()
    assert body["refresh_token"] != first["refresh_token"]
    again = token_request(sandbox, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    assert (again.status_code, again.json()["error"]) == (400, "refresh_token_authentication_error")


def test_refresh_token_dies_seven_days_after_login_even_when_used(sandbox, sandbox_clock):
    tokens = login(sandbox)
    data = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    sandbox_clock.advance(days=6, hours=23)
    assert token_request(sandbox, data).status_code == 200  # refreshing does not extend the 7 days
    sandbox_clock.advance(hours=1, seconds=1)
    response = token_request(sandbox, data)
    assert response.status_code == 400
    assert response.json() == {
        "error": "refresh_token_authentication_error",
        "error_description": "Failed refresh token authentication",
    }


def test_access_token_expires_after_thirty_minutes(sandbox, sandbox_clock):
    tokens = login(sandbox)
    sandbox_clock.advance(minutes=29)
    assert api(sandbox, tokens["access_token"], "/accounts/accountNumbers").status_code == 200
    sandbox_clock.advance(minutes=1)
    assert api(sandbox, tokens["access_token"], "/accounts/accountNumbers").status_code == 401


def test_new_login_invalidates_previous_tokens(sandbox):
    old = login(sandbox)
    new = login(sandbox)
    assert api(sandbox, old["access_token"], "/accounts/accountNumbers").status_code == 401
    refresh = token_request(sandbox, {"grant_type": "refresh_token", "refresh_token": old["refresh_token"]})
    assert refresh.json()["error"] == "refresh_token_authentication_error"
    assert api(sandbox, new["access_token"], "/accounts/accountNumbers").status_code == 200


def test_shared_accounts_are_the_ones_chosen_at_consent(sandbox):
    account = sandbox.state.users["trader1"].accounts[1]
    code = decoded(approve(sandbox, accounts=account.account_number))["code"]
    tokens = token_request(
        sandbox, {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK}
    ).json()
    numbers = api(sandbox, tokens["access_token"], "/accounts/accountNumbers").json()
    assert numbers == [{"accountNumber": account.account_number, "hashValue": account.hash_value}]
