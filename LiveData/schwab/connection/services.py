"""Writes for BrokerConnection: connect, hand out a fresh access token, refresh, disconnect.

Refreshing happens with the connection's row locked (SELECT ... FOR UPDATE inside a transaction), so
concurrent requests for one trader make one refresh call and never lose a rotated token: whoever gets the
lock second sees the new token and uses it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import redis
from django.contrib.auth.models import User
from django.db import transaction

from LiveData.schwab.conf import schwab_settings
from LiveData.schwab.connection import oauth
from LiveData.schwab.exceptions import (
    RefreshTokenRejected,
    SchwabConnectionChanged,
    SchwabError,
    SchwabNotConnected,
    SchwabReauthRequired,
)
from LiveData.schwab.models import BrokerConnection, Login
from LiveData.shared import clock, ownership

logger = logging.getLogger(__name__)


_TOKEN_FIELDS = [
    "access_token",
    "refresh_token",
    "access_token_expires_at",
    "last_refreshed_at",
    "status",
    "generation",
    "last_error_code",
    "updated_at",
]


def development_user(*, username: str) -> User:
    """The user the development-only test views bind tokens to, created when missing."""
    user, _ = User.objects.get_or_create(username=username)
    return user


def connection_get(*, user: User) -> BrokerConnection:
    """The user's connection, or SchwabNotConnected when there is none or it was disconnected."""
    try:
        # Never defer the tokens: a token and its expiry must come from the same read.
        connection = BrokerConnection.objects.get(user=user)
    except BrokerConnection.DoesNotExist:
        raise SchwabNotConnected from None
    if connection.status == BrokerConnection.Status.DISCONNECTED:
        raise SchwabNotConnected
    return connection


def connection_check(*, user: User) -> Login:
    """The user's current login, or raise unless the connection is usable: one cheap query of the
    database (the truth, read on every request: nothing about who may do what is cached), no tokens."""
    row = BrokerConnection.objects.filter(user_id=user.pk).values_list("pk", "generation", "status").first()
    if row is None or row[2] == BrokerConnection.Status.DISCONNECTED:
        raise SchwabNotConnected
    if row[2] == BrokerConnection.Status.REAUTH_REQUIRED:
        raise SchwabReauthRequired
    return Login(connection_id=row[0], generation=row[1])


def connection_connect(*, user: User, tokens: oauth.TokenSet) -> BrokerConnection:
    """Store tokens from a new login. Reconnecting reuses the user's existing row (same id downstream)."""
    now = clock.now()
    with transaction.atomic():
        connection, created = BrokerConnection.objects.select_for_update().get_or_create(user=user)
        connection.access_token = tokens.access_token
        connection.refresh_token = tokens.refresh_token
        connection.access_token_expires_at = now + timedelta(seconds=tokens.expires_in)
        connection.logged_in_at = now
        connection.last_refreshed_at = None
        connection.status = BrokerConnection.Status.ACTIVE
        connection.generation += 1  # what was cached about the previous login is now out of reach
        connection.last_error_code = ""
        connection.save()
    logger.info("schwab connection %s %s", connection.pk, "created" if created else "reconnected")
    return connection


def connection_access_token(*, connection: BrokerConnection) -> str:
    """A usable access token, refreshed first when it is about to expire."""
    ensure_usable(connection)
    if connection.is_access_token_fresh(margin=schwab_settings().refresh_margin):
        return connection.access_token
    return connection_refresh(connection=connection, stale_access_token=connection.access_token)


def connection_refresh(
    *, connection: BrokerConnection, stale_access_token: str | None = None, force: bool = False
) -> str:
    """Refresh the access token once, under the row lock; return the token to use.

    `stale_access_token` is the token the caller found wanting (expired, or refused with a 401): when the
    row holds a different, fresh one, another worker has refreshed already and no call is made.
    """
    reauth_reason = ""
    failure: SchwabError | None = None
    with transaction.atomic():
        locked = BrokerConnection.objects.select_for_update().get(pk=connection.pk)
        ensure_usable(locked)
        if locked.generation != connection.generation:
            # A new login (or a disconnect) happened since the caller read the row: its tokens belong to
            # another login, whose accounts the caller has not been authorized for.
            raise SchwabConnectionChanged
        now = clock.now()
        margin = schwab_settings().refresh_margin
        already_refreshed = locked.access_token != stale_access_token
        if not force and already_refreshed and locked.is_access_token_fresh(margin=margin, now=now):
            _copy_tokens(locked, connection)
            return locked.access_token
        if locked.is_refresh_token_expired(now):
            reauth_reason = "refresh_token_expired"
        else:
            try:
                tokens = oauth.refresh(refresh_token=locked.refresh_token)
            except RefreshTokenRejected:
                reauth_reason = "refresh_token_rejected"
            except SchwabError as error:
                failure = error
            else:
                locked.access_token = tokens.access_token
                locked.refresh_token = tokens.refresh_token
                locked.access_token_expires_at = now + timedelta(seconds=tokens.expires_in)
                locked.last_refreshed_at = now
                locked.last_error_code = ""
                locked.save(update_fields=_TOKEN_FIELDS)
                logger.info("schwab connection %s refreshed its access token", locked.pk)
        if reauth_reason:
            locked.status = BrokerConnection.Status.REAUTH_REQUIRED
            locked.last_error_code = reauth_reason
            locked.save(update_fields=_TOKEN_FIELDS)
            logger.warning("schwab connection %s needs a new login: %s", locked.pk, reauth_reason)
        elif failure is not None:
            locked.last_error_code = failure.code
            locked.save(update_fields=["last_error_code", "updated_at"])
            logger.warning("schwab connection %s refresh failed: %s", locked.pk, failure.code)
    _copy_tokens(locked, connection)
    if reauth_reason:
        _record_ownership(ownership.mark_reauth_required, user_id=locked.user_id)
        raise SchwabReauthRequired
    if failure is not None:
        raise failure
    return locked.access_token


