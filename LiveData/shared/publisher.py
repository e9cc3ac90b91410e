"""Publish live-data snapshots to Redis: store and announce, in one atomic round trip.

All snapshots of one account (positions and balances) go in one round trip: one script call for them all
(EVALSHA), the atomic step, preceded by a SET of each large envelope under an incoming key of its own. Per
snapshot, the script stores the envelope (a large one by RENAME: its text never passes through Lua),
records the publish time and PUBLISHes a notification with what changed since the stored
snapshot. The change summary is computed against a small diff base (a
HASH of symbol -> quantity) kept beside the snapshot, inside the same atomic step. A snapshot older than
the stored one (by `as_of`) is dropped, never stored over a newer one. Who owns an account is recorded by
`ownership`, not here.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any

import msgspec
import redis

from LiveData.shared import contract, scripts
from LiveData.shared.redis_client import get_redis

_SCRIPT = scripts.Script(resources.files("LiveData.shared").joinpath("lua/publish_snapshot.lua").read_text())


_ENCODER = msgspec.json.Encoder()
# An incoming key lives only until the script that follows it renames it; this bounds its life should the
# script not run.
_INCOMING_TTL_SECONDS = 60
# Envelopes up to this size go to the script as an argument (one command fewer than SET, then RENAME);
# beyond it, copying the argument into Lua costs Redis more than the extra command.
_INLINE_BYTES = 16 * 1024


def encode(document: Any) -> bytes:
    """Compact JSON, UTF-8 as is: the same text as json.dumps(separators=(",", ":"), ensure_ascii=False),
    several times faster, and it also encodes msgspec structs (pinned byte for byte by
    test_published_documents)."""
    return _ENCODER.encode(document)


def _dumps(document: Any) -> str:
    return _ENCODER.encode(document).decode()


@dataclass(frozen=True)
class Snapshot:
    """One prepared snapshot: its envelope (JSON values, or msgspec structs that encode as JSON objects)
    and the compact map its change summary is computed from."""

    kind: contract.Kind
    account_id: str
    envelope: dict[str, Any]
    diff_map: Mapping[str, str | None]


def publish(
    *, snapshots: list[Snapshot], ttl_seconds: int = 0, client: redis.Redis | None = None
) -> dict[str, bool]:
    """Publish `snapshots` atomically in one round trip; return {key: stored?}."""
    keys = [contract.snapshot_key(snapshot.kind, snapshot.account_id) for snapshot in snapshots]
    incoming: list[tuple[str, bytes, int]] = []
    script_keys: list[str] = [contract.PUBLISHED_INDEX_KEY]
    script_args: list[str | bytes | int] = [ttl_seconds]
    for key, snapshot in zip(keys, snapshots, strict=True):
        # A name of its own: a concurrent publish of the same account never renames this one's envelope.
        incoming_key = contract.incoming_key(snapshot.kind, snapshot.account_id, secrets.token_hex(8))
        text = encode(snapshot.envelope)
        if len(text) > _INLINE_BYTES:
            incoming.append((incoming_key, text, ttl_seconds if ttl_seconds > 0 else _INCOMING_TTL_SECONDS))
            text = b""
        script_keys += [key, contract.diff_base_key(snapshot.kind, snapshot.account_id), incoming_key]
        envelope = snapshot.envelope
        note = contract.notification(
            "snapshot",
            snapshot.kind,
            account_id=snapshot.account_id,
            as_of=envelope["as_of"],
            published_at=envelope["published_at"],
        )
        diff_map = encode(snapshot.diff_map)
        script_args += [
            snapshot.kind,
            snapshot.account_id,
            envelope["as_of"],
            int(contract.parse_timestamp(envelope["published_at"]).timestamp() * 1000),
            diff_map,
            hashlib.sha1(diff_map, usedforsecurity=False).hexdigest(),  # lets the script skip an unmoved map
            _dumps(note)[:-1],
            text,
        ]
    redis_client = client or get_redis()
    if incoming:
        stored = scripts.run_after_sets(redis_client, incoming, _SCRIPT, keys=script_keys, args=script_args)
    else:
        stored = _SCRIPT(redis_client, keys=script_keys, args=script_args)
    return {key: bool(flag) for key, flag in zip(keys, stored, strict=True)}


def mark_stale(*, account_id: str, reason: str, at: datetime, client: redis.Redis | None = None) -> list[str]:
    """Flag the account's stored snapshots stale (kept, never emptied); return the keys marked."""
    redis_client = client or get_redis()
    marked: list[str] = []
    for kind in contract.KINDS:
        key = contract.snapshot_key(kind, account_id)

        def flag(pipe: Any, key: str = key, kind: contract.Kind = kind) -> None:
            text = pipe.get(key)
            if not text:
                return
            document = json.loads(text)
            if not document.get("stale"):
                document["stale_since"] = contract.timestamp(at)
            document["stale"] = True
            document["stale_reason"] = reason
            note = contract.notification(
                "stale",
                kind,
                account_id=account_id,
                as_of=document["as_of"],
                published_at=contract.timestamp(at),
            )
            note["stale_reason"] = reason
            pipe.multi()
            pipe.set(key, _dumps(document), keepttl=True)
            pipe.publish(key, _dumps(note))
            marked.append(key)

        redis_client.transaction(flag, key)
    return marked


