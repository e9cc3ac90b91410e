"""The user's current login from its copy in Redis: no query once copied, never stale after a change of
the connection (in this transaction, or committed by another process), the database when Redis is down."""

from __future__ import annotations

import pytest
import redis

from LiveData.schwab import logins, services
from LiveData.schwab.exceptions import SchwabNotConnected, SchwabReauthRequired
from LiveData.schwab.models import BrokerConnection, Login
from LiveData.shared import contract

pytestmark = pytest.mark.django_db


@pytest.fixture
def connection(connected) -> BrokerConnection:
    return BrokerConnection.objects.get(user=connected)


def test_the_second_check_is_from_redis_with_the_other_keys_in_the_same_read(
    connection, fake_redis, django_assert_num_queries
):
    fake_redis.set("other", "value")
    first, _ = logins.current(user_id=connection.user_id)
    with django_assert_num_queries(0):
        second, values = logins.current(user_id=connection.user_id, also=["other", "missing"])
    assert first == second == Login(connection_id=connection.pk, generation=connection.generation)
    assert values == ["value", None]
    assert connection.access_token not in str(fake_redis.get(contract.login_copy_key(connection.user_id)))


def test_a_disconnect_is_seen_at_once_and_after_its_commit(connection, django_capture_on_commit_callbacks):
    logins.current(user_id=connection.user_id)  # copied
    with django_capture_on_commit_callbacks(execute=True):
        services.connection_disconnect(connection=connection)
    with pytest.raises(SchwabNotConnected):
        logins.current(user_id=connection.user_id)


def test_a_needed_new_login_is_seen_at_once(connection):
    logins.current(user_id=connection.user_id)
    connection.status = BrokerConnection.Status.REAUTH_REQUIRED
    connection.save()  # no commit in this test's transaction: the change is seen all the same
    with pytest.raises(SchwabReauthRequired):
        logins.current(user_id=connection.user_id)


def test_no_connection_is_copied_too_and_a_new_one_supersedes_it(db, django_user_model, fake_redis):
    user = django_user_model.objects.create_user("carol")
    for _ in range(2):
        with pytest.raises(SchwabNotConnected):
            logins.current(user_id=user.pk)
    assert fake_redis.get(contract.login_copy_key(user.pk)) is not None
    BrokerConnection.objects.create(user=user, access_token="a", refresh_token="r", status="active")
    assert logins.current(user_id=user.pk)[0].connection_id == user.schwab_token.pk


def test_a_copy_read_before_a_commit_is_never_served_after_it(
    connection, monkeypatch, django_capture_on_commit_callbacks
):
    """The race: a process reads the old row, another commits a disconnect, then the first caches what it
    read. Its copy carries the token it read first, which the commit has replaced."""
    read_row = logins._from_database

    def read_then_concurrent_change(user_id):
        old = read_row(user_id)  # the old row (active) ...
        with django_capture_on_commit_callbacks(execute=True):  # ... then another process disconnects
            services.connection_disconnect(connection=BrokerConnection.objects.get(pk=connection.pk))
        return old

    monkeypatch.setattr(logins, "_from_database", read_then_concurrent_change)
    logins.current(user_id=connection.user_id)  # this request began before the change
    monkeypatch.setattr(logins, "_from_database", read_row)
    with pytest.raises(SchwabNotConnected):  # every later one sees it
        logins.current(user_id=connection.user_id)


def test_a_copy_of_the_row_as_it_was_before_another_commit_is_superseded_by_that_commit(
    connection, monkeypatch, django_capture_on_commit_callbacks
):
    """The other race: another process saved (replacing the token) before this one read the token, and
    committed only after this one read the row. The copy carries the current token; the replacement after
    the commit is what supersedes it."""
    read_row, active = logins._from_database, logins._from_database(connection.user_id)
    with django_capture_on_commit_callbacks(execute=False) as commit:
        services.connection_disconnect(connection=connection)  # saved, not yet committed
        monkeypatch.setattr(logins, "_from_database", lambda user_id: active)  # the row before the commit
        logins.current(user_id=connection.user_id)
        monkeypatch.setattr(logins, "_from_database", read_row)
    for committed in commit:
        committed()
    with pytest.raises(SchwabNotConnected):
        logins.current(user_id=connection.user_id)


def test_an_unreadable_copy_is_read_again_from_the_database(connection, fake_redis):
    token = "t0ken"
    fake_redis.set(contract.login_token_key(connection.user_id), token)
    fake_redis.set(contract.login_copy_key(connection.user_id), f"{token} not a login")
    assert logins.current(user_id=connection.user_id)[0].connection_id == connection.pk
    assert fake_redis.get(contract.login_copy_key(connection.user_id)) != f"{token} not a login"


def test_redis_down_means_the_database_answers_unless_other_keys_are_wanted(connection, monkeypatch):
    def down(*args, **kwargs):
        raise redis.ConnectionError("down")

    monkeypatch.setattr(logins.get_redis(), "mget", down)
    assert logins.current(user_id=connection.user_id)[0].connection_id == connection.pk
    with pytest.raises(redis.ConnectionError):
        logins.current(user_id=connection.user_id, also=["other"])
