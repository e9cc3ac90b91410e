"""Everything the sandbox remembers: registered apps, grants, codes, tokens, orders, faults and counters.

One lock guards it all; handlers hold it only while they read or change state, never while they wait.
"""

from __future__ import annotations

import secrets
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from devtools.sandbox.book import Account, Security, User, build_book, option_chain


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class SandboxConfig:
    seed: int = 1
    app_key: str = "thor-dev-app-key"
    app_secret: str = "thor-dev-app-secret"  # noqa: S105 - the public development default
    callback_urls: tuple[str, ...] = ("https://127.0.0.1:8000/schwab/oauth/callback/",)
    access_token_ttl: timedelta = timedelta(minutes=30)
    refresh_token_ttl: timedelta = timedelta(days=7)
    code_ttl: timedelta = timedelta(seconds=30)
    rotate_refresh_token: bool = False  # Schwab is reported to return the same refresh token
    latency_ms: int = 0  # added to every API call (benchmarks, demos)
    hang_seconds: float = 30.0  # how long a "hang" fault holds the connection open
    auto_approve_user: str | None = None  # skip the consent form (scripted demos)
    fleet_users: int = 0  # extra users fleet0001... for load tests (see book.build_book)
    fleet_accounts: int = 10
    # Where Location headers point (Schwab's are https://api.schwabapi.com/trader/v1/...); None: this server.
    public_base_url: str | None = None
    # Schwabdev's docs warn that an order filled at once may answer 201 without Location.
    immediate_fill_omits_location: bool = False
    # The streamer (see streamer.py): where userPreference points (None: this sandbox's own streamer, never
    # Schwab's), heartbeat period, and how long a login may stay unsubscribed before code 30 closes it.
    streamer_url: str | None = None
    stream_heartbeat_seconds: float = 10.0
    stream_idle_seconds: float = 30.0
    market_tick_seconds: float = 0.5  # how often working orders are checked against the moving price


@dataclass
class Grant:
    """One consent: a user's login at Schwab for an app, sharing some of their accounts."""

    user: User
    account_numbers: tuple[str, ...]
    logged_in_at: datetime
    redirect_uri: str
    revoked: bool = False


@dataclass
class AuthCode:
    grant: Grant
    expires_at: datetime
    used: bool = False


@dataclass
class Token:
    grant: Grant
    expires_at: datetime
    kind: str  # access | refresh
    revoked: bool = False


@dataclass
class Fault:
    kind: str  # latency | 429 | 500 | 502 | 503 | hang | truncated | malformed | 401
    path_prefix: str = ""
    remaining: int = 1  # how many matching requests it still affects; -1 for all
    retry_after: int = 1
    latency_ms: int = 0
    method: str = ""  # only requests of this method ("" for any)


@dataclass
class StreamFault:
    """A streamer fault. refuse_login acts at the next LOGIN; the others at the next order message, which
    is never sent: drop closes the socket without a close frame, stall goes silent (no data, no
    heartbeats) for `seconds`, expire_token expires the user's access tokens and ends the session, and
    lose drops that one message while the socket stays healthy (heartbeats go on): `count` messages."""

    kind: str
    remaining: int = 1
    seconds: float = 30.0


STREAM_FAULT_KINDS = ("drop", "stall", "refuse_login", "expire_token", "lose")

# An order message: the user it belongs to, the account number, and the content item (see activity.py).
ActivityListener = Callable[[str, str, dict[str, Any]], None]


# accept_then_hang: the request is served (an order is placed) but the answer never comes back in time.
FAULT_KINDS = (
    "latency", "429", "500", "502", "503", "hang", "truncated", "malformed", "401", "accept_then_hang",
)  # fmt: skip


