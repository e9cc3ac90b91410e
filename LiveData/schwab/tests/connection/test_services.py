"""The token life cycle for every caller: refresh before expiry, once more on a 401, reauth when dead."""

from __future__ import annotations

import pytest

from conftest import run_together
from devtools.testing import connect, fault, login
from LiveData.schwab.api import SchwabTraderAPI
from LiveData.schwab.connection import services
from LiveData.schwab.exceptions import (
    SchwabConnectionChanged,
    SchwabNotConnected,
    SchwabReauthRequired,
    SchwabUnavailable,
    TokenRefreshFailed,
)
from LiveData.schwab.models import BrokerConnection
from LiveData.shared import reader

pytestmark = pytest.mark.django_db


def test_fresh_token_is_used_without_refreshing(connected, schwab):
    assert len(SchwabTraderAPI(connected).fetch_account_numbers()) == 2
    assert schwab.state.token_grants["refresh_token"] == 0


def test_token_is_refreshed_shortly_before_it_expires(connected, schwab, thor_clock):
    before = BrokerConnection.objects.get(user=connected)
    thor_clock.advance(minutes=29)  # inside the refresh margin, not yet expired
    SchwabTraderAPI(connected).fetch_account_numbers()
    after = BrokerConnection.objects.get(user=connected)
    assert schwab.state.token_grants["refresh_token"] == 1
    assert after.access_token != before.access_token
    assert after.last_refreshed_at == thor_clock.current
    assert after.logged_in_at == before.logged_in_at  # refreshing never moves the 7-day deadline


def test_a_401_refreshes_once_and_retries_once(connected, schwab):
    listed = schwab.state.calls["accounts.numbers"]  # connecting listed the new login's accounts
    fault(schwab, kind="401", path_prefix="/trader/v1/accounts")
    assert len(SchwabTraderAPI(connected).fetch_account_numbers()) == 2
    assert schwab.state.token_grants["refresh_token"] == 1
    assert schwab.state.calls["accounts.numbers"] == listed + 2


def test_rotated_refresh_token_is_stored(connected, schwab):
    schwab.state.config.rotate_refresh_token = True
    old = BrokerConnection.objects.get(user=connected).refresh_token
    SchwabTraderAPI(connected).refresh_tokens()
    new = BrokerConnection.objects.get(user=connected).refresh_token
    assert new != old
    assert schwab.state.valid_token(new, "refresh") is not None


def test_expired_refresh_token_means_reauth_required_everywhere(connected, schwab, thor_clock, browser):
    thor_clock.advance(days=7, seconds=1)
    with pytest.raises(SchwabReauthRequired):
        SchwabTraderAPI(connected).fetch_account_numbers()
    stored = BrokerConnection.objects.get(user=connected)
    assert (stored.status, stored.last_error_code) == ("reauth_required", "refresh_token_expired")
    assert schwab.state.token_grants["refresh_token"] == 0  # no point asking Schwab
    calls = sum(schwab.state.calls.values())
    with pytest.raises(SchwabReauthRequired):
        SchwabTraderAPI(connected).fetch_account_numbers()
    assert sum(schwab.state.calls.values()) == calls


def test_a_newer_login_elsewhere_kills_our_tokens_and_asks_for_reconnect(connected, schwab):
    login(schwab, "trader1")  # the same Schwab user logs in through another client of the same app
    with pytest.raises(SchwabReauthRequired):
        SchwabTraderAPI(connected).fetch_account_numbers()
    stored = BrokerConnection.objects.get(user=connected)
    assert (stored.status, stored.last_error_code) == ("reauth_required", "refresh_token_rejected")


def test_refresh_outage_keeps_the_tokens_and_the_connection(connected, schwab, thor_clock):
    before = BrokerConnection.objects.get(user=connected)
    thor_clock.advance(minutes=31)
    fault(schwab, kind="503", path_prefix="/v1/oauth/token")
    with pytest.raises(TokenRefreshFailed):
        SchwabTraderAPI(connected).fetch_account_numbers()
    stored = BrokerConnection.objects.get(user=connected)
    assert (stored.status, stored.last_error_code) == ("active", "schwab_token_refresh_failed")
    assert (stored.access_token, stored.refresh_token) == (before.access_token, before.refresh_token)
    assert len(SchwabTraderAPI(connected).fetch_account_numbers()) == 2  # recovers on the next call
    assert BrokerConnection.objects.get(user=connected).last_error_code == ""


def test_upstream_5xx_on_get_is_retried_then_raised(connected, schwab):
    listed = schwab.state.calls["accounts.numbers"]
    fault(schwab, kind="502", count=5, path_prefix="/trader/v1/accounts")
    with pytest.raises(SchwabUnavailable):
        SchwabTraderAPI(connected).fetch_account_numbers()
    assert schwab.state.calls["accounts.numbers"] == listed + 3  # one try and two retries


def test_disconnected_user_is_not_connected(connected, schwab):
    services.connection_disconnect(connection=connected.schwab_token)
    with pytest.raises(SchwabNotConnected):
        SchwabTraderAPI(connected).fetch_account_numbers()


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_refresh_exactly_once(postgres, connected, schwab, thor_clock):
    thor_clock.advance(minutes=31)  # every thread starts with an expired access token
    workers = 20
    results = run_together(workers, lambda: SchwabTraderAPI(connected).fetch_account_numbers())
    assert schwab.state.token_grants["refresh_token"] == 1
    assert all(isinstance(result, list) and len(result) == 2 for result in results), results
    assert len(results) == workers
    stored = BrokerConnection.objects.get(user=connected)
    assert schwab.state.valid_token(stored.access_token, "access") is not None


def test_connect_and_disconnect_each_start_a_new_generation(browser, connected, schwab):
    first = BrokerConnection.objects.get(user=connected).generation
    browser.post("/schwab/oauth/disconnect/")
    disconnected = BrokerConnection.objects.get(user=connected).generation
    connect(browser, schwab, username="trader2")
    assert first < disconnected < BrokerConnection.objects.get(user=connected).generation


def test_a_refresh_never_hands_out_the_tokens_of_a_newer_login(browser, connected, schwab, thor_clock):
    read_before = BrokerConnection.objects.get(user=connected)  # what a request read, then...
    connect(browser, schwab, username="trader2")  # ...a new login commits before it refreshes
    thor_clock.advance(minutes=29)
    with pytest.raises(SchwabConnectionChanged):
        services.connection_refresh(connection=read_before, stale_access_token=read_before.access_token)
    assert schwab.state.token_grants["refresh_token"] == 0


def test_a_refresh_round_repairs_ownership_that_an_outage_left_behind(connected, schwab, thor_clock):
    assert reader.user_account_ids(connected.pk)  # listed at connect
    BrokerConnection.objects.filter(user=connected).update(status="disconnected")  # Redis was down then
    assert services.ownership_reconcile() == 1
    assert reader.user_account_ids(connected.pk) == []
    assert services.ownership_reconcile() == 0  # quiet once it matches
