"""Trader API calls on behalf of one Thor user: a fresh access token, a slot under the shared rate limits,
and one refresh-and-retry when Schwab answers 401.

A `TraderSession` is made per request (or per background task) and reads the user's connection once, so
every call in it, and the authorization decided with it, uses the tokens of one and the same login.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

import redis
import requests
from django.contrib.auth.models import User
from django.views.decorators.debug import sensitive_variables

from LiveData.schwab.conf import schwab_settings
from LiveData.schwab.connection import client, services
from LiveData.schwab.exceptions import RedisUnavailable, SchwabUnauthorized, ThrottledLocally
from LiveData.schwab.models import BrokerConnection, Login
from LiveData.shared import ratelimit

T = TypeVar("T")


class TraderSession:
    def __init__(self, user: User, *, rate_limit_wait: float | None = None, background: bool = False) -> None:
        self.user = user
        # Background work (no trader waiting) stops short of the connection's last slots, which stay for
        # the trader's own requests: an order never waits behind the refresher's or the stream's reads.
        self.background = background
        self._connection: BrokerConnection | None = None
        self._login: Login | None = None
        # How long a call may wait for room under the shared rate limits (short for page requests).
        self.rate_limit_wait = (
            schwab_settings().rate_limit_max_wait if rate_limit_wait is None else rate_limit_wait
        )

    @property
    def connection(self) -> BrokerConnection:
        """The user's connection with its tokens (read once); SchwabNotConnected when there is none."""
        if self._connection is None:
            self._connection = services.connection_get(user=self.user)
        return self._connection

    def use(self, connection: BrokerConnection) -> None:
        """Continue with `connection`, just read or just connected: its tokens and its login."""
        self._connection = connection
        self._login = connection.login

    def current_login(self) -> Login:
        """The user's current Schwab login, or raise unless usable (one cheap query, once per session)."""
        if self._login is None:
            self._login = services.connection_check(user=self.user)
        return self._login

    def _throttle(self) -> None:
        conf = schwab_settings()
        per_minute = conf.rate_limit_per_connection_per_minute
        if self.background and per_minute > 0:
            per_minute = max(1, per_minute - conf.rate_limit_foreground_reserve_per_minute)
        try:
            ratelimit.acquire_for_connection(
                self.connection.pk,
                per_minute=per_minute,
                global_per_second=conf.rate_limit_global_per_second,
                arrival_allowance=conf.rate_limit_arrival_allowance,
                max_wait=self.rate_limit_wait,
            )
        except ratelimit.RateLimitExceeded as full:
            raise ThrottledLocally(retry_after=full.retry_after) from None
        except redis.RedisError:
            raise RedisUnavailable from None

    @sensitive_variables("token")
    def _authorized(self, call: Callable[..., T]) -> T:
        """`call(access_token=...)` with a fresh token and a slot under the limits. A 401 (Schwab refused the
        caller and did nothing, so this is safe for every method) refreshes the token and retries once."""
        token = services.connection_access_token(connection=self.connection)
        self._throttle()
        try:
            return call(access_token=token)
        except SchwabUnauthorized:
            # The token may have been revoked early (say, by a newer login).
            token = services.connection_refresh(connection=self.connection, stale_access_token=token)
            self._throttle()
            return call(access_token=token)

    def get(self, path: str, *, path_name: str, params: dict[str, str] | None = None) -> Any:
        """GET a Trader API path; the parsed JSON (numbers exact)."""
        # partial, not a lambda: no frame of ours holds the token (the client's hide theirs)
        return self._authorized(partial(client.get_json, path, path_name=path_name, params=params))

    def get_market_data(self, path: str, *, path_name: str, params: dict[str, str] | None = None) -> Any:
        """GET a Market Data API path (same token and limits as the Trader API); the parsed JSON."""
        call = partial(client.get_json, path, path_name=path_name, params=params, market_data=True)
        return self._authorized(call)

    def get_content(self, path: str, *, path_name: str, params: dict[str, str] | None = None) -> bytes:
        """GET a Trader API path; the body as sent (the caller decodes it)."""
        return self._authorized(partial(client.get_content, path, path_name=path_name, params=params))

    def send(self, method: str, path: str, *, path_name: str, body: Any = None) -> requests.Response:
        """An order-changing call (POST, PUT, DELETE), sent once: the HTTP layer never retries these."""
        return self._authorized(partial(client.request, method, path, path_name=path_name, body=body))
