"""Django's cached_db sessions, kept exact when Redis is down: the database stays the truth.

Django's engine writes the database, then the cache, and takes a failed cache write as a warning. With
Redis down that goes wrong three ways: a read that falls back to the database fails on putting the
session back in the cache (every logged-in request, a 500); a logout deletes the database row but not the
cached copy, which answers again once Redis is back (the session returns); a change leaves the old copy
in the cache, to be served later. Here:
- a read never fails on the cache: unreachable, the database answers and nothing is put back;
- a change (save, delete, so login and logout) removes the cached copy first; when Redis cannot be reached
  the change is refused before anything is written (the request fails, both stores still agree), and a
  copy is put back only after the database has the new session.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import redis
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends import cached_db
from django.contrib.sessions.backends.db import SessionStore as DatabaseStore
from django.core.cache import DEFAULT_CACHE_ALIAS

from thor_project import auth

# Whose each session is, learned when this process loads it: logging in gives a session a new key, so a
# key never changes user (and a wrong entry costs only the prefetch: the session's own data decides).
_USERS_SIZE = 100_000
_users: dict[str, str] = {}
_users_lock = threading.Lock()


class SessionStore(cached_db.SessionStore):
    # Django's own attributes, which its type stubs leave out.
    _cache: Any
    _session: Any
    _get_session_from_db: Callable[[], Any]
    _aget_session_from_db: Callable[[], Awaitable[Any]]

    _prefetched_user: tuple[str, dict[str, Any]] | None = None

    def load(self) -> dict[str, Any]:
        user_id = _users.get(self.session_key) if self.session_key else None
        found: dict[str, Any] = {}
        try:
            if user_id is not None and settings.SESSION_CACHE_ALIAS == DEFAULT_CACHE_ALIAS:
                # The session, and the user's copy and token (thor_project.auth), in one round trip.
                found = self._cache.get_many([self.cache_key, *auth.copy_keys(user_id)])
                data: dict[str, Any] | None = found.pop(self.cache_key, None)
            else:
                data = self._cache.get(self.cache_key)
        except Exception:  # as Django: an unreadable cache (or key) means the database answers
            data = None
        if data is not None:
            self._learn_user(data, user_id, found)
            return data
        stored = self._get_session_from_db()
        if stored is None:
            return {}
        data = self.decode(stored.session_data)
        with contextlib.suppress(redis.RedisError):  # the database answered; the cache can wait
            self._cache.set(self.cache_key, data, self.get_expiry_age(expiry=stored.expire_date))
        return data

    def _learn_user(self, data: dict[str, Any], user_id: str | None, found: dict[str, Any]) -> None:
        owner = data.get(SESSION_KEY)
        if owner is None or self.session_key is None:
            return
        owner = str(owner)
        if owner == user_id:
            self._prefetched_user = (owner, found)
        else:
            with _users_lock:
                if len(_users) >= _USERS_SIZE:
                    _users.clear()
                _users[self.session_key] = owner

    def take_prefetched_user(self, user_id: Any) -> dict[str, Any] | None:
        """The user's copy and token as read with the session (once), if they were read for `user_id`."""
        prefetched, self._prefetched_user = self._prefetched_user, None
        if prefetched is None or prefetched[0] != str(user_id):
            return None
        return prefetched[1]

    async def aload(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] | None = await self._cache.aget(await self.acache_key())
        except Exception:
            data = None
        if data is not None:
            return data
        stored = await self._aget_session_from_db()
        if stored is None:
            return {}
        data = self.decode(stored.session_data)
        with contextlib.suppress(redis.RedisError):
            expiry = await self.aget_expiry_age(expiry=stored.expire_date)
            await self._cache.aset(await self.acache_key(), data, expiry)
        return data

    def save(self, must_create: bool = False) -> None:
        if self.session_key is None:
            return self.create()  # which gives it a key and comes back here
        self._cache.delete(self.cache_key)  # first: Redis unreachable refuses the change, nothing written
        DatabaseStore.save(self, must_create)
        with contextlib.suppress(redis.RedisError):  # no copy: the next read takes the database's
            self._cache.set(self.cache_key, self._session, self.get_expiry_age())

    async def asave(self, must_create: bool = False) -> None:
        if self.session_key is None:
            return await self.acreate()
        await self._cache.adelete(await self.acache_key())
        await DatabaseStore.asave(self, must_create)
        with contextlib.suppress(redis.RedisError):
            await self._cache.aset(await self.acache_key(), self._session, await self.aget_expiry_age())

    def delete(self, session_key: str | None = None) -> None:
        key = session_key or self.session_key
        if key is not None:  # the copy first: a deleted session never comes back from the cache
            self._cache.delete(self.cache_key_prefix + key)
        DatabaseStore.delete(self, session_key)

    async def adelete(self, session_key: str | None = None) -> None:
        key = session_key or self.session_key
        if key is not None:
            await self._cache.adelete(self.cache_key_prefix + key)
        await DatabaseStore.adelete(self, session_key)
