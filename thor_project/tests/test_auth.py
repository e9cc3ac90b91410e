"""The user behind a session, from the cache: never stale after a committed change, never holding the
password hash; and the same across real server processes."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import connection

from thor_project import auth

pytestmark = pytest.mark.django_db


@pytest.fixture
def backend():
    cache.clear()
    return auth.CachedModelBackend()


@pytest.fixture
def alice():
    return User.objects.create_user("alice", password="first-password-1")


def _saved(django_capture_on_commit_callbacks, user):
    with django_capture_on_commit_callbacks(execute=True):
        user.save()


def test_the_second_read_is_from_the_cache_and_the_copy_holds_no_password(
    backend, alice, django_assert_num_queries
):
    first = backend.get_user(alice.pk)
    with django_assert_num_queries(0):
        second = backend.get_user(alice.pk)
    assert (second.pk, second.username, second.is_active) == (alice.pk, "alice", True)
    assert second.get_session_auth_hash() == first.get_session_auth_hash() == alice.get_session_auth_hash()
    stored = repr(cache.get(auth._copy_key(alice.pk)))
    assert alice.password not in stored and alice.password.split("$")[-1] not in stored


def test_a_committed_password_change_supersedes_the_copy(backend, alice, django_capture_on_commit_callbacks):
    before = backend.get_user(alice.pk).get_session_auth_hash()
    alice.set_password("second-password-2")
    _saved(django_capture_on_commit_callbacks, alice)
    after = backend.get_user(alice.pk).get_session_auth_hash()
    assert after != before and after == User.objects.get(pk=alice.pk).get_session_auth_hash()


def test_a_deactivated_user_is_refused_at_once(backend, alice, django_capture_on_commit_callbacks):
    assert backend.get_user(alice.pk) is not None
    alice.is_active = False
    _saved(django_capture_on_commit_callbacks, alice)
    assert backend.get_user(alice.pk) is None


def test_a_deleted_user_is_gone_at_once(backend, alice, django_capture_on_commit_callbacks):
    assert backend.get_user(alice.pk) is not None
    with django_capture_on_commit_callbacks(execute=True):
        alice.delete()
    assert backend.get_user(alice.pk) is None


def test_saving_the_cached_user_never_touches_the_password(backend, alice):
    backend.get_user(alice.pk)
    cached = backend.get_user(alice.pk)
    cached.first_name = "Alice"
    cached.save()
    stored = User.objects.get(pk=alice.pk)
    assert stored.first_name == "Alice" and stored.check_password("first-password-1")


def test_a_copy_read_before_a_commit_is_never_served_after_it(
    backend, alice, monkeypatch, django_capture_on_commit_callbacks
):
    """The race: a process reads the old row, another commits a change, then the first caches what it read."""
    read_row = auth.ModelBackend.get_user

    def read_then_concurrent_change(self, user_id):
        old = read_row(self, user_id)  # the old row (active) ...
        changed = User.objects.get(pk=user_id)  # ... and then another process deactivates the user
        changed.is_active = False
        _saved(django_capture_on_commit_callbacks, changed)
        return old

    monkeypatch.setattr(auth.ModelBackend, "get_user", read_then_concurrent_change)
    assert backend.get_user(alice.pk) is not None  # this request began before the change
    monkeypatch.setattr(auth.ModelBackend, "get_user", read_row)
    assert backend.get_user(alice.pk) is None  # every later one sees it


def test_the_async_path_reads_the_same_copies(backend, alice, django_capture_on_commit_callbacks):
    from asgiref.sync import async_to_sync

    sync_first = backend.get_user(alice.pk)  # cached by the sync path ...
    from_async = async_to_sync(backend.aget_user)(alice.pk)  # ... served by the async one
    assert from_async.get_session_auth_hash() == sync_first.get_session_auth_hash()
    alice.is_active = False
    _saved(django_capture_on_commit_callbacks, alice)
    assert async_to_sync(backend.aget_user)(alice.pk) is None


def test_a_session_made_under_a_retired_secret_key_is_checked_without_the_password(backend, alice, settings):
    """Django checks a session hash that does not verify against SECRET_KEY_FALLBACKS too; the copy answers
    that without reading the deferred password (which the async path could not)."""
    from django.contrib.auth.base_user import AbstractBaseUser

    settings.SECRET_KEY_FALLBACKS = ["the-retired-key"]
    auth._secret_id.cache_clear()
    try:
        backend.get_user(alice.pk)
        cached = backend.get_user(alice.pk)
        assert "password" in cached.get_deferred_fields()
        expected = list(AbstractBaseUser.get_session_auth_fallback_hash(User.objects.get(pk=alice.pk)))
        assert list(cached.get_session_auth_fallback_hash()) == expected and len(expected) == 1
        assert "password" in cached.get_deferred_fields()  # still not read
    finally:
        auth._secret_id.cache_clear()  # the settings fixture restores the keys: forget these


def test_the_cache_down_means_the_database_answers(backend, alice, monkeypatch):
    import redis

    def down(*args, **kwargs):
        raise redis.ConnectionError("down")

    monkeypatch.setattr(cache, "get_many", down)
    assert backend.get_user(alice.pk).pk == alice.pk


@pytest.fixture
def cached_logins(settings):
    """The production login: sessions from thor_project.sessions, users from the cached backend."""
    settings.SESSION_ENGINE = "thor_project.sessions"
    settings.AUTHENTICATION_BACKENDS = ["thor_project.auth.CachedModelBackend"]
    cache.clear()


def test_a_known_session_reads_itself_its_user_and_the_token_in_one_round_trip(
    cached_logins, alice, client, monkeypatch, django_capture_on_commit_callbacks
):
    from thor_project.sessions import SessionStore

    client.force_login(alice)
    assert client.get("/schwab/oauth/status/").status_code == 200  # this process learns whose session it is
    reads: list[tuple[str, list[str]]] = []  # the cache's reads a request makes (its round trips with Redis)
    real_get, real_get_many = cache.get, cache.get_many

    inside_get_many = []  # the in-memory cache's get_many is a loop of gets: one read all the same

    def get(key, *args, **kwargs):
        if not inside_get_many:
            reads.append(("get", [key]))
        return real_get(key, *args, **kwargs)

    def get_many(keys, *args, **kwargs):
        reads.append(("get_many", list(keys)))
        inside_get_many.append(True)
        try:
            return real_get_many(keys, *args, **kwargs)
        finally:
            inside_get_many.pop()

    monkeypatch.setattr(cache, "get", get)
    monkeypatch.setattr(cache, "get_many", get_many)
    assert client.get("/schwab/oauth/status/").status_code == 200
    session_key = SessionStore(client.session.session_key).cache_key
    assert reads == [("get_many", [session_key, *auth.copy_keys(alice.pk)])]

    alice.set_password("second-password-2")  # committed elsewhere: the same single read sees it
    _saved(django_capture_on_commit_callbacks, alice)
    assert client.get("/schwab/oauth/status/").status_code == 401


def test_what_a_session_read_for_its_user_serves_only_that_user_and_once():
    from thor_project.sessions import SessionStore

    store = SessionStore()
    store._prefetched_user = ("1", {"copy": "of user 1"})
    assert store.take_prefetched_user(2) is None
    store._prefetched_user = ("1", {"copy": "of user 1"})
    assert store.take_prefetched_user(1) == {"copy": "of user 1"}
    assert store.take_prefetched_user(1) is None  # a second check in the request reads anew


@pytest.mark.django_db(transaction=True)
def test_every_server_process_sees_a_change_made_by_another_process(servers_environment, tmp_path):
    """Two gunicorn servers serve a logged-in trader from their cached copies; a third process changes the
    trader through save(); from then on both refuse the old session."""
    from LiveData.schwab.tests.servers import logged_in_session, thor_server

    User.objects.create_user("alice", password="first-password-1")
    session = logged_in_session(User.objects.get(username="alice"))
    environment = {**servers_environment, "DJANGO_SETTINGS_MODULE": "thor_project.settings"}
    change = (
        "from django.contrib.auth.models import User; user = User.objects.get(username='alice'); "
        "user.set_password('second-password-2'); user.save()"
    )
    with (
        thor_server(environment, log=tmp_path / "a.log") as server_a,
        thor_server(environment, log=tmp_path / "b.log") as server_b,
    ):
        for server in (server_a, server_b):
            for _ in range(2):  # the second request is served from the cached copy
                answer = session.get(f"{server.url}/schwab/oauth/status/", timeout=30)
                assert answer.status_code == 200, answer.text
        assert _cached_copies(servers_environment["REDIS_URL"]) >= 1
        subprocess.run(  # noqa: S603 - fixed arguments
            [sys.executable, "manage.py", "shell", "-c", change],
            env={**_env(), **environment},
            check=True,
            timeout=60,
        )
        for server in (server_a, server_b):
            answer = session.get(f"{server.url}/schwab/oauth/status/", timeout=30)
            assert answer.status_code == 401, answer.text
    connection.close()


def _env() -> dict[str, str]:
    return dict(os.environ)


def _cached_copies(redis_url: str) -> int:
    import redis

    return sum(1 for _ in redis.Redis.from_url(redis_url).scan_iter("*auth:user:*"))
