"""The one place that builds the Redis connection used for live data.

The client is built lazily on first use, from one connection pool per process, with socket timeouts,
periodic health checks and a guard that fails at once while Redis is not answering (`redis_guard`). With
no REDIS_URL and DEBUG on, an in-process stand-in (fakeredis) takes Redis's place so a newcomer can run
everything with only Python; it is not shared between processes, and a warning says so at start-up. With
DEBUG off, REDIS_URL is required.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import weakref

import redis
import redis.asyncio
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from LiveData.shared import redis_guard

logger = logging.getLogger(__name__)

STAND_IN_WARNING = (
    "REDIS_URL is not set: using an IN-PROCESS Redis stand-in (fakeredis). Data is not shared between "
    "processes and is lost on exit. Set REDIS_URL to use a real Redis."
)

_lock = threading.Lock()
_client: redis.Redis | None = None
# asyncio clients belong to one event loop: one per loop (and per sync client, which tests replace).
_async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[redis.Redis, redis.asyncio.Redis]]
_async_clients = weakref.WeakKeyDictionary()


def uses_stand_in() -> bool:
    """Tell whether the in-process stand-in is (or would be) used instead of a real Redis."""
    return not settings.REDIS_URL


def check_configuration() -> None:
    """Fail with DEBUG off and no REDIS_URL; warn when the stand-in will be used."""
    if settings.REDIS_URL:
        return
    if not settings.DEBUG:
        raise ImproperlyConfigured("REDIS_URL must be set when DEBUG is off.")
    logger.warning(STAND_IN_WARNING)


def get_redis() -> redis.Redis:
    """Return the process-wide Redis client, building it on first use."""
    global _client
    if _client is None:
        with _lock:
            if _client is None:
                _client = _build_client()
    return _client


def reset_client() -> None:
    """Forget the cached client (tests, or after settings change), closing its pool."""
    global _client
    with _lock:
        if _client is not None:
            _client.close()
        _client = None


def _build_client() -> redis.Redis:
    if not settings.REDIS_URL and not settings.DEBUG:
        raise ImproperlyConfigured("REDIS_URL must be set when DEBUG is off.")
    if not settings.REDIS_URL:
        import fakeredis

        return fakeredis.FakeRedis(decode_responses=True)
    timeout = settings.REDIS_SOCKET_TIMEOUT
    # Guarded: once Redis stops answering, calls fail at once instead of each waiting its timeout.
    pool = redis_guard.GuardedConnectionPool.from_url(
        settings.REDIS_URL,
        decode_responses=True,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        health_check_interval=30,
        retry_on_timeout=False,
        max_connections=64,
    )
    return redis.Redis(connection_pool=pool)


def get_async_redis() -> redis.asyncio.Redis:
    """The asyncio client of the running event loop (the SSE view's), on the same Redis as get_redis()."""
    loop = asyncio.get_running_loop()
    sync_client = get_redis()
    known = _async_clients.get(loop)
    if known is not None and known[0] is sync_client:
        return known[1]
    if type(sync_client).__module__.startswith("fakeredis"):
        import fakeredis

        # The stand-in's asyncio face on the very same in-process data (fakeredis shares by host:port).
        options = sync_client.connection_pool.connection_kwargs
        client: redis.asyncio.Redis = fakeredis.FakeAsyncRedis(
            host=options["host"], port=options["port"], decode_responses=True
        )
    else:
        # Blocking: a burst of streams opening at once (a reconnect storm after a deploy) waits for a
        # connection rather than failing; a browser's EventSource gives up on an error answer.
        pool = redis.asyncio.BlockingConnectionPool.from_url(
            settings.REDIS_URL,
            decode_responses=True,
            socket_connect_timeout=settings.REDIS_SOCKET_TIMEOUT,
            health_check_interval=30,
            max_connections=128,
            timeout=30,
        )
        client = redis.asyncio.Redis(connection_pool=pool)
    _async_clients[loop] = (sync_client, client)
    return client
