"""Admin pages, management commands, test views and key rotation: never a token in sight."""

from __future__ import annotations

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection as db_connection

from devtools.testing import APP_SECRET, consent, local
from LiveData.schwab import crypto
from LiveData.schwab.models import BrokerConnection

pytestmark = pytest.mark.django_db


def _raw_tokens() -> tuple[str, str]:
    with db_connection.cursor() as cursor:
        cursor.execute("SELECT access_token, refresh_token FROM schwab_brokerconnection")
        access, refresh = cursor.fetchone()
    return str(access), str(refresh)


def test_admin_lists_and_shows_connections_without_tokens(connected, admin_client):
    stored = BrokerConnection.objects.get(user=connected)
    listing = admin_client.get("/admin/schwab/brokerconnection/")
    detail = admin_client.get(f"/admin/schwab/brokerconnection/{stored.pk}/change/")
    assert listing.status_code == detail.status_code == 200
    assert "active" in listing.content.decode()
    for page in (listing, detail):
        text = page.content.decode()
        for secret in (stored.access_token, stored.refresh_token, *_raw_tokens(), APP_SECRET):
            assert secret not in text


def test_admin_actions_refresh_and_disconnect(connected, admin_client, schwab):
    stored = BrokerConnection.objects.get(user=connected)
    url = "/admin/schwab/brokerconnection/"
    admin_client.post(url, {"action": "force_refresh", "_selected_action": [stored.pk]})
    assert schwab.state.token_grants["refresh_token"] == 1
    admin_client.post(url, {"action": "disconnect", "_selected_action": [stored.pk]})
    assert BrokerConnection.objects.get(pk=stored.pk).status == "disconnected"


def test_connections_command_shows_state_not_tokens(connected):
    out = StringIO()
    call_command("schwab_connections", stdout=out)
    stored = BrokerConnection.objects.get(user=connected)
    assert "alice" in out.getvalue() and "active" in out.getvalue()
    assert stored.access_token not in out.getvalue() and stored.refresh_token not in out.getvalue()


def test_refresh_command_refreshes_only_what_is_due(connected, schwab, thor_clock, django_user_model):
    out = StringIO()
    call_command("schwab_refresh_tokens", "--within-minutes", "10", stdout=out)
    assert schwab.state.token_grants["refresh_token"] == 0
    thor_clock.advance(minutes=25)
    call_command("schwab_refresh_tokens", "--within-minutes", "10", stdout=out)
    assert schwab.state.token_grants["refresh_token"] == 1
    assert "refreshed 1, failed 0" in out.getvalue()


def test_key_rotation_re_encrypts_under_the_newest_key(connected, settings):
    old_key = settings.TOKEN_ENCRYPTION_KEYS[0]
    stored = BrokerConnection.objects.get(user=connected)
    new_key = Fernet.generate_key().decode()
    settings.TOKEN_ENCRYPTION_KEYS = [new_key, old_key]
    call_command("schwab_rotate_token_keys", stdout=StringIO())
    raw_access, raw_refresh = _raw_tokens()
    assert Fernet(new_key.encode()).decrypt(raw_access.encode()).decode() == stored.access_token
    settings.TOKEN_ENCRYPTION_KEYS = [new_key]  # the old key can now be dropped
    assert BrokerConnection.objects.get(user=connected).refresh_token == stored.refresh_token
    assert crypto.decrypt(raw_refresh) == stored.refresh_token


def test_test_views_are_404_unless_debug_and_opt_in(client, settings, schwab):
    for debug, opt_in in ((False, False), (True, False), (False, True)):
        settings.DEBUG, settings.SCHWAB_ENABLE_TEST_VIEWS = debug, opt_in
        assert client.get("/schwab/test/oauth/start/").status_code == 404
        assert client.get("/schwab/test/oauth/callback/?code=x&state=y").status_code == 404


def test_test_views_bind_tokens_to_the_development_user(client, settings, schwab):
    settings.DEBUG = settings.SCHWAB_ENABLE_TEST_VIEWS = True
    callback = "https://127.0.0.1:8000/schwab/test/oauth/callback/"
    settings.SCHWAB_TEST_CALLBACK_URL = callback
    schwab.state.config.callback_urls = (*schwab.state.config.callback_urls, callback)
    start = client.get("/schwab/test/oauth/start/")
    assert start.status_code == 302
    response = client.get(local(consent(schwab, start["Location"])))
    assert response.status_code == 302
    stored = BrokerConnection.objects.get(user__username="schwab-dev")
    assert stored.status == "active"
