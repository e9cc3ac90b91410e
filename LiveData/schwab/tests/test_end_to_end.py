"""The whole connect flow over real HTTP: Thor on a live server, the browser a requests session, Schwab
the running sandbox. Every log line and response body is searched for the tokens and the app secret."""

from __future__ import annotations

import html
import logging
import re

import pytest
import requests

from devtools.testing import APP_SECRET
from LiveData.schwab.api import SchwabTraderAPI
from LiveData.schwab.exceptions import SchwabReauthRequired
from LiveData.schwab.models import BrokerConnection


@pytest.fixture
def thor(live_server, schwab, settings):
    callback = f"{live_server.url}/schwab/oauth/callback/"
    settings.SCHWAB_CALLBACK_URL = callback
    schwab.state.config.callback_urls = (callback,)
    return live_server


def _log_in(thor, username: str, password: str) -> requests.Session:
    browser = requests.Session()
    browser.get(f"{thor.url}/admin/login/", timeout=5)
    response = browser.post(
        f"{thor.url}/admin/login/",
        data={
            "username": username,
            "password": password,
            "csrfmiddlewaretoken": browser.cookies["csrftoken"],
            "next": "/admin/",
        },
        headers={"Referer": f"{thor.url}/admin/login/"},
        allow_redirects=False,
        timeout=5,
    )
    assert response.status_code == 302, "login failed"
    return browser


@pytest.mark.django_db(transaction=True)
def test_connect_refresh_and_reauth_over_http(thor, schwab, thor_clock, django_user_model, caplog):
    caplog.set_level(logging.DEBUG)
    bodies = []
    django_user_model.objects.create_user("bob", password="bob-password-123", is_staff=True)
    browser = _log_in(thor, "bob", "bob-password-123")

    # Start: Thor sends the browser to Schwab's consent page.
    start = browser.get(f"{thor.url}/schwab/oauth/start/?next=/after/", allow_redirects=False, timeout=5)
    assert start.status_code == 302
    consent_page = browser.get(start.headers["Location"], timeout=5)
    assert consent_page.status_code == 200 and "Allow" in consent_page.text
    bodies.append(consent_page.text)

    # Approve at the sandbox; the browser follows the redirect back into Thor's callback.
    hidden = re.findall(r"type='hidden' name='([^']+)' value='([^']*)'", consent_page.text)
    form = {name: html.unescape(value) for name, value in hidden}
    form.update({"username": "trader1", "password": "trader1-pass", "action": "approve"})
    approved = browser.post(f"{schwab.url}/v1/oauth/authorize", data=form, allow_redirects=False, timeout=5)
    callback = browser.get(approved.headers["Location"], allow_redirects=False, timeout=5)
    assert callback.status_code == 302
    assert callback.headers["Location"] == "/after/?schwab=connected"

    connection = BrokerConnection.objects.get(user__username="bob")
    status = browser.get(f"{thor.url}/schwab/oauth/status/", timeout=5)
    bodies.append(status.text)
    assert status.json()["status"] == "active"

    # An API call, then access-token expiry and a refresh.
    user = connection.user
    assert len(SchwabTraderAPI(user).fetch_account_numbers()) == 2
    thor_clock.advance(minutes=31)
    assert len(SchwabTraderAPI(user).fetch_account_numbers()) == 2
    assert schwab.state.token_grants == {"authorization_code": 1, "refresh_token": 1}

    # Seven days after the login the refresh token dies: reauth_required, shown by the status endpoint.
    thor_clock.advance(days=7)
    with pytest.raises(SchwabReauthRequired):
        SchwabTraderAPI(user).fetch_account_numbers()
    status = browser.get(f"{thor.url}/schwab/oauth/status/", timeout=5)
    bodies.append(status.text)
    assert status.json()["status"] == "reauth_required" and status.json()["connected"] is False

    # No token the sandbox ever issued, nor the app secret, appears in any log line or response body.
    secrets = set(schwab.state.tokens) | {APP_SECRET}
    logged = [record.getMessage() for record in caplog.records]
    for text in logged + bodies:
        for secret in secrets:
            assert secret not in text
            assert secret.rstrip("@") not in text