def connection_disconnect(*, connection: BrokerConnection) -> None:
    """Forget the tokens; the row stays so a later reconnect keeps the same connection."""
    with transaction.atomic():
        locked = BrokerConnection.objects.select_for_update().get(pk=connection.pk)
        locked.access_token = ""
        locked.refresh_token = ""
        locked.access_token_expires_at = None
        locked.status = BrokerConnection.Status.DISCONNECTED
        locked.generation += 1
        locked.last_error_code = ""
        locked.save(update_fields=_TOKEN_FIELDS)
    _copy_tokens(locked, connection)
    _record_ownership(ownership.clear_user_accounts, user_id=locked.user_id)
    logger.info("schwab connection %s disconnected", connection.pk)


def connection_rotate_keys() -> int:
    """Re-encrypt every connection's tokens under the newest TOKEN_ENCRYPTION_KEYS key."""
    rotated = 0
    for pk in BrokerConnection.objects.values_list("pk", flat=True):
        with transaction.atomic():
            locked = BrokerConnection.objects.select_for_update().get(pk=pk)
            # Loading decrypted with whichever key fits; saving encrypts with the newest.
            locked.save(update_fields=["access_token", "refresh_token"])
            rotated += 1
    return rotated


def ensure_usable(connection: BrokerConnection) -> None:
    """Raise unless the connection can be used: not disconnected, no new login needed."""
    if connection.status == BrokerConnection.Status.DISCONNECTED:
        raise SchwabNotConnected
    if connection.status == BrokerConnection.Status.REAUTH_REQUIRED:
        raise SchwabReauthRequired


def refresh_expiring_tokens(*, within_minutes: int) -> tuple[int, int]:
    """Refresh the access tokens of active connections expiring within the window; (refreshed, failed).
    Safe beside live traffic: each refresh takes the connection's row lock."""
    horizon = clock.now() + timedelta(minutes=within_minutes)
    due = BrokerConnection.objects.filter(
        status=BrokerConnection.Status.ACTIVE, access_token_expires_at__lt=horizon
    ).order_by("pk")
    refreshed = failed = 0
    for connection in due:
        try:
            connection_refresh(connection=connection, stale_access_token=connection.access_token)
        except SchwabError:
            failed += 1
        else:
            refreshed += 1
    return refreshed, failed


def _record_ownership(change: Callable[..., object], *, user_id: int) -> None:
    """Best effort: Redis being down must not stop a disconnect (the refresher reconciles every round)."""
    try:
        change(user_id=user_id, at=clock.now())
    except redis.RedisError:
        logger.warning("ownership index not updated: redis unavailable")


def ownership_reconcile() -> int:
    """Make the ownership marks match the database where no login is usable: connections disconnected
    or awaiting a new login, and users marked in the index whose connection row is gone (deleted by raw
    SQL, which sends no signal); return how many changed. Quiet and cheap when they already match (run
    by every refresh round)."""
    changed = 0
    for user_id, status in BrokerConnection.objects.exclude(
        status=BrokerConnection.Status.ACTIVE
    ).values_list("user_id", "status"):
        change = (
            ownership.clear_user_accounts
            if status == BrokerConnection.Status.DISCONNECTED
            else ownership.mark_reauth_required
        )
        changed += change(user_id=user_id, at=clock.now()).changed
    marked = ownership.users_with_a_login()
    rows = BrokerConnection.objects.filter(user_id__in=[user for user in marked if user.isdigit()])
    with_a_row = {str(user) for user in rows.values_list("user_id", flat=True)}
    for gone in set(marked) - with_a_row:
        changed += ownership.clear_user_accounts(user_id=gone, at=clock.now()).changed
    return changed


def connection_deleted(sender: Any, instance: BrokerConnection, **kwargs: Any) -> None:
    """A deleted connection (the ORM, the admin, its user's deletion) owns nothing from its commit on
    (post_delete). Redis unreachable then: the next refresh round's reconcile clears it."""
    user_id = instance.user_id
    transaction.on_commit(lambda: _record_ownership(ownership.clear_user_accounts, user_id=user_id))


def _copy_tokens(source: BrokerConnection, target: BrokerConnection) -> None:
    for field in _TOKEN_FIELDS:
        setattr(target, field, getattr(source, field))