@dataclass
class SandboxState:
    config: SandboxConfig
    clock: Callable[[], datetime] = _utcnow
    lock: threading.RLock = field(default_factory=threading.RLock)
    stopping: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.activity_listeners: list[ActivityListener] = []  # the streamer's, across resets
        self.stream_sessions: Counter[str] = Counter()  # live streamer logins per username
        self.streamer_url = "ws://127.0.0.1:0/ws"  # the running streamer's, once started
        self.reset()

    def reset(self) -> None:
        """Forget every grant, token, order, fault and count; rebuild the book from the seed."""
        with self.lock:
            self.clock_offset = timedelta(0)
            book = build_book(
                self.config.seed,
                self.now().date(),
                fleet_users=self.config.fleet_users,
                fleet_accounts=self.config.fleet_accounts,
            )
            self.users: dict[str, User] = {user.username: user for user in book}
            self.option_chain: list[Security] = option_chain(self.now().date())
            self.accounts_by_hash: dict[str, tuple[User, Account]] = {
                account.hash_value: (user, account)
                for user in self.users.values()
                for account in user.accounts
            }
            self.codes: dict[str, AuthCode] = {}
            self.tokens: dict[str, Token] = {}
            self.faults: list[Fault] = []
            self.calls: Counter[str] = Counter()
            self.token_grants: Counter[str] = Counter()
            self.faults_injected: Counter[str] = Counter()
            self.api_requests: list[tuple[float, str]] = []  # (monotonic arrival, username) per API call
            self.orders: dict[int, dict[str, Any]] = {}
            self.transactions: dict[int, dict[str, Any]] = {}
            self.next_order_id = 1000000000 + self.config.seed * 1000
            self.stream_faults: list[StreamFault] = []
            self.stream_stats: Counter[str] = Counter()

    def now(self) -> datetime:
        return self.clock() + self.clock_offset

    # --- OAuth -------------------------------------------------------------------------------------------
    def issue_code(self, grant: Grant) -> str:
        # Real codes look like "C0.<base64>.<random>@": the trailing "@" arrives URL-encoded as %40.
        code = f"C0.c2FuZGJveC5zY2h3YWI.{secrets.token_urlsafe(24)}@"
        with self.lock:
            self.codes[code] = AuthCode(grant, self.now() + self.config.code_ttl)
        return code

    def issue_tokens(self, grant: Grant) -> tuple[str, str]:
        access = f"I0.{secrets.token_urlsafe(32)}@"
        refresh = f"R0.{secrets.token_urlsafe(32)}@"
        with self.lock:
            self.tokens[access] = Token(grant, self.now() + self.config.access_token_ttl, "access")
            self.tokens[refresh] = Token(grant, grant.logged_in_at + self.config.refresh_token_ttl, "refresh")
        return access, refresh

    def revoke_grants_of(self, user: User) -> None:
        """A new login for the same app and user invalidates the previous tokens (schwab-py #94)."""
        with self.lock:
            for token in self.tokens.values():
                if token.grant.user is user:
                    token.revoked = True
                    token.grant.revoked = True

    def valid_token(self, value: str | None, kind: str) -> Token | None:
        if not value:
            return None
        with self.lock:
            token = self.tokens.get(value)
            if token is None or token.kind != kind or token.revoked or token.expires_at <= self.now():
                return None
            return token

    def expire_tokens(self, *, username: str | None, kind: str) -> int:
        """Make matching live tokens expired now (tests and demos of the re-login path)."""
        expired = 0
        with self.lock:
            moment = self.now() - timedelta(seconds=1)
            for token in self.tokens.values():
                if token.kind == kind and (username is None or token.grant.user.username == username):
                    token.expires_at = moment
                    expired += 1
        return expired

    # --- Streaming ---------------------------------------------------------------------------------------
    def announce(self, username: str, account_number: str, items: list[dict[str, Any]]) -> None:
        """Hand an order change's ACCT_ACTIVITY messages to every streamer session (call under the lock,
        so messages leave in the order the changes happened)."""
        for item in items:
            for listener in list(self.activity_listeners):
                listener(username, account_number, item)

    def take_stream_fault(self, *kinds: str) -> StreamFault | None:
        with self.lock:
            for fault in self.stream_faults:
                if fault.kind in kinds and fault.remaining != 0:
                    fault.remaining -= 1 if fault.remaining > 0 else 0
                    self.stream_faults = [f for f in self.stream_faults if f.remaining != 0]
                    self.stream_stats[f"fault_{fault.kind}"] += 1
                    return fault
        return None

    # --- Faults ------------------------------------------------------------------------------------------
    def take_fault(self, path: str, method: str = "") -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.method and fault.method != method:
                    continue
                if path.startswith(fault.path_prefix) and fault.remaining != 0:
                    if fault.remaining > 0:
                        fault.remaining -= 1
                    self.faults = [f for f in self.faults if f.remaining != 0]
                    return fault
        return None

    def request_rates(self) -> dict[str, int]:
        """The most API requests seen in any 1 s window (all users) and any 60 s window (one user)."""
        with self.lock:
            log = sorted(self.api_requests)
        per_user: dict[str, list[float]] = {}
        for moment, username in log:
            per_user.setdefault(username, []).append(moment)
        return {
            "max_total_per_second": _densest([moment for moment, _ in log], 1.0),
            "max_per_user_per_minute": max((_densest(times, 60.0) for times in per_user.values()), default=0),
            "requests": len(log),
        }

    def new_session_id(self) -> str:
        return str(uuid.uuid4())


def _densest(times: list[float], window: float) -> int:
    """The most of the sorted `times` that fall in any half-open window [t, t + window)."""
    best = start = 0
    for end, moment in enumerate(times):
        while moment - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best
