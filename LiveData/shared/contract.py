"""The live-data Redis contract: key and channel names, the snapshot envelope and the notification.

Producers and consumers build names and envelopes only through this module. Schema files for every
document live in `LiveData/shared/schemas/` (JSON Schema, draft 2020-12).

    live_data:positions:{account_id}   latest positions snapshot (JSON envelope), and its PUBLISH channel
    live_data:balances:{account_id}    latest balances snapshot (JSON envelope), and its PUBLISH channel
    live_data:orders:{account_id}      open and recent orders (JSON envelope), and its PUBLISH channel
    live_data:accounts:{user_id}       SET: the account ids the user's current broker login shares
    live_data:accounts_status:{user_id}  "active" or "reauth_required" (absent: no login)
    live_data:owners:{account_id}      SET: the Thor user ids entitled to the account (the reverse index)
    live_data:ownership                PUBLISH channel: a notification per change of a user's accounts
    live_data:diffbase:{kind}:{account_id}   internal to the publisher (the last snapshot's quantities)
    live_data:incoming:{kind}:{account_id}:{token}   internal to the publisher: a new snapshot on its way
                                       into place, renamed by the publish script in the same round trip
    live_data:published                ZSET "kind:account_id" -> last publish time (epoch ms), for health
    live_data:order_events:{account_id}  STREAM: one entry per change of an order's status or fills, field
                                       "event" = an order_event document (JSON); capped (MAXLEN ~)

Internal to the producer (consumers never read them): the shared rate-limit windows
`schwab:rate:connection:{id}` and `schwab:rate:global`, the refresher's back-off
`schwab:refresh:backoff:{id}` / `schwab:refresh:failures:{id}`, the stream worker's leases
`schwab:stream:lease:{connection_id}`, its worker registry `schwab:stream:workers`, the last state
recorded per order `live_data:order_states:{account_id}` (what makes the event stream duplicate-free), and
the cache entry of a login's account
list `schwab:accounts:{connection_id}:{generation}` (in Django's cache, which prefixes it).

`account_id` is the broker's opaque account identifier (Schwab's `hashValue`), never an account number.
Money and quantities are decimal strings ("1234.50"), so no reader ever sees a rounded binary float.

OWNERSHIP. The Thor users entitled to an account are exactly the users whose current broker login lists
it. A user's index is replaced (never added to) each time their accounts are listed, emptied when they
disconnect, and kept, marked "reauth_required", while a new login is needed; the reverse index follows it
in the same atomic step. Several users may share an account (a household, an advisor), so a snapshot
names no user: readers that answer for a user check the ownership index (`reader.is_owner`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

# 2: the envelope no longer carries `user_id` (an account may belong to several users; see OWNERSHIP).
SCHEMA_VERSION = 2
NOTIFICATION_SCHEMA_VERSION = 1
OWNERSHIP_SCHEMA_VERSION = 1
KEY_PREFIX = "live_data"
POSITIONS: Literal["positions"] = "positions"
BALANCES: Literal["balances"] = "balances"
KINDS = (POSITIONS, BALANCES)
Kind = Literal["positions", "balances"]


def snapshot_key(kind: Kind, account_id: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown snapshot kind: {kind}")
    return f"{KEY_PREFIX}:{kind}:{account_id}"


ORDERS: Literal["orders"] = "orders"
ORDERS_SCHEMA_VERSION = 2


def orders_key(account_id: str) -> str:
    """Open and recent orders of the account; a notification goes out on the channel of the same name."""
    return f"{KEY_PREFIX}:{ORDERS}:{account_id}"


def positions_key(account_id: str) -> str:
    return snapshot_key(POSITIONS, account_id)


def balances_key(account_id: str) -> str:
    return snapshot_key(BALANCES, account_id)


def channel(kind: Kind, account_id: str) -> str:
    """Notifications go out on a channel named like the key they describe."""
    return snapshot_key(kind, account_id)


def channel_pattern(kind: Kind | None = None) -> str:
    return f"{KEY_PREFIX}:{kind or '*'}:*"


def diff_base_key(kind: Kind, account_id: str) -> str:
    """Internal to the publisher: what the stored snapshot held, for computing the next change summary."""
    return f"{KEY_PREFIX}:diffbase:{kind}:{account_id}"


def incoming_key(kind: Kind, account_id: str, token: str) -> str:
    """Internal to the publisher: where a new snapshot is SET before its script renames it into place
    (`token` makes it this publish's own)."""
    return f"{KEY_PREFIX}:incoming:{kind}:{account_id}:{token}"


def user_accounts_key(user_id: int | str) -> str:
    return f"{KEY_PREFIX}:accounts:{user_id}"


def user_accounts_status_key(user_id: int | str) -> str:
    return f"{KEY_PREFIX}:accounts_status:{user_id}"


def account_owners_key(account_id: str) -> str:
    return f"{KEY_PREFIX}:owners:{account_id}"


# One channel for every user's ownership changes; it does not match the snapshot channels' pattern.
OWNERSHIP_CHANNEL = f"{KEY_PREFIX}:ownership"
OwnershipStatus = Literal["active", "reauth_required", "none"]
ACTIVE: Literal["active"] = "active"
REAUTH_REQUIRED: Literal["reauth_required"] = "reauth_required"
NO_LOGIN: Literal["none"] = "none"


def decimal_text(value: Decimal | None) -> str | None:
    """Serialise money exactly: fixed-point text, no exponent, no float on the way."""
    if value is None:
        return None
    text = str(value)  # fixed-point already for ordinary values, and cheaper than format()
    return format(value, "f") if "E" in text else text


PUBLISHED_INDEX_KEY = f"{KEY_PREFIX}:published"

ORDER_EVENT_SCHEMA_VERSION = 2


def order_events_key(account_id: str) -> str:
    """The account's order events, oldest first (a Redis Stream; entry ids are the SSE cursor)."""
    return f"{KEY_PREFIX}:order_events:{account_id}"


def order_event(
    *,
    order: dict[str, Any],
    account_id: str,
    previous_status: str | None,
    source: Literal["stream", "catch_up"],
    schwab_event: str | None,
    at: datetime,
) -> dict[str, Any]:
    """One entry of order_events_key: the order as it is now (the orders document's shape), and what
    it was before. `source` says how Thor learned it: Schwab's streamer, or the REST catch-up after a
    reconnect (which reports, as one event, what changed while the stream was away)."""
    return {
        "schema": f"{KEY_PREFIX}.order_event",
        "schema_version": ORDER_EVENT_SCHEMA_VERSION,
        "account_id": account_id,
        "order_id": order["order_id"],
        "status": order["status"],
        "previous_status": previous_status,
        "filled_quantity": order.get("filled_quantity"),
        "source": source,
        "schwab_event": schwab_event,
        "at": timestamp(at),
        "order": order,
    }


# --- Internal to the producer -----------------------------------------------------------------------------
RATE_LIMIT_GLOBAL_KEY = "schwab:rate:global"


def rate_limit_connection_key(connection_id: int) -> str:
    return f"schwab:rate:connection:{connection_id}"


def order_rate_limit_key(account_id: str) -> str:
    return f"schwab:rate:orders:{account_id}"


def refresh_backoff_key(connection_id: int) -> str:
    return f"schwab:refresh:backoff:{connection_id}"


def refresh_failures_key(connection_id: int) -> str:
    return f"schwab:refresh:failures:{connection_id}"


def order_states_key(account_id: str) -> str:
    """HASH order_id -> the last state recorded as an event (see order_events.record)."""
    return f"{KEY_PREFIX}:order_states:{account_id}"


def stream_lease_key(connection_id: int) -> str:
    return f"schwab:stream:lease:{connection_id}"


STREAM_WORKERS_KEY = "schwab:stream:workers"


def quote_cache_key(symbol: str) -> str:
    """A symbol's last quote, normalized, for the order ticket (a few seconds' cache; market data only)."""
    return f"schwab:quote:{symbol}"


def accounts_cache_key(connection_id: int, generation: int) -> str:
    return f"schwab:accounts:{connection_id}:{generation}"


def parse_timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def timestamp(moment: datetime) -> str:
    """ISO-8601 in UTC with microseconds and a Z, so timestamps compare correctly as text."""
    if moment.tzinfo is None:
        raise ValueError("live-data timestamps must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def envelope(
    kind: Kind,
    *,
    account_id: str,
    source: str,
    as_of: datetime,
    published_at: datetime,
    body: dict[str, Any],
) -> dict[str, Any]:
    """The document stored under a snapshot key."""
    return {
        "schema": f"{KEY_PREFIX}.{kind}",
        "schema_version": SCHEMA_VERSION,
        "source": source,
        "account_id": account_id,
        "as_of": timestamp(as_of),
        "published_at": timestamp(published_at),
        "stale": False,
        "stale_reason": None,
        "stale_since": None,
        **body,
    }


def notification(
    event: Literal["snapshot", "stale"],
    kind: Kind | Literal["orders"],
    *,
    account_id: str,
    as_of: str,
    published_at: str,
) -> dict[str, Any]:
    """The message PUBLISHed on a document's channel (the publisher adds `changes`)."""
    return {
        "schema": f"{KEY_PREFIX}.notification",
        "schema_version": NOTIFICATION_SCHEMA_VERSION,
        "event": event,
        "kind": kind,
        "account_id": account_id,
        "key": orders_key(account_id) if kind == ORDERS else snapshot_key(kind, account_id),
        "as_of": as_of,
        "published_at": published_at,
    }


def ownership_notification(
    *,
    user_id: int | str,
    status: OwnershipStatus,
    account_ids: list[str],
    added: list[str],
    removed: list[str],
    at: datetime,
) -> dict[str, Any]:
    """The message PUBLISHed on OWNERSHIP_CHANNEL when a user's accounts change (or their mark does)."""
    return {
        "schema": f"{KEY_PREFIX}.ownership",
        "schema_version": OWNERSHIP_SCHEMA_VERSION,
        "event": "ownership",
        "user_id": str(user_id),
        "status": status,
        "account_ids": sorted(account_ids),
        "added": sorted(added),
        "removed": sorted(removed),
        "at": timestamp(at),
    }


def orders_envelope(
    *, account_id: str, source: str, as_of: datetime, published_at: datetime, orders: list[dict[str, Any]]
) -> dict[str, Any]:
    """The document stored under orders_key: open and recent orders, newest first."""
    return {
        "schema": f"{KEY_PREFIX}.{ORDERS}",
        "schema_version": ORDERS_SCHEMA_VERSION,
        "source": source,
        "account_id": account_id,
        "as_of": timestamp(as_of),
        "published_at": timestamp(published_at),
        "orders": newest_first(orders),
    }


def newest_first(orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(
        orders, key=lambda order: (order.get("entered_time") or "", order["order_id"]), reverse=True
    )
