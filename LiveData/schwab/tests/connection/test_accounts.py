"""The user's accounts: per-login authorization from the shared cache, one listing for many requests."""

from __future__ import annotations

import pytest

from conftest import run_together
from LiveData.schwab.connection import accounts, authorization
from LiveData.schwab.connection.session import TraderSession
from LiveData.schwab.exceptions import AccountNotFound
from LiveData.schwab.models import BrokerConnection

pytestmark = pytest.mark.django_db


def test_a_remembered_list_authorizes_without_calling_schwab(connected, schwab):
    listed = schwab.state.calls["accounts.numbers"]  # once, at connect
    session = TraderSession(connected)
    mine = schwab.state.users["trader1"].accounts[0].hash_value
    accounts.account_authorize(session=session, account_id=mine)
    with pytest.raises(AccountNotFound):
        accounts.account_authorize(
            session=session, account_id=schwab.state.users["trader2"].accounts[0].hash_value
        )
    assert schwab.state.calls["accounts.numbers"] == listed


@pytest.mark.django_db(transaction=True)
def test_requests_that_find_the_list_due_at_once_share_one_listing(postgres, connected, schwab, thor_clock):
    thor_clock.advance(minutes=2)  # the remembered list is due again
    authorization.forget_here()
    listed = schwab.state.calls["accounts.numbers"]

    results = run_together(10, lambda: accounts.account_ids(session=TraderSession(connected)))

    assert all(isinstance(result, tuple) and len(result) == 2 for result in results), results
    assert (
        schwab.state.calls["accounts.numbers"] - listed == 1
    )  # one listing, shared (late ones hit the memo)


def test_a_new_login_never_sees_the_old_logins_list(connected, schwab, browser):
    from devtools.testing import connect

    old = BrokerConnection.objects.get(user=connected).login
    connect(browser, schwab, username="trader2")
    new = BrokerConnection.objects.get(user=connected).login
    assert new != old
    assert authorization.known_accounts(new).account_ids == tuple(
        account.hash_value for account in schwab.state.users["trader2"].accounts
    )
    assert set(authorization.known_accounts(old).account_ids).isdisjoint(
        authorization.known_accounts(new).account_ids
    )
