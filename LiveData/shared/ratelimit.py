"""Rate limits that hold across every worker and machine: sliding windows kept in Redis.

`acquire()` records the request when every window has room, else waits (up to `max_wait`) for the oldest
request to leave the fullest window. The decision and the recording are one atomic script call.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from importlib import resources

import redis

from LiveData.shared import contract, scripts
from LiveData.shared.redis_client import get_redis

_SCRIPT = scripts.Script(resources.files("LiveData.shared").joinpath("lua/rate_limit.lua").read_text())


class RateLimitExceeded(Exception):
    """The limit would need a longer wait than the caller allows."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limited; retry after {retry_after:.2f}s")
        self.retry_after = retry_after


@dataclass(frozen=True)
class Limit:
    key: str
    limit: int
    window_seconds: float


def acquire(limits: list[Limit], *, max_wait: float, client: redis.Redis | None = None) -> float:
    """Take one slot in every limit; return the seconds waited. Raise RateLimitExceeded past `max_wait`."""
    active = [limit for limit in limits if limit.limit > 0]
    if not active:
        return 0.0
    redis_client = client or get_redis()
    keys = [limit.key for limit in active]
    args: list[str | int] = []
    for limit in active:
        args += [limit.limit, int(limit.window_seconds * 1000)]
    waited = 0.0
    while True:
        wait_ms = int(_SCRIPT(redis_client, keys=keys, args=[*args, uuid.uuid4().hex]))
        if wait_ms <= 0:
            return waited
        wait = wait_ms / 1000
        if waited + wait > max_wait:
            raise RateLimitExceeded(retry_after=wait)
        time.sleep(wait)  # waiting for capacity is the limiter's job: it blocks this worker only
        waited += wait


def acquire_for_connection(
    connection_id: int,
    *,
    per_minute: int,
    global_per_second: int,
    arrival_allowance: float,
    max_wait: float,
) -> float:
    """Take a slot under a broker's limits, shared by every worker: per connection, and fleet-wide.

    A request reaches the broker a little after it is admitted here, and not always equally late. Counting
    admissions over windows lengthened by that allowance keeps the broker's own count of arrivals, over
    its window, within the limit as long as the delay stays under the allowance."""
    return acquire(
        [
            Limit(contract.rate_limit_connection_key(connection_id), per_minute, 60 + arrival_allowance),
            Limit(contract.RATE_LIMIT_GLOBAL_KEY, global_per_second, 1 + arrival_allowance),
        ],
        max_wait=max_wait,
    )


def acquire_for_orders(
    account_id: str, *, per_minute: int, arrival_allowance: float, max_wait: float
) -> float:
    """Take a slot under the account's order-request limit (Schwab sets one per account per minute)."""
    window = 60 + arrival_allowance
    return acquire([Limit(contract.order_rate_limit_key(account_id), per_minute, window)], max_wait=max_wait)
