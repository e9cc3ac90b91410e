"""Record order events: each change of an order's status or fills goes into the account's Redis Stream
exactly once, however many times (and by whichever worker) it is seen.

The last state recorded per order is kept beside the stream (`contract.order_states_key`); the state is
compared and the event appended in one WATCH/MULTI step, so the streamer's message and the REST catch-up
after a reconnect, or two workers during a lease takeover, never record the same change twice. A state
older than the recorded one (a closed order seen open again by a slow read) is dropped. The producer keeps a
durable copy of the states (PostgreSQL, in the Schwab app) and puts them back with `restore_states` when
Redis has lost them, so a catch-up after data loss records nothing twice either.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec
import redis

from LiveData.shared import contract
from LiveData.shared.redis_client import get_redis

# Long enough to outlive the REST catch-up window (a reconnect reads back at most this far).
STATES_TTL_SECONDS = 61 * 24 * 3600
_ENCODER = msgspec.json.Encoder()


def _state(order: dict[str, Any]) -> dict[str, Any]:
    """What makes a change worth an event: status, fills, and the terms a replace or a fill moves."""
    return {
        "status": order["status"],
        "open": order["open"],
        "filled": order.get("filled_quantity"),
        "remaining": order.get("remaining_quantity"),
        "quantity": order.get("quantity"),
        "price": order.get("price"),
        "stop": order.get("stop_price"),
    }


def state_text(order: dict[str, Any]) -> str:
    """The recorded form of an order's state (what `record` compares, and what a durable copy keeps)."""
    return _ENCODER.encode(_state(order)).decode()


def has_states(account_id: str, *, client: redis.Redis | None = None) -> bool:
    """Whether Redis still holds the account's recorded states (False after it lost its data)."""
    return bool((client or get_redis()).exists(contract.order_states_key(account_id)))


def restore_states(account_id: str, states: dict[str, str], *, client: redis.Redis | None = None) -> None:
    """Put back recorded states Redis lost (order_id -> state_text), never over one recorded meanwhile."""
    if not states:
        return
    states_key = contract.order_states_key(account_id)
    pipe = (client or get_redis()).pipeline(transaction=True)
    for order_id, text in states.items():
        pipe.hsetnx(states_key, order_id, text)
    pipe.expire(states_key, STATES_TTL_SECONDS)
    pipe.execute()


def record(
    *,
    account_id: str,
    order: dict[str, Any],
    source: Literal["stream", "catch_up"],
    schwab_event: str | None,
    at: datetime,
    max_length: int,
    client: redis.Redis | None = None,
) -> str | None:
    """Append an event for `order` (a normalized order document) unless its state is already recorded;
    return the new entry's id, or None when nothing changed."""
    states_key, stream_key = contract.order_states_key(account_id), contract.order_events_key(account_id)
    state = _state(order)
    text = state_text(order)

    def append(pipe: Any) -> None:
        known_text = pipe.hget(states_key, order["order_id"])
        known = msgspec.json.decode(known_text) if known_text else None
        if known == state or (known is not None and not known["open"] and state["open"]):
            return  # seen already, or a stale read of an order that has since closed
        event = contract.order_event(
            order=order,
            account_id=account_id,
            previous_status=known["status"] if known else None,
            source=source,
            schwab_event=schwab_event,
            at=at,
        )
        pipe.multi()
        pipe.hset(states_key, order["order_id"], text)
        pipe.expire(states_key, STATES_TTL_SECONDS)
        pipe.xadd(stream_key, {"event": _ENCODER.encode(event).decode()}, maxlen=max_length, approximate=True)

    results = (client or get_redis()).transaction(append, states_key, value_from_callable=False)
    return str(results[-1]) if results else None


def events(account_id: str, *, client: redis.Redis | None = None) -> list[tuple[str, dict[str, Any]]]:
    """Every event kept for the account, oldest first (tests and tools; the SSE view reads by cursor)."""
    entries: Any = (client or get_redis()).xrange(contract.order_events_key(account_id))
    return [(str(entry_id), msgspec.json.decode(fields["event"])) for entry_id, fields in entries]
