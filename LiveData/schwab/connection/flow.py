"""The OAuth `state`: single-use, unguessable, bound to the session, valid for 10 minutes."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from django.contrib.sessions.backends.base import SessionBase
from django.utils.crypto import constant_time_compare

from LiveData.schwab.conf import schwab_settings
from LiveData.schwab.exceptions import OAuthStateInvalid
from LiveData.shared import clock

SESSION_KEY = "schwab_oauth_pending"


@dataclass(frozen=True)
class Pending:
    next_url: str
    redirect_uri: str


def begin(session: SessionBase, *, next_url: str, redirect_uri: str) -> str:
    """Remember a new state for this session (replacing any earlier one) and return it."""
    state = secrets.token_urlsafe(32)
    session[SESSION_KEY] = {
        "state": state,
        "created_at": clock.now().isoformat(),
        "next": next_url,
        "redirect_uri": redirect_uri,
    }
    return state


def finish(session: SessionBase, *, state: str | None) -> Pending:
    """Consume the session's state; refuse a missing, wrong, expired or already used one."""
    pending = session.pop(SESSION_KEY, None)
    if (
        not isinstance(pending, dict)
        or not state
        or not constant_time_compare(pending.get("state", ""), state)
    ):
        raise OAuthStateInvalid
    created_at = datetime.fromisoformat(pending["created_at"])
    if clock.now() - created_at > schwab_settings().state_ttl:
        raise OAuthStateInvalid
    return Pending(next_url=pending["next"], redirect_uri=pending["redirect_uri"])
