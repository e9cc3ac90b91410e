"""Keep ActAndPos in step with live data: follow every snapshot channel and the ownership channel.

On start (and after every reconnect) it subscribes first and then catches up from what Redis stores, so
nothing published in between is missed. A snapshot notification reconciles that account, an ownership
notification that user's accounts, always from what Redis holds then (never from the message), so any
delivery order ends in the same state. A dropped Redis connection, or the database gone, is retried with
capped backoff; the catch-up after it makes up for what was missed.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

import redis
from django.db import DatabaseError, close_old_connections

from ActAndPos import services
from LiveData.shared import contract, reader
from LiveData.shared.redis_client import get_redis

logger = logging.getLogger(__name__)
# (kind or "ownership", account id or user id, what the sync did)
Synced = Callable[[str, str, services.SyncResult], None]


def stored_account_ids(client: redis.Redis) -> set[str]:
    prefix = f"{contract.KEY_PREFIX}:{contract.POSITIONS}:"
    ids = {str(key)[len(prefix) :] for key in client.scan_iter(match=f"{prefix}*", count=500)}
    prefix = f"{contract.KEY_PREFIX}:{contract.BALANCES}:"
    ids |= {str(key)[len(prefix) :] for key in client.scan_iter(match=f"{prefix}*", count=500)}
    return ids


class Listener:
    def __init__(
        self,
        *,
        stop: threading.Event | None = None,
        on_sync: Synced | None = None,
        client_factory: Callable[[], redis.Redis] = get_redis,
        max_backoff: float = 30.0,
    ) -> None:
        self.stop = stop or threading.Event()
        self.on_sync = on_sync
        self.client_factory = client_factory
        self.max_backoff = max_backoff
        self.connected = threading.Event()  # set while subscribed (tests and health checks)

    def run(self) -> None:
        backoff = 0.5
        while not self.stop.is_set():
            try:
                self._session()
                backoff = 0.5
            except (redis.ConnectionError, redis.TimeoutError, DatabaseError) as failure:
                self.connected.clear()
                close_old_connections()  # a connection the database dropped is not used again
                logger.warning(
                    "live-data listener lost %s; reconnecting in %.1fs",
                    "the database" if isinstance(failure, DatabaseError) else "Redis",
                    backoff,
                )
                self.stop.wait(backoff)
                backoff = min(backoff * 2, self.max_backoff)

    def _session(self) -> None:
        client = self.client_factory()
        pubsub: Any = client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
        try:
            pubsub.psubscribe(contract.channel_pattern())
            pubsub.subscribe(contract.OWNERSHIP_CHANNEL)
            for _ in range(2):  # wait for both subscriptions to be confirmed
                pubsub.get_message(timeout=1.0)
            self.connected.set()
            self.catch_up(client)
            while not self.stop.is_set():
                message = pubsub.get_message(timeout=1.0)
                if message and message.get("type") in ("message", "pmessage"):
                    self._handle(message["data"])
        finally:
            self.connected.clear()
            pubsub.close()

    def catch_up(self, client: redis.Redis) -> None:
        """Reconcile every account Redis stores a snapshot of, and every account a live mirror shows."""
        close_old_connections()
        for account_id in sorted(stored_account_ids(client) | services.live_account_ids()):
            self._reconcile(account_id)

    def _handle(self, data: str) -> None:
        try:
            note = json.loads(data)
            if note.get("event") == "ownership":
                user_id = str(note["user_id"])
            else:
                kind, account_id = note["kind"], note["account_id"]
        except (ValueError, KeyError, TypeError, AttributeError):
            logger.warning("live-data listener ignored a malformed notification")
            return
        if note.get("event") == "ownership":
            close_old_connections()
            results = services.sync_user(user_id)
            if self.on_sync is not None:
                applied = any(result.applied for result in results)
                self.on_sync("ownership", user_id, services.SyncResult(applied=applied))
        elif kind in contract.KINDS:
            self._sync(kind, account_id)

    def _reconcile(self, account_id: str) -> None:
        try:
            results = services.sync_account(account_id)
        except reader.SnapshotSchemaError:
            logger.warning("live-data listener skipped a snapshot of an unknown schema")
            return
        if self.on_sync is not None:
            for kind, result in zip(contract.KINDS, results, strict=False):
                self.on_sync(kind, account_id, result)

    def _sync(self, kind: contract.Kind, account_id: str) -> None:
        """Sync from the stored snapshot (not the notification): the latest state wins, whatever the order."""
        close_old_connections()
        try:
            snapshot = reader.latest(kind, account_id)
        except reader.SnapshotSchemaError:
            logger.warning("live-data listener skipped a %s snapshot of an unknown schema", kind)
            return
        if snapshot is None:
            return
        result = services.sync_snapshot(kind, snapshot)
        if self.on_sync is not None:
            self.on_sync(kind, account_id, result)
