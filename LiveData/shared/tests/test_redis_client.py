"""The Redis client factory: real Redis when configured, the labelled stand-in only with DEBUG on."""

from __future__ import annotations

import logging

import fakeredis
import pytest
from django.core.exceptions import ImproperlyConfigured

from LiveData.shared import redis_client


@pytest.fixture(autouse=True)
def _fresh_client():
    redis_client.reset_client()
    yield
    redis_client.reset_client()


def test_stand_in_is_used_and_announced_without_redis_url(settings, caplog):
    settings.REDIS_URL = ""
    settings.DEBUG = True
    with caplog.at_level(logging.WARNING, logger="LiveData.shared.redis_client"):
        redis_client.check_configuration()  # what start-up runs (SharedConfig.ready)
        client = redis_client.get_redis()
    assert isinstance(client, fakeredis.FakeRedis)
    assert redis_client.uses_stand_in()
    assert "IN-PROCESS Redis stand-in" in caplog.text
    client.set("k", "v")
    assert redis_client.get_redis().get("k") == "v"  # one client per process


def test_no_redis_url_with_debug_off_fails_clearly(settings):
    settings.REDIS_URL = ""
    settings.DEBUG = False
    with pytest.raises(ImproperlyConfigured, match="REDIS_URL must be set"):
        redis_client.get_redis()


def test_real_redis_is_pooled_with_timeouts(real_redis, settings):
    client = redis_client.get_redis()
    assert not isinstance(client, fakeredis.FakeRedis)
    assert client.ping() is True
    kwargs = client.connection_pool.connection_kwargs
    assert kwargs["socket_timeout"] == settings.REDIS_SOCKET_TIMEOUT
    assert kwargs["health_check_interval"] == 30
    assert redis_client.get_redis() is client
