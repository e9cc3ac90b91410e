"""The suite's own safety: it never empties a Redis database holding data it did not create."""

from __future__ import annotations

import fakeredis
import pytest

from conftest import SUITE_MARKER_KEY, claim_test_database


def test_a_database_with_foreign_keys_is_refused_and_left_as_it_was():
    someone_elses = fakeredis.FakeRedis(decode_responses=True)
    someone_elses.set("production:data", "precious")
    with pytest.raises(pytest.fail.Exception, match="holding 1 keys that the test suite did not create"):
        claim_test_database(someone_elses, "redis://127.0.0.1:6379/0")
    assert someone_elses.keys("*") == ["production:data"]


def test_an_empty_database_is_claimed_and_stays_claimed():
    empty = fakeredis.FakeRedis(decode_responses=True)
    claim_test_database(empty, "redis://127.0.0.1:6379/15")
    assert empty.exists(SUITE_MARKER_KEY)
    empty.set("live_data:positions:x", "{}")  # what the suite writes while it runs
    claim_test_database(empty, "redis://127.0.0.1:6379/15")  # still its own
