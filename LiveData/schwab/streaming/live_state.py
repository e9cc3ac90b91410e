"""What the page's live channel carries besides order events: each account's positions and balances as
last published, the Account Summary card built from them, and the user's connection state.

These are states, not history: the newest one replaces the one before. So a stream starts with the
current ones (a stream that resumes after a drop is never behind, whatever it missed), and afterwards
sends each one published. Each carries a version, the snapshot's `published_at` (and whether it was
marked stale since), so a stream never sends a state twice, nor an older one after a newer: when
publishes come faster than they are handed out, the stream skips to the newest.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, NamedTuple

from LiveData.schwab.live_data import summary
from LiveData.shared import contract

POSITIONS, BALANCES, SUMMARY, CONNECTION = "positions", "balances", "summary", "connection"


class State(NamedTuple):
    """One state event: its SSE event name, the account, its version and its data (JSON text)."""

    event: str
    account_id: str
    version: str
    data: str


def snapshot_states(kind: str, account_id: str, text: str | None, *, now: datetime) -> list[State]:
    """The events of one stored snapshot (and, for balances, the summary card); none when absent."""
    if not text:
        return []
    document = json.loads(text)
    # A stale marking keeps the snapshot's publish time and comes after it.
    version = str(document.get("published_at") or "") + ("~stale" if document.get("stale") else "")
    states = [State(kind, account_id, version, text)]  # the stored JSON as is, never re-encoded
    if kind == contract.BALANCES:
        card = {"account_id": account_id, "summary": summary.build(balances=document, now=now)}
        states.append(State(SUMMARY, account_id, version, json.dumps(card, separators=(",", ":"))))
    return states


async def account_states(client: Any, account_id: str, *, now: datetime) -> list[State]:
    """The account's current states, read in one round trip."""
    positions, balances = await client.mget(
        contract.positions_key(account_id), contract.balances_key(account_id)
    )
    return [
        *snapshot_states(contract.POSITIONS, account_id, positions, now=now),
        *snapshot_states(contract.BALANCES, account_id, balances, now=now),
    ]


def newer(state: State, sent: dict[tuple[str, str], str]) -> bool:
    """Whether `state` is newer than what the stream sent of it; records it when so."""
    key = (state.event, state.account_id)
    if state.version <= sent.get(key, ""):  # ISO timestamps of one format: text order is time order
        return False
    sent[key] = state.version
    return True


def connection_event(status: dict[str, Any]) -> str:
    return json.dumps(status, separators=(",", ":"))
