"""A hung Redis costs a request one timeout, not one per call.

Redis that stops answering (stopped, swapping, a network partition) makes every call wait its socket
timeout; a request makes several calls, so it waited several timeouts, and every worker piled up behind
it. Here, once a call to a Redis server times out (connecting or waiting for its answer), this process
treats that server as not answering for REDIS_OUTAGE_HOLD_SECONDS: every call to it fails at once with
`RedisNotAnswering` (a
`redis.ConnectionError`, answered as 503 `redis_unavailable`). So a request waits on a hung Redis at
most one REDIS_SOCKET_TIMEOUT in all (the call that found it out), and the requests after it none until
the hold ends; the first call after the hold tries Redis again. An answer from the server ends the hold.
A refused connection (Redis stopped) fails at once anyway, so it starts no hold: Redis back is used at
once.

Both the live-data client (`redis_client`) and Django's cache use `GuardedConnectionPool`, so they share
what they learn about a server. Nothing here decides who may do what: it only fails faster.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_silent_until: dict[tuple[str, int], float] = {}  # (host, port) -> monotonic time the hold ends


class RedisNotAnswering(redis.ConnectionError):
    """Redis did not answer moments ago; this call was not sent."""


def _hold_seconds() -> float:
    return float(getattr(settings, "REDIS_OUTAGE_HOLD_SECONDS", 5.0))


class GuardedConnection(redis.Connection):
    def _server(self) -> tuple[str, int]:
        return (str(self.host), int(self.port))

    def _check(self) -> None:
        until = _silent_until.get(self._server())
        if until is not None and time.monotonic() < until:
            raise RedisNotAnswering("Redis did not answer moments ago; not waiting again")

    def _failed(self, failure: Exception) -> None:
        if not isinstance(failure, redis.TimeoutError):
            return  # refused or reset: that answered at once, no wait to spare anyone
        hold = _hold_seconds()
        now = time.monotonic()
        with _lock:
            already = _silent_until.get(self._server(), 0.0) > now
            _silent_until[self._server()] = now + hold
        if not already:
            logger.warning(
                "redis is not answering (%s): calls fail at once for %.1fs", type(failure).__name__, hold
            )

    def connect(self) -> None:
        self._check()
        try:
            super().connect()  # type: ignore[no-untyped-call]
        except (redis.ConnectionError, redis.TimeoutError) as failure:
            self._failed(failure)
            raise

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        self._check()
        try:
            super().send_packed_command(command, check_health)  # type: ignore[no-untyped-call]
        except (redis.ConnectionError, redis.TimeoutError) as failure:
            self._failed(failure)
            raise

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        try:
            response = super().read_response(*args, **kwargs)
        except (redis.ConnectionError, redis.TimeoutError) as failure:
            self._failed(failure)
            raise
        if self._server() in _silent_until:  # it answers: whatever hold there was is over
            with _lock:
                _silent_until.pop(self._server(), None)
        return response


class GuardedConnectionPool(redis.ConnectionPool):
    """A connection pool of GuardedConnections (for plain TCP; other schemes keep their own class)."""

    def __init__(self, **kwargs: Any) -> None:
        if kwargs.get("connection_class", redis.Connection) is redis.Connection:
            kwargs["connection_class"] = GuardedConnection
        super().__init__(**kwargs)


def forget() -> None:
    """Forget every hold (tests)."""
    with _lock:
        _silent_until.clear()
