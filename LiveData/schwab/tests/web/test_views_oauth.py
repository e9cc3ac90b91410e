"""The connect flow through Thor's views: start, state checks, Schwab's errors, callback, storage."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import requests
import responses
from django.db import connection as db_connection
from django.test import Client

from devtools.testing import connect, consent, local
from LiveData.schwab.models import BrokerConnection

pytestmark = pytest.mark.django_db


def test_start_requires_login(client, schwab):
    response = client.get("/schwab/oauth/start/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_start_redirects_to_schwab_with_single_use_state(browser, schwab):
    response = browser.get("/schwab/oauth/start/")
    location = response["Location"]
    assert location.startswith(f"{schwab.url}/v1/oauth/authorize?")
    assert "client_id=thor-dev-app-key" in location
    assert "redirect_uri=https%3A%2F%2F127.0.0.1%3A8000%2Fschwab%2Foauth%2Fcallback%2F" in location
    state = browser.session["schwab_oauth_pending"]["state"]
    assert len(state) >= 40 and f"state={state}" in location


def test_callback_stores_encrypted_tokens_and_redirects_with_outcome(browser, schwab, trader):
    response = connect(browser, schwab, next_url="/dashboard/")
    assert response.status_code == 302
    assert response["Location"] == "/dashboard/?schwab=connected"
    connection = trader.schwab_token
    assert connection.status == "active" and connection.state == "active"
    issued = {t for t, token in schwab.state.tokens.items() if not token.revoked}
    assert {connection.access_token, connection.refresh_token} <= issued
    with db_connection.cursor() as cursor:
        cursor.execute("SELECT access_token, refresh_token FROM schwab_brokerconnection")
        raw = cursor.fetchone()
    assert connection.access_token not in raw[0] and connection.refresh_token not in raw[1]
    assert raw[0].startswith("gAAAA")  # a Fernet token


def test_open_redirect_in_next_is_refused(browser, schwab):
    response = connect(browser, schwab, next_url="https://evil.example/steal")
    assert response["Location"] == "/dashboard/?schwab=connected"


@pytest.mark.parametrize("tamper", ["missing", "wrong", "reused", "expired"])
def test_bad_state_is_refused_and_nothing_is_stored(browser, schwab, trader, thor_clock, tamper):
    start = browser.get("/schwab/oauth/start/")
    callback = local(consent(schwab, start["Location"]))
    if tamper == "missing":
        callback = callback.replace("state=", "x=")
    elif tamper == "wrong":
        callback = callback.replace("state=", "state=forged")
    elif tamper == "reused":
        assert browser.get(callback).status_code == 302
        BrokerConnection.objects.all().delete()
    elif tamper == "expired":
        thor_clock.advance(minutes=11)
    response = browser.get(callback)
    assert response.status_code == 400
    assert response.json()["error"] == "oauth_state_invalid"
    assert not BrokerConnection.objects.exists()


def test_declined_at_schwab_is_a_clear_page(browser, schwab, trader):
    start = browser.get("/schwab/oauth/start/")
    callback = local(consent(schwab, start["Location"], action="deny"))
    response = browser.get(callback, HTTP_ACCEPT="text/html")
    assert response.status_code == 400
    assert "Schwab access was not granted" in response.content.decode()
    assert not BrokerConnection.objects.exists()


def test_missing_code_is_refused(browser, schwab):
    start = browser.get("/schwab/oauth/start/")
    callback = local(consent(schwab, start["Location"]))
    response = browser.get(callback.replace("code=", "nocode="))
    assert (response.status_code, response.json()["error"]) == (400, "oauth_code_missing")


@pytest.mark.parametrize(
    ("token_reply", "status", "error"),
    [
        (
            {"status": 400, "json": {"error": "invalid_grant", "error_description": "bad code"}},
            502,
            "schwab_token_exchange_failed",
        ),
        (
            {"status": 401, "json": {"error": "invalid_client", "error_description": "Unauthorized"}},
            502,
            "schwab_token_exchange_failed",
        ),
        ({"status": 500, "body": "Internal Server Error"}, 502, "schwab_token_exchange_failed"),
        ({"status": 200, "body": "{not json"}, 502, "schwab_token_exchange_failed"),
        ({"status": 200, "json": {"token_type": "Bearer"}}, 502, "schwab_token_exchange_failed"),
        ({"body": requests.ConnectTimeout("slow")}, 504, "schwab_timeout"),
        ({"body": requests.ConnectionError("down")}, 502, "schwab_unreachable"),
    ],
)
def test_token_endpoint_failures_are_clear_and_store_nothing(
    browser, settings, trader, token_reply, status, error
):
    settings.SCHWAB_API_BASE_URL = "https://schwab.test"
    start = browser.get("/schwab/oauth/start/")
    state = browser.session["schwab_oauth_pending"]["state"]
    assert start.status_code == 302
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, "https://schwab.test/v1/oauth/token", **token_reply)
        response = browser.get(f"/schwab/oauth/callback/?code=C0.abc%40&session=s&state={state}")
    assert response.status_code == status
    body = response.json()
    assert body["error"] == error and body["success"] is False
    assert "bad code" not in json.dumps(body) and "Traceback" not in response.content.decode()
    assert not BrokerConnection.objects.exists()


def test_code_is_sent_decoded_exactly_once_with_basic_auth(browser, settings):
    settings.SCHWAB_API_BASE_URL = "https://schwab.test"
    browser.get("/schwab/oauth/start/")
    state = browser.session["schwab_oauth_pending"]["state"]
    with responses.RequestsMock() as mock:
        mock.add(
            responses.POST,
            "https://schwab.test/v1/oauth/token",
            json={"access_token": "a", "refresh_token": "r", "expires_in": 1800, "token_type": "Bearer"},
        )
        browser.get(f"/schwab/oauth/callback/?code=C0.abc%40&session=s&state={state}")
        sent = mock.calls[0].request
    body = str(sent.body)
    assert "code=C0.abc%40" in body  # form-encoded once: the server decodes it back to "C0.abc@"
    assert "%2540" not in body
    assert sent.headers["Authorization"].startswith("Basic ")
    assert "grant_type=authorization_code" in body


def test_reconnect_keeps_the_same_connection(browser, schwab, trader):
    connect(browser, schwab)
    first = BrokerConnection.objects.get(user=trader)
    browser.post("/schwab/oauth/disconnect/")
    connect(browser, schwab)
    second = BrokerConnection.objects.get(user=trader)
    assert second.pk == first.pk and second.status == "active"
    assert second.access_token != first.access_token


def test_status_reports_states_and_never_tokens(browser, connected, schwab, thor_clock):
    body = browser.get("/schwab/oauth/status/").json()
    assert body["connected"] is True and body["status"] == "active"
    assert set(body) >= {"access_token_expires_at", "refresh_token_expires_at", "connected_at"}
    assert connected.schwab_token.access_token not in json.dumps(body)
    thor_clock.advance(days=6, hours=1)
    assert browser.get("/schwab/oauth/status/").json()["status"] == "expiring"
    thor_clock.advance(hours=23)
    body = browser.get("/schwab/oauth/status/").json()
    assert (body["status"], body["connected"]) == ("reauth_required", False)


def test_status_when_not_connected_and_anonymous(browser, client, db):
    assert browser.get("/schwab/oauth/status/").json() == {
        "success": True,
        "connected": False,
        "status": "not_connected",
    }
    anonymous = client.get("/schwab/oauth/status/")
    assert (anonymous.status_code, anonymous.json()["error"]) == (401, "not_authenticated")


def test_disconnect_is_csrf_protected_and_forgets_tokens(connected, schwab):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(connected)
    refused = strict.post("/schwab/oauth/disconnect/")
    assert (refused.status_code, refused.json()["error"]) == (403, "csrf_failed")
    assert BrokerConnection.objects.get(user=connected).status == "active"

    token = "t" * 32  # what the frontend reads from the csrftoken cookie and echoes in X-CSRFToken
    strict.cookies["csrftoken"] = token
    done = strict.post("/schwab/oauth/disconnect/", HTTP_X_CSRFTOKEN=token)
    assert done.status_code == 200
    stored = BrokerConnection.objects.get(user=connected)
    assert (stored.status, stored.access_token, stored.refresh_token) == ("disconnected", "", "")
    assert strict.get("/schwab/oauth/status/").json()["status"] == "disconnected"


def test_disconnect_requires_post(browser, connected):
    assert browser.get("/schwab/oauth/disconnect/").status_code == 405


def test_state_lives_ten_minutes(browser, schwab, thor_clock):
    start = browser.get("/schwab/oauth/start/")
    callback = local(consent(schwab, start["Location"]))
    thor_clock.advance(minutes=9)
    schwab.state.clock = lambda: thor_clock.current - timedelta(minutes=9)  # the code itself stays fresh
    assert browser.get(callback).status_code == 302


def _pending_callback(browser, schwab) -> str:
    """A Thor callback URL for a fresh consent at the sandbox (the code not yet spent)."""
    start = browser.get("/schwab/oauth/start/")
    return local(consent(schwab, start["Location"]))


@pytest.mark.parametrize("mid_flow", ["logged_out", "deactivated"])
def test_callback_checks_the_user_before_spending_the_code(browser, connected, schwab, mid_flow):
    before = BrokerConnection.objects.get(user=connected)
    callback = _pending_callback(browser, schwab)
    if mid_flow == "logged_out":
        browser.logout()
    else:
        connected.is_active = False
        connected.save(update_fields=["is_active"])
    grants = schwab.state.token_grants["authorization_code"]

    response = browser.get(callback)

    assert (response.status_code, response.json()["error"]) == (401, "not_authenticated")
    assert schwab.state.token_grants["authorization_code"] == grants  # the code was never exchanged
    after = BrokerConnection.objects.get(user=connected)
    assert (after.access_token, after.refresh_token) == (before.access_token, before.refresh_token)
    assert schwab.state.valid_token(after.access_token, "access") is not None  # not revoked by a new login


def test_a_bad_state_never_spends_the_code(browser, connected, schwab):
    grants = schwab.state.token_grants["authorization_code"]
    response = browser.get(_pending_callback(browser, schwab).replace("state=", "state=forged"))
    assert response.status_code == 400
    assert schwab.state.token_grants["authorization_code"] == grants


def test_debug_page_of_an_error_after_the_exchange_shows_no_token(
    browser, schwab, trader, settings, monkeypatch
):
    from LiveData.schwab.connection import services

    def fail_after_exchange(**kwargs):
        raise RuntimeError("storage failed after the exchange")

    monkeypatch.setattr(services, "connection_connect", fail_after_exchange)
    settings.DEBUG = True  # Django's technical 500 page, with every frame's local variables
    browser.raise_request_exception = False
    callback = _pending_callback(browser, schwab)

    response = browser.get(callback, HTTP_ACCEPT="text/html")

    page = response.content.decode()
    assert response.status_code == 500 and "storage failed after the exchange" in page  # the debug page
    issued = [value for value, token in schwab.state.tokens.items() if token.grant.user.username == "trader1"]
    assert issued  # the exchange happened, so there were tokens to leak
    assert not [token for token in issued if token in page]
    assert settings.SCHWAB_APP_SECRET not in page


def test_a_next_url_with_a_fragment_gets_the_outcome_in_its_query(browser, schwab):
    response = connect(browser, schwab, next_url="/dashboard/?tab=orders#positions")
    assert response["Location"] == "/dashboard/?tab=orders&schwab=connected#positions"


def test_a_wrong_method_is_a_json_405_with_allow(browser, connected):
    response = browser.get("/schwab/oauth/disconnect/")
    assert response.status_code == 405 and response["Allow"] == "POST"
    assert response.json() == {
        "success": False,
        "error": "method_not_allowed",
        "message": "This endpoint does not accept that HTTP method.",
    }
    assert browser.delete("/schwab/accounts/").json()["error"] == "method_not_allowed"
