"""Django's Redis cache with one client per pool and native asyncio: the sync and async calls read what
the other wrote, with Django's semantics (real Redis; each test uses a key prefix of its own)."""

from __future__ import annotations

import secrets

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings

from thor_project.cache import RedisCache


@pytest.fixture
def redis_cache(real_redis):
    prefix = f"test-cache-{secrets.token_hex(4)}"
    cache = RedisCache(settings.REDIS_URL, {"KEY_PREFIX": prefix, "OPTIONS": {"socket_timeout": 2}})
    yield cache
    for key in real_redis.scan_iter(f"{prefix}:*"):  # only what this test wrote
        real_redis.delete(key)


def test_one_client_per_pool(redis_cache):
    assert redis_cache._cache.get_client() is redis_cache._cache.get_client()


def test_sync_and_async_read_what_the_other_wrote(redis_cache):
    redis_cache.set("sync", {"a": 1}, 60)
    async_to_sync(redis_cache.aset)("async", ("token", 7), 60)
    assert async_to_sync(redis_cache.aget)("sync") == {"a": 1}
    assert redis_cache.get("async") == ("token", 7)
    many = async_to_sync(redis_cache.aget_many)(["sync", "async", "missing"])
    assert many == {"sync": {"a": 1}, "async": ("token", 7)}
    assert async_to_sync(redis_cache.aget)("missing", "default") == "default"


def test_async_add_and_timeouts_follow_the_sync_semantics(redis_cache):
    assert async_to_sync(redis_cache.aadd)("once", "first", None) is True
    assert async_to_sync(redis_cache.aadd)("once", "second", None) is False
    assert redis_cache.get("once") == "first"
    assert redis_cache._cache.get_client().ttl(redis_cache.make_key("once")) == -1  # None: never expires
    async_to_sync(redis_cache.aset)("gone", "x", 0)  # a zero timeout removes the key
    assert redis_cache.get("gone") is None
    async_to_sync(redis_cache.aset)("kept", "x", 30)
    assert 0 < redis_cache._cache.get_client().ttl(redis_cache.make_key("kept")) <= 30
