"""Django's Redis cache, with one client per connection pool, and native asyncio for the calls async code
makes (sessions and the user, in the ASGI order stream).

Django's RedisCacheClient builds a new `redis.Redis` for every cache operation; building one fills its
table of response callbacks, about 0.2 ms of Python each time, which is more than the round trip to
Redis. A client is thread-safe and shares its pool's connections, so one per pool is enough.

Django's async cache methods run the sync ones in a thread (sync_to_async): under ASGI each request gets a
thread of its own, and with it a connection of its own from the pool. Here aget, aget_many, aset and aadd
talk to Redis with redis.asyncio on the running event loop instead (one client per loop, on the first
server, with the same options), and store values exactly as the sync methods do, so either reads what the
other wrote.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Iterable
from typing import Any

import redis.asyncio
from django.core.cache.backends import redis as django_redis
from django.core.cache.backends.base import DEFAULT_TIMEOUT


class RedisCacheClient(django_redis.RedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        index = self._get_connection_pool_index(write)  # type: ignore[attr-defined]
        client = self._clients.get(index)
        if client is None:  # a race builds two, and one of them is kept: harmless
            client = self._clients[index] = super().get_client(key, write=write)
        return client


class RedisCache(django_redis.RedisCache):
    # Django's own attributes (LOCATION split into servers, and OPTIONS), which its type stubs leave out.
    _servers: list[str]
    _options: dict[str, Any]

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = RedisCacheClient
        self._async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, redis.asyncio.Redis]
        self._async_clients = weakref.WeakKeyDictionary()

    def _async_client(self) -> redis.asyncio.Redis:
        loop = asyncio.get_running_loop()
        client = self._async_clients.get(loop)
        if client is None:
            # The server the sync client writes to, with the same socket timeouts.
            options = {name: value for name, value in self._options.items() if name.startswith("socket_")}
            client = redis.asyncio.Redis.from_url(self._servers[0], **options)
            self._async_clients[loop] = client
        return client

    def _dumps(self, value: Any) -> Any:
        return self._cache._serializer.dumps(value)  # type: ignore[attr-defined]

    def _loads(self, data: Any) -> Any:
        return self._cache._serializer.loads(data)  # type: ignore[attr-defined]

    async def aget(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        value = await self._async_client().get(self.make_and_validate_key(key, version=version))
        return default if value is None else self._loads(value)

    async def aget_many(self, keys: Iterable[Any], version: int | None = None) -> dict[Any, Any]:
        by_key = {self.make_and_validate_key(key, version=version): key for key in keys}
        values = await self._async_client().mget(list(by_key))
        return {by_key[k]: self._loads(v) for k, v in zip(by_key, values, strict=True) if v is not None}

    async def aset(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> None:
        made = self.make_and_validate_key(key, version=version)
        expiry = _seconds(self.get_backend_timeout(timeout))
        if expiry == 0:  # as the sync set: a zero timeout removes the key
            await self._async_client().delete(made)
        else:
            await self._async_client().set(made, self._dumps(value), ex=expiry)

    async def aadd(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> bool:
        made = self.make_and_validate_key(key, version=version)
        expiry = _seconds(self.get_backend_timeout(timeout))
        if expiry == 0:  # as the sync add: added and at once expired
            added = bool(await self._async_client().set(made, self._dumps(value), nx=True))
            if added:
                await self._async_client().delete(made)
            return added
        return bool(await self._async_client().set(made, self._dumps(value), ex=expiry, nx=True))


def _seconds(timeout: float | None) -> int | None:
    return None if timeout is None else int(timeout)
