"""Sliding-window limits shared through real Redis: never more than the limit in any window."""

from __future__ import annotations

import pytest

from LiveData.shared import ratelimit


def test_allows_up_to_the_limit_then_refuses_without_waiting(real_redis):
    limit = ratelimit.Limit("test:rate:a", 3, 60)
    for _ in range(3):
        assert ratelimit.acquire([limit], max_wait=0) == 0
    with pytest.raises(ratelimit.RateLimitExceeded) as refused:
        ratelimit.acquire([limit], max_wait=0)
    assert 59 < refused.value.retry_after <= 60.001
    assert real_redis.zcard("test:rate:a") == 3  # the refused request took no slot


def test_every_limit_must_have_room(real_redis):
    roomy = ratelimit.Limit("test:rate:roomy", 100, 60)
    full = ratelimit.Limit("test:rate:full", 1, 60)
    ratelimit.acquire([full], max_wait=0)
    with pytest.raises(ratelimit.RateLimitExceeded):
        ratelimit.acquire([roomy, full], max_wait=0)
    assert real_redis.zcard("test:rate:roomy") == 0  # all or nothing


def test_waits_for_the_window_to_move(real_redis):
    limit = ratelimit.Limit("test:rate:short", 2, 0.05)
    ratelimit.acquire([limit], max_wait=0)
    ratelimit.acquire([limit], max_wait=0)
    assert ratelimit.acquire([limit], max_wait=1) > 0  # had to wait, then went through


def test_zero_means_unlimited(real_redis):
    assert ratelimit.acquire([ratelimit.Limit("test:rate:off", 0, 1)], max_wait=0) == 0
    assert not real_redis.exists("test:rate:off")
