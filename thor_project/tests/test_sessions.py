"""Sessions cached in Redis with the database as the truth: Redis down never fails a read, never lets a
deleted or changed session come back from the cache, and refuses a change before anything is written."""

from __future__ import annotations

import pytest
import redis
from asgiref.sync import async_to_sync
from django.contrib.sessions.models import Session
from django.core.cache import cache

from thor_project.sessions import SessionStore

pytestmark = pytest.mark.django_db


def _down(*args, **kwargs):
    raise redis.ConnectionError("Redis is down")


@pytest.fixture
def stored():
    """A saved session, cached."""
    cache.clear()
    session = SessionStore()
    session["user"] = "alice"
    session.save()
    assert cache.get(session.cache_key) == {"user": "alice"}
    return session.session_key


def test_a_read_with_redis_down_comes_from_the_database(stored, monkeypatch):
    cache.clear()  # a cold cache, and then an unreachable one
    monkeypatch.setattr(cache, "get", _down)
    monkeypatch.setattr(cache, "set", _down)
    assert SessionStore(stored).load() == {"user": "alice"}
    monkeypatch.setattr(cache, "aget", _down)
    monkeypatch.setattr(cache, "aset", _down)
    assert async_to_sync(SessionStore(stored).aload)() == {"user": "alice"}


def test_a_logout_with_redis_down_is_refused_and_nothing_comes_back_later(stored, monkeypatch):
    with monkeypatch.context() as outage:
        outage.setattr(cache, "delete", _down)
        with pytest.raises(redis.ConnectionError):
            SessionStore(stored).flush()
    assert Session.objects.filter(session_key=stored).exists()  # both stores still agree: logged in
    SessionStore(stored).flush()  # Redis back: the logout goes through
    assert not Session.objects.filter(session_key=stored).exists()
    assert SessionStore(stored).load() == {}  # and no cached copy answers for it


def test_a_change_with_redis_down_is_refused_before_anything_is_written(stored, monkeypatch):
    session = SessionStore(stored)
    session["user"] = "mallory"
    with monkeypatch.context() as outage:
        outage.setattr(cache, "delete", _down)
        with pytest.raises(redis.ConnectionError):
            session.save()
    assert SessionStore(stored).load() == {"user": "alice"}
    assert Session.objects.get(session_key=stored).get_decoded() == {"user": "alice"}


def test_a_change_whose_copy_cannot_be_put_back_leaves_no_old_copy(stored, monkeypatch):
    session = SessionStore(stored)
    session["user"] = "bob"
    with monkeypatch.context() as flaky:
        flaky.setattr(cache, "set", _down)  # the old copy is removed, the new one cannot be stored
        session.save()
    assert SessionStore(stored).load() == {"user": "bob"}  # from the database, not the old copy


def test_async_changes_follow_the_same_order(stored, monkeypatch):
    with monkeypatch.context() as outage:
        outage.setattr(cache, "adelete", _down)
        with pytest.raises(redis.ConnectionError):
            async_to_sync(SessionStore(stored).adelete)()
    assert Session.objects.filter(session_key=stored).exists()
    async_to_sync(SessionStore(stored).adelete)()
    assert not Session.objects.filter(session_key=stored).exists()
    assert SessionStore(stored).load() == {}
