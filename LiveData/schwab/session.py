"""Trader API calls on behalf of one Thor user: a fresh access token, a slot under the shared rate limits,
and one refresh-and-retry when Schwab answers 401.

A `TraderSession` is made per request (or per background task) and reads the user's connection once, so
every call in it, and the authorization decided with it, uses the tokens of one and the same login.
"""

from __future__ import annotations

from typing import Any

import redis
import requests
from django.contrib.auth.models import User
from django.views.decorators.debug import sensitive_variables

from LiveData.schwab import client, services
from LiveData.schwab.conf import schwab_settings
from LiveData.schwab.exceptions import RedisUnavailable, SchwabUnauthorized, ThrottledLocally
from LiveData.schwab.models import BrokerConnection, Login
from LiveData.shared import ratelimit


class TraderSession:
    def __init__(self, user: User, *, rate_limit_wait: float | None = None) -> None:
        self.user = user
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
        """Continue with `connection` (just connected, so a new login)."""
        self._connection = connection
        self._login = connection.login

    def current_login(self) -> Login:
        """The user's current Schwab login, or raise unless usable (one cheap query, once per session)."""
        if self._login is None:
            self._login = services.connection_check(user=self.user)
        return self._login

    def _throttle(self) -> None:
        conf = schwab_settings()
        try:
            ratelimit.acquire_for_connection(
                self.connection.pk,
                per_minute=conf.rate_limit_per_connection_per_minute,
                global_per_second=conf.rate_limit_global_per_second,
                arrival_allowance=conf.rate_limit_arrival_allowance,
                max_wait=self.rate_limit_wait,
            )
        except ratelimit.RateLimitExceeded as full:
            raise ThrottledLocally(retry_after=full.retry_after) from None
        except redis.RedisError:
            raise RedisUnavailable from None

    @sensitive_variables("token")
    def get(self, path: str, *, path_name: str, params: dict[str, str] | None = None) -> Any:
        """GET a Trader API path; the parsed JSON (numbers as Decimal)."""
        token = services.connection_access_token(connection=self.connection)
        self._throttle()
        try:
            return client.get_json(path, access_token=token, path_name=path_name, params=params)
        except SchwabUnauthorized:
            # The token may have been revoked early (say, by a newer login): refresh once and retry once.
            token = services.connection_refresh(connection=self.connection, stale_access_token=token)
            self._throttle()
            return client.get_json(path, access_token=token, path_name=path_name, params=params)

    @sensitive_variables("token")
    def send(self, method: str, path: str, *, path_name: str, body: Any = None) -> requests.Response:
        """An order-changing call (POST, PUT, DELETE), sent once: the HTTP layer never retries these. Only
        a 401, where Schwab refused the caller and did nothing, is retried once with a fresh token."""
        token = services.connection_access_token(connection=self.connection)
        self._throttle()
        try:
            return client.request(method, path, access_token=token, path_name=path_name, body=body)
        except SchwabUnauthorized:
            token = services.connection_refresh(connection=self.connection, stale_access_token=token)
            self._throttle()
            return client.request(method, path, access_token=token, path_name=path_name, body=body)