def _orders_note(envelope: dict[str, Any]) -> str:
    note = contract.notification(
        "snapshot",
        contract.ORDERS,
        account_id=envelope["account_id"],
        as_of=envelope["as_of"],
        published_at=envelope["published_at"],
    )
    note["changes"] = {"open": sum(1 for order in envelope["orders"] if order["open"])}
    return _dumps(note)


def publish_orders(*, envelope: dict[str, Any], client: redis.Redis | None = None) -> bool:
    """Store the account's orders document and announce it, atomically (WATCH, then MULTI/EXEC); a
    document older (by `as_of`) than the stored one is dropped. Return whether it was stored."""
    key = contract.orders_key(envelope["account_id"])
    stored_it: list[bool] = []

    def store(pipe: Any) -> None:
        stored_it.clear()
        current = pipe.get(key)
        if current and json.loads(current).get("as_of", "") > envelope["as_of"]:
            stored_it.append(False)
            return
        pipe.multi()
        pipe.set(key, _dumps(envelope))
        pipe.publish(key, _orders_note(envelope))
        stored_it.append(True)

    (client or get_redis()).transaction(store, key)
    return stored_it[0]


def merge_orders(
    *,
    account_id: str,
    source: str,
    orders: list[dict[str, Any]],
    at: datetime,
    client: redis.Redis | None = None,
) -> None:
    """Put these orders, as just seen, into the stored orders document and announce it (WATCH, then
    MULTI/EXEC, so a concurrent merge is never lost). Cheaper than listing the account's orders again."""
    key = contract.orders_key(account_id)

    def merge(pipe: Any) -> None:
        stored = pipe.get(key)
        envelope = json.loads(stored) if stored else None
        if envelope is None or envelope.get("schema_version") != contract.ORDERS_SCHEMA_VERSION:
            # Nothing yet, or another version's orders (written before an upgrade): begin anew, in this one.
            envelope = contract.orders_envelope(
                account_id=account_id, source=source, as_of=at, published_at=at, orders=[]
            )
        by_id = {order["order_id"]: order for order in envelope["orders"]}
        for order in orders:
            # Schwab names a child's parent only by nesting it in a listing: a child read on its own keeps
            # the parent its listing named.
            known = by_id.get(order["order_id"], {}).get("parent_order_id")
            by_id[order["order_id"]] = {**order, "parent_order_id": order.get("parent_order_id") or known}
        envelope["orders"] = contract.newest_first(list(by_id.values()))
        envelope["as_of"] = envelope["published_at"] = contract.timestamp(at)  # these orders are as of now
        pipe.multi()
        pipe.set(key, _dumps(envelope))
        pipe.publish(key, _orders_note(envelope))

    (client or get_redis()).transaction(merge, key)
