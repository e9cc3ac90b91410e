"""What consumers use: the latest snapshot (checked against its schema version) and notifications.

Consumers never import LiveData.schwab: everything they need is the contract, this reader and the JSON
Schema files in LiveData/shared/schemas/.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import redis

from LiveData.shared import contract
from LiveData.shared.redis_client import get_redis


class SnapshotSchemaError(Exception):
    """A stored document is not a snapshot of the schema version this reader understands."""


def _checked(document: Any, kind: contract.Kind) -> dict[str, Any]:
    if not isinstance(document, dict):
        raise SnapshotSchemaError("snapshot is not a JSON object")
    if document.get("schema") != f"{contract.KEY_PREFIX}.{kind}":
        raise SnapshotSchemaError(f"expected a {kind} snapshot, found {document.get('schema')!r}")
    if document.get("schema_version") != contract.SCHEMA_VERSION:
        raise SnapshotSchemaError(
            f"snapshot schema version {document.get('schema_version')!r} is not {contract.SCHEMA_VERSION}"
        )
    return document


def latest(
    kind: contract.Kind, account_id: str, *, client: redis.Redis | None = None
) -> dict[str, Any] | None:
    """The latest snapshot of `kind` for the account, or None when none has been published."""
    return parse(kind, (client or get_redis()).get(contract.snapshot_key(kind, account_id)))


def parse(kind: contract.Kind, text: str | bytes | None) -> dict[str, Any] | None:
    """A snapshot of `kind` from the text stored under its key (read by the caller), or None for none."""
    if text is None:
        return None
    try:
        document = json.loads(text)
    except ValueError as broken:
        raise SnapshotSchemaError("snapshot is not valid JSON") from broken
    return _checked(document, kind)


def latest_positions(account_id: str, *, client: redis.Redis | None = None) -> dict[str, Any] | None:
    return latest(contract.POSITIONS, account_id, client=client)


def latest_balances(account_id: str, *, client: redis.Redis | None = None) -> dict[str, Any] | None:
    return latest(contract.BALANCES, account_id, client=client)


def latest_orders(account_id: str, *, client: redis.Redis | None = None) -> dict[str, Any] | None:
    """The account's open and recent orders as last published, or None."""
    text = (client or get_redis()).get(contract.orders_key(account_id))
    if text is None:
        return None
    document = json.loads(text)
    if document.get("schema_version") != contract.ORDERS_SCHEMA_VERSION:
        version = document.get("schema_version")
        raise SnapshotSchemaError(
            f"orders schema version {version!r} is not {contract.ORDERS_SCHEMA_VERSION}"
        )
    return dict(document)


def user_account_ids(user_id: int | str, *, client: redis.Redis | None = None) -> list[str]:
    """The accounts the user's current broker login shares (kept while a reconnect is needed)."""
    return sorted((client or get_redis()).smembers(contract.user_accounts_key(user_id)))  # type: ignore[arg-type]


def user_accounts_status(
    user_id: int | str, *, client: redis.Redis | None = None
) -> contract.OwnershipStatus:
    """ "active", "reauth_required" (the accounts are kept, but the login must be renewed) or "none"."""
    status = (client or get_redis()).get(contract.user_accounts_status_key(user_id))
    if status == contract.ACTIVE:
        return contract.ACTIVE
    return contract.REAUTH_REQUIRED if status == contract.REAUTH_REQUIRED else contract.NO_LOGIN


def account_owners(account_id: str, *, client: redis.Redis | None = None) -> list[str]:
    """The Thor user ids entitled to the account, as text (the reverse of user_account_ids)."""
    return sorted((client or get_redis()).smembers(contract.account_owners_key(account_id)))  # type: ignore[arg-type]


def is_owner(user_id: int | str, account_id: str, *, client: redis.Redis | None = None) -> bool:
    """Whether the user's current login lists the account: ask this before answering a user about it."""
    return bool((client or get_redis()).sismember(contract.account_owners_key(account_id), str(user_id)))


def oldest_publish(*, client: redis.Redis | None = None) -> datetime | None:
    """When the least recently published snapshot was published (None when there are none)."""
    oldest = (client or get_redis()).zrange(contract.PUBLISHED_INDEX_KEY, 0, 0, withscores=True)
    if not oldest:
        return None
    return datetime.fromtimestamp(float(oldest[0][1]) / 1000, tz=UTC)


class Subscription:
    """Notifications from the live-data channels, parsed; `get()` returns None when nothing came."""

    def __init__(self, pubsub: Any) -> None:
        self._pubsub = pubsub

    def get(self, timeout: float = 1.0) -> dict[str, Any] | None:
        """The next notification, waiting up to `timeout` seconds for it."""
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            message = self._pubsub.get_message(ignore_subscribe_messages=True, timeout=remaining)
            if message is None or message.get("type") not in ("message", "pmessage"):
                continue  # a subscribe confirmation, or nothing yet
            try:
                parsed = json.loads(message["data"])
            except ValueError:
                continue
            if isinstance(parsed, dict):
                return parsed
        return None

    def __iter__(self) -> Iterator[dict[str, Any]]:
        while True:
            note = self.get(timeout=1.0)
            if note is not None:
                yield note


@contextmanager
def subscribe(
    *,
    account_ids: list[str] | None = None,
    kind: contract.Kind | None = None,
    client: redis.Redis | None = None,
) -> Iterator[Subscription]:
    """Subscribe to the accounts' channels (or to every live-data channel); closes on exit."""
    pubsub = (client or get_redis()).pubsub()  # type: ignore[no-untyped-call]
    try:
        if account_ids:
            kinds: list[contract.Kind] = [kind] if kind else list(contract.KINDS)
            pubsub.subscribe(*[contract.channel(k, a) for k in kinds for a in account_ids])
        else:
            pubsub.psubscribe(contract.channel_pattern(kind))
        yield Subscription(pubsub)
    finally:
        pubsub.close()


@contextmanager
def subscribe_ownership(*, client: redis.Redis | None = None) -> Iterator[Subscription]:
    """Subscribe to ownership notifications (every user's accounts replaced, marked or emptied)."""
    pubsub = (client or get_redis()).pubsub()  # type: ignore[no-untyped-call]
    try:
        pubsub.subscribe(contract.OWNERSHIP_CHANNEL)
        yield Subscription(pubsub)
    finally:
        pubsub.close()
