"""Leases in Redis: at most one holder of a key at a time, for a bounded time unless renewed.

A holder renews well before the lease runs out; if it dies, the lease expires and another process takes
it. Renewing a lease that vanished (Redis restarted empty) takes it back, unless someone else took it
first. Every change is one atomic script, so two processes never both believe they hold a key.
"""

from __future__ import annotations

import redis

from LiveData.shared.redis_client import get_redis

# Take or keep the lease: it is free, or already ours. KEYS[1] lease, ARGV[1] holder, ARGV[2] ttl (ms).
_HOLD = """
local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
# Let go of the lease only if it is still ours.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def hold(key: str, holder: str, *, ttl_ms: int, client: redis.Redis | None = None) -> bool:
    """Take the lease if it is free, or extend it if `holder` has it; True when `holder` now holds it."""
    return bool((client or get_redis()).eval(_HOLD, 1, key, holder, ttl_ms))


def release(key: str, holder: str, *, client: redis.Redis | None = None) -> bool:
    return bool((client or get_redis()).eval(_RELEASE, 1, key, holder))


def holder_of(key: str, *, client: redis.Redis | None = None) -> str | None:
    value = (client or get_redis()).get(key)
    return str(value) if value is not None else None
