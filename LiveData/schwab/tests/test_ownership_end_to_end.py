"""Who owns an account, everywhere, on real Redis and PostgreSQL: the ownership index follows connect,
reconnect and disconnect, and ActAndPos keeps one mirror per user, live or detached, accordingly."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from ActAndPos import services as mirror
from ActAndPos.models import Account
from devtools.testing import connect
from LiveData.shared import contract, reader

pytestmark = pytest.mark.django_db


def _browser(username: str) -> tuple[User, Client]:
    user = User.objects.create_user(username)
    client = Client()
    client.force_login(user)
    return user, client


def _mirrors(account_id: str) -> dict[str, bool]:
    return {
        account.user.username: account.is_live for account in Account.objects.filter(external_id=account_id)
    }


def test_ownership_follows_every_login(postgres, real_redis, schwab):
    household = [account.hash_value for account in schwab.state.users["trader1"].accounts]
    elsewhere = [account.hash_value for account in schwab.state.users["trader2"].accounts]
    ann, as_ann = _browser("ann")
    ben, as_ben = _browser("ben")

    connect(as_ann, schwab, username="trader1")
    connect(as_ben, schwab, username="trader1")  # the same Schwab login: a household
    assert reader.user_account_ids(ann.pk) == reader.user_account_ids(ben.pk) == sorted(household)
    assert reader.account_owners(household[0]) == sorted([str(ann.pk), str(ben.pk)])
    assert as_ben.get(f"/schwab/accounts/{household[0]}/positions/").status_code == 200
    mirror.sync_account(household[0])
    assert _mirrors(household[0]) == {"ann": True, "ben": True}  # both mirrored, both live

    connect(as_ben, schwab, username="trader2")  # ben reconnects as another login
    assert reader.user_account_ids(ben.pk) == sorted(elsewhere)
    assert reader.user_account_ids(ann.pk) == sorted(household)  # ann keeps the account
    assert reader.account_owners(household[0]) == [str(ann.pk)]
    mirror.sync_user(ben.pk)
    assert _mirrors(household[0]) == {"ann": True, "ben": False}  # ben's is detached, not deleted

    as_ann.post("/schwab/oauth/disconnect/")
    assert reader.user_account_ids(ann.pk) == []
    assert reader.user_accounts_status(ann.pk) == contract.NO_LOGIN
    assert reader.account_owners(household[0]) == []
    mirror.sync_user(ann.pk)
    assert _mirrors(household[0]) == {"ann": False, "ben": False}


def test_a_login_that_needs_renewing_keeps_its_accounts_marked(postgres, real_redis, schwab, thor_clock):
    cat, as_cat = _browser("cat")
    connect(as_cat, schwab, username="trader1")
    listed = reader.user_account_ids(cat.pk)
    thor_clock.advance(days=8)  # the refresh token is dead
    response = as_cat.get(f"/schwab/accounts/{listed[0]}/positions/")
    assert response.json()["error"] == "schwab_reauth_required"
    assert reader.user_account_ids(cat.pk) == listed
    assert reader.user_accounts_status(cat.pk) == contract.REAUTH_REQUIRED
    connect(as_cat, schwab, username="trader1")
    assert reader.user_accounts_status(cat.pk) == contract.ACTIVE


def test_ownership_notifications_say_what_changed(postgres, real_redis, schwab):
    dan, as_dan = _browser("dan")
    with reader.subscribe_ownership() as notes:
        connect(as_dan, schwab, username="trader1")
        connect(as_dan, schwab, username="trader2")
        first, second = notes.get(timeout=5), notes.get(timeout=5)
    trader1 = sorted(account.hash_value for account in schwab.state.users["trader1"].accounts)
    trader2 = sorted(account.hash_value for account in schwab.state.users["trader2"].accounts)
    assert (first["user_id"], first["added"], first["removed"], first["status"]) == (
        str(dan.pk),
        trader1,
        [],
        "active",
    )
    assert (second["added"], second["removed"], second["account_ids"]) == (trader2, trader1, trader2)


def _owned_by(user: User, household: list[str]) -> tuple[list[str], bool]:
    """The user's accounts in the index, and whether any of `household` still names the user as owner."""
    return reader.user_account_ids(user.pk), any(
        str(user.pk) in reader.account_owners(account_id) for account_id in household
    )


@pytest.mark.parametrize("how", ["the ORM", "the user's deletion", "the admin"])
def test_a_deleted_connection_leaves_the_ownership_index_at_once(
    how, postgres, real_redis, schwab, django_capture_on_commit_callbacks
):
    household = [account.hash_value for account in schwab.state.users["trader1"].accounts]
    eve, as_eve = _browser("eve")
    connect(as_eve, schwab, username="trader1")
    assert _owned_by(eve, household) == (sorted(household), True)
    with django_capture_on_commit_callbacks(execute=True):
        if how == "the ORM":
            eve.schwab_token.delete()
        elif how == "the user's deletion":
            eve.delete()
        else:
            admin = User.objects.create_superuser("root", password="root-password-1")
            as_admin = Client()
            as_admin.force_login(admin)
            url = f"/admin/schwab/brokerconnection/{eve.schwab_token.pk}/delete/"
            assert as_admin.post(url, {"post": "yes"}).status_code == 302
    assert _owned_by(eve, household) == ([], False)
    assert reader.user_accounts_status(eve.pk) == contract.NO_LOGIN


@pytest.mark.django_db(transaction=True)  # the round's threads read the database with their own connections
def test_a_connection_deleted_with_raw_sql_leaves_the_index_within_a_refresh_round(
    postgres, real_redis, schwab
):
    from django.db import connection as db_connection

    from LiveData.schwab.live_data import refresher

    household = [account.hash_value for account in schwab.state.users["trader1"].accounts]
    fay, as_fay = _browser("fay")
    gus, as_gus = _browser("gus")
    connect(as_fay, schwab, username="trader1")
    connect(as_gus, schwab, username="trader1")
    with db_connection.cursor() as cursor:
        cursor.execute("DELETE FROM schwab_brokerconnection WHERE user_id = %s", [fay.pk])
    assert _owned_by(fay, household) == (sorted(household), True)  # no signal: nothing knew yet
    refresher.refresh_all()
    assert _owned_by(fay, household) == ([], False)
    assert _owned_by(gus, household) == (sorted(household), True)  # the household's other member stays
