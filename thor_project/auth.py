"""The user behind a session, read from the cache every process shares instead of the database.

Django's session login loads the user by id on every request (a query), to check the session against a
hash of the password and the active flag. This backend answers from Redis and stays exact across
processes: each cached copy is tagged with the user's generation token, a random token replaced after
every commit that saves or deletes the user (`user_changed`), and a copy counts only while its tag is the
current token. Copy and token are read in one round trip. The token is replaced after the commit, so a
process that read the old row tags its copy with a token that is, or is about to be, superseded; and a
missing token (never set, or evicted) is created before anything is cached under it.

A copy never holds the password hash: it holds the user's other fields and the session hash Django
checks (an HMAC of the password under SECRET_KEY, the very value each session already stores). The user
built from it has its password deferred, so reading `user.password` loads it from the database, and
save() writes only the fields that were loaded.

Changes that bypass the model's signals (QuerySet.update, raw SQL) are seen when the copy expires
(COPY_SECONDS): change users through save(), as the admin and Django's password views do.

One round trip for the whole login: a session key belongs to one user for its life (logging in gives the
session a new key), so once a process has loaded a session it knows whose it is, and the session store
(thor_project/sessions.py) reads the session, the user's copy and the token in one MGET. `LoginMiddleware`
hands this request's session to get_user while Django's login check runs, and get_user takes the copy and
token from it when they were read for this user (once: a second check in the request reads them anew).
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from contextvars import ContextVar
from functools import cache as memoize
from typing import Any

import redis
from django.conf import settings
from django.contrib import auth
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, transaction
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

COPY_SECONDS = 300


@memoize
def _copied_fields() -> tuple[str, ...]:
    return tuple(field.attname for field in User._meta.concrete_fields if field.attname != "password")


@memoize
def _secret_id() -> str:
    """Names the keys the copies' session hashes were made under (new keys: new copies)."""
    keys = "\n".join(str(key) for key in [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS])
    return hashlib.sha256(keys.encode()).hexdigest()[:8]


def _copy_key(user_id: Any) -> str:
    return f"auth:user:{user_id}:{_secret_id()}"


def _token_key(user_id: Any) -> str:
    return f"auth:user:{user_id}:generation"


def copy_keys(user_id: Any) -> tuple[str, str]:
    """The cache keys of the user's copy and of its token, read together."""
    return _copy_key(user_id), _token_key(user_id)


# The session of the request whose login is being checked, only while Django's get_user runs for it.
_checking: ContextVar[Any] = ContextVar("thor_auth_checking", default=None)


class CachedModelBackend(ModelBackend):
    """ModelBackend whose get_user (once per request) reads a generation-checked copy from the cache;
    aget_user (the ASGI order stream) does the same on the event loop."""

    def get_user(self, user_id: Any) -> User | None:
        copy_key, token_key = _copy_key(user_id), _token_key(user_id)
        try:
            found = _read_with_the_session(user_id)
            if found is None:
                found = cache.get_many([copy_key, token_key])
            token = found.get(token_key)
            cached = _from_copy(found.get(copy_key), token)
            if cached is not None:
                return cached if self.user_can_authenticate(cached) else None
            if token is None:
                token = _new_token()
                if not cache.add(token_key, token, None):
                    token = None  # another process made it first: cache nothing this time
        except redis.RedisError:
            return super().get_user(user_id)  # the database answers while the cache cannot
        user = super().get_user(user_id)
        if user is not None and token is not None:
            with contextlib.suppress(redis.RedisError):  # then the next request reads the database again
                cache.set(copy_key, _copy(token, user), COPY_SECONDS)
        return user

    async def aget_user(self, user_id: Any) -> User | None:
        copy_key, token_key = _copy_key(user_id), _token_key(user_id)
        try:
            found = await cache.aget_many([copy_key, token_key])
            token = found.get(token_key)
            cached = _from_copy(found.get(copy_key), token)
            if cached is not None:
                return cached if self.user_can_authenticate(cached) else None
            if token is None:
                token = _new_token()
                if not await cache.aadd(token_key, token, None):
                    token = None
        except redis.RedisError:
            return await super().aget_user(user_id)
        user = await super().aget_user(user_id)
        if user is not None and token is not None:
            with contextlib.suppress(redis.RedisError):
                await cache.aset(copy_key, _copy(token, user), COPY_SECONDS)
        return user


def _new_token() -> str:
    return secrets.token_hex(8)


def _copy(token: str, user: User) -> tuple[str, tuple[Any, ...], str, tuple[str, ...]]:
    """What is cached: the token, every field but the password, and the session hashes Django checks
    (under SECRET_KEY, and under each of SECRET_KEY_FALLBACKS)."""
    values = tuple(getattr(user, name) for name in _copied_fields())
    return token, values, user.get_session_auth_hash(), tuple(user.get_session_auth_fallback_hash())


def _from_copy(copy: Any, token: str | None) -> User | None:
    """The user of a copy tagged with the current token (password deferred); None for anything else."""
    if token is None or not isinstance(copy, tuple) or len(copy) != 4 or copy[0] != token:
        return None
    _, values, session_hash, fallback_hashes = copy
    user = User.from_db(DEFAULT_DB_ALIAS, list(_copied_fields()), values)
    # What Django checks a session against, so it never needs the (deferred) password: a read of it from
    # the event loop (the order stream) would be a database query there, which Django refuses.
    user.get_session_auth_hash = lambda: session_hash  # type: ignore[method-assign]
    user.get_session_auth_fallback_hash = lambda: iter(fallback_hashes)  # type: ignore[method-assign]
    return user


def user_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    """Supersede every cached copy of the user, once the change is committed (post_save, post_delete)."""
    user_id = instance.pk
    transaction.on_commit(lambda: cache.set(_token_key(user_id), _new_token(), None))


def connect_signals() -> None:
    from django.db.models.signals import post_delete, post_save

    post_save.connect(user_changed, sender=User, dispatch_uid="thor_auth_user_saved")
    post_delete.connect(user_changed, sender=User, dispatch_uid="thor_auth_user_deleted")


def _read_with_the_session(user_id: Any) -> dict[str, Any] | None:
    """The copy and token this request's session store read with the session, if it did for this user."""
    session = _checking.get()
    take = getattr(session, "take_prefetched_user", None)
    return None if take is None else take(user_id)


def _get_user(request: HttpRequest) -> Any:
    if not hasattr(request, "_cached_user"):
        checking = _checking.set(request.session)
        try:
            request._cached_user = auth.get_user(request)  # type: ignore[attr-defined]
        finally:
            _checking.reset(checking)
    return request._cached_user  # type: ignore[attr-defined]


class LoginMiddleware(AuthenticationMiddleware):
    """Django's AuthenticationMiddleware, whose login check may use what the session's read brought."""

    def process_request(self, request: HttpRequest) -> None:
        super().process_request(request)
        request.user = SimpleLazyObject(lambda: _get_user(request))  # type: ignore[assignment]
