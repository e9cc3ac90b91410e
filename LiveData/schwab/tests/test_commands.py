"""Management commands: connections, token refresh, key rotation."""

from __future__ import annotations

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command

from devtools.testing import raw_tokens
from LiveData.schwab import crypto
from LiveData.schwab.models import BrokerConnection

pytestmark = pytest.mark.django_db


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
    raw_access, raw_refresh = raw_tokens()
    assert Fernet(new_key.encode()).decrypt(raw_access.encode()).decode() == stored.access_token
    settings.TOKEN_ENCRYPTION_KEYS = [new_key]  # the old key can now be dropped
    assert BrokerConnection.objects.get(user=connected).refresh_token == stored.refresh_token
    assert crypto.decrypt(raw_refresh) == stored.refresh_token
