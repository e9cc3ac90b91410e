"""The suite's own safety: it never empties a Redis database holding data it did not create."""

from __future__ import annotations

import fakeredis
import pytest

from conftest import SUITE_MARKER_KEY, claim_test_database


def test_a_database_with_foreign_keys_is_refused_and_left_as_it_was():
    someone_elses = fakeredis.FakeRedis(decode_responses=True)
    someone_elses.set("production:data", "precious")
    with pytest.raises(pytest.exit.Exception, match="holding 1 keys that the test suite did not create"):
        claim_test_database(someone_elses, "redis://127.0.0.1:6379/0")
    assert someone_elses.keys("*") == ["production:data"]


def test_an_empty_database_is_claimed_and_stays_claimed():
    empty = fakeredis.FakeRedis(decode_responses=True)
    claim_test_database(empty, "redis://127.0.0.1:6379/15")
    assert empty.exists(SUITE_MARKER_KEY)
    empty.set("live_data:positions:x", "{}")  # what the suite writes while it runs
    claim_test_database(empty, "redis://127.0.0.1:6379/15")  # still its own


def test_a_run_on_someone_else_s_redis_says_so_once_and_stops(private_redis, tmp_path):
    """The refusal ends the run with one message (it was printed once per test that needed Redis)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    import redis

    redis.Redis.from_url(private_redis.url).set("production:data", "precious")
    root = Path(__file__).resolve().parents[2]
    environment = {**os.environ, "REDIS_URL": private_redis.url}
    environment.pop("DATABASE_URL", None)
    environment.pop("REQUIRE_SERVICES", None)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "LiveData/shared/tests"],
        cwd=root,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 2
    assert output.count("the test suite did not") == 1
    assert redis.Redis.from_url(private_redis.url).get("production:data") == b"precious"
