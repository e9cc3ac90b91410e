"""Project-wide fixtures: the running Schwab sandbox, Redis (fake and real) and service requirements.

Every test gets its own in-process fakeredis as the live-data Redis, so the suite passes on a bare machine.
Tests that request `real_redis` or `postgres` need the real service. Without it they are skipped, unless
REQUIRE_SERVICES=1 (as in CI), where a missing service is a failure rather than a silent skip.

The suite empties the Redis database that REDIS_URL names between tests, so it only ever uses one that it
owns: an empty database is claimed with a marker key; one holding keys the suite did not create is refused.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

import fakeredis
import pytest
import redis
from django.conf import settings
from django.core.cache import cache
from django.db import connection as db_connection

from devtools.sandbox.server import SandboxServer
from devtools.sandbox.state import SandboxConfig
from devtools.testing import CALLBACK
from LiveData.shared import clock, redis_client

SANDBOX_CALLBACK = CALLBACK
_SANDBOX_CONFIG = SandboxConfig(
    callback_urls=(SANDBOX_CALLBACK, "https://127.0.0.1:8443/other/callback/"),
    hang_seconds=5.0,
)


def _require(reason: str) -> NoReturn:
    if os.environ.get("REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} (REQUIRE_SERVICES=1)")
    pytest.skip(reason)
    raise AssertionError("unreachable")


@pytest.fixture
def postgres() -> None:
    """Request this in tests whose behaviour depends on PostgreSQL (row locks, concurrent transactions)."""
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        _require("needs PostgreSQL: set DATABASE_URL=postgres://...")


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    """Django's cache is per process: start each test without what earlier tests cached."""
    from LiveData.schwab.connection import authorization

    cache.clear()
    authorization.forget_here()
    yield
    cache.clear()
    authorization.forget_here()


def run_together(workers: int, work: Callable[[], object]) -> list[object]:
    """Run `work` in `workers` threads released at once; return each result (or the exception raised).
    Each thread closes its own database connection, as a request thread would."""
    barrier = threading.Barrier(workers)
    results: list[object] = []

    def run() -> None:
        try:
            barrier.wait()
            results.append(work())
        except Exception as error:  # collected for the test to assert on
            results.append(error)
        finally:
            db_connection.close()

    threads = [threading.Thread(target=run) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


class FrozenClock:
    """An injectable clock: tests move time explicitly, never by waiting."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 11, 25, 15, 30, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


@pytest.fixture(scope="session")
def _sandbox_server() -> Iterator[SandboxServer]:
    server = SandboxServer(replace(_SANDBOX_CONFIG)).start()
    yield server
    server.stop()


@pytest.fixture
def sandbox_clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def sandbox(_sandbox_server: SandboxServer, sandbox_clock: FrozenClock) -> Iterator[SandboxServer]:
    """The running sandbox with fresh state and a frozen clock for each test."""
    state = _sandbox_server.state
    state.clock = sandbox_clock
    state.config = replace(_SANDBOX_CONFIG)  # tests may change their copy freely
    state.reset()
    yield _sandbox_server
    state.reset()


@pytest.fixture
def thor_clock(sandbox_clock: FrozenClock, monkeypatch: pytest.MonkeyPatch) -> FrozenClock:
    """Thor and the sandbox share one frozen clock: moving it expires tokens on both sides at once."""
    monkeypatch.setattr(clock, "now", sandbox_clock)
    return sandbox_clock


@pytest.fixture
def schwab(sandbox: SandboxServer, settings: Any, thor_clock: FrozenClock) -> SandboxServer:
    """Thor configured to talk to the running sandbox."""
    settings.SCHWAB_API_BASE_URL = sandbox.url
    settings.SCHWAB_CALLBACK_URL = SANDBOX_CALLBACK
    settings.SCHWAB_HTTP_TIMEOUT = 2.0
    return sandbox


@pytest.fixture(autouse=True)
def fake_redis(monkeypatch: pytest.MonkeyPatch) -> fakeredis.FakeRedis:
    """The live-data Redis of every test: in-process and empty (`real_redis` replaces it)."""
    client = fakeredis.FakeRedis(decode_responses=True)
    monkeypatch.setattr(redis_client, "_client", client)
    return client


# Present in a Redis database the suite has claimed; the suite refuses to empty any other non-empty one.
SUITE_MARKER_KEY = "thor:test-suite:owned"


def claim_test_database(client: redis.Redis, url: str) -> None:
    """Claim the database for the suite, or fail saying what to do when it holds someone else's keys."""
    if client.exists(SUITE_MARKER_KEY) or client.dbsize() == 0:
        client.set(SUITE_MARKER_KEY, "the Thor test suite empties this database between tests")
        return
    pytest.exit(  # once for the whole run, not once per test that needs Redis
        f"REDIS_URL={url} names a Redis database holding {client.dbsize()} keys that the test suite did not "
        "create, and the suite empties its database between tests. Point REDIS_URL at an empty database "
        "kept for tests (for example redis://127.0.0.1:6379/15), or empty this one yourself if its data "
        "can go.",
        returncode=2,
    )


def _empty_owned_database(client: redis.Redis) -> None:
    client.flushdb()
    client.set(SUITE_MARKER_KEY, "the Thor test suite empties this database between tests")


@pytest.fixture
def real_redis(monkeypatch: pytest.MonkeyPatch) -> Iterator[redis.Redis]:
    url = os.environ.get("REDIS_URL")
    if not url:
        _require("needs a real Redis: set REDIS_URL")
    client = redis.Redis.from_url(url, decode_responses=True, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError:
        _require(f"Redis at {url} is not reachable")
    claim_test_database(client, url)
    _empty_owned_database(client)
    monkeypatch.setattr(settings, "REDIS_URL", url)
    redis_client.reset_client()
    yield client
    redis_client.reset_client()
    _empty_owned_database(client)
    client.close()


@pytest.fixture
def servers_environment(
    postgres: None,
    real_redis: redis.Redis,
    schwab: SandboxServer,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, str]:
    """What Thor servers need to share this test's database, Redis and sandbox; all on the real clock."""
    from LiveData.schwab.tests.servers import database_url

    now = FrozenClock(datetime.now(UTC))  # the servers run on the real clock; so do the sandbox and we
    schwab.state.clock = now
    monkeypatch.setattr(clock, "now", now)
    return {
        "DEBUG": "true",
        "DATABASE_URL": database_url(settings),
        "REDIS_URL": settings.REDIS_URL,
        "SCHWAB_API_BASE_URL": schwab.url,
        "SCHWAB_CALLBACK_URL": SANDBOX_CALLBACK,
    }


@pytest.fixture
def private_postgres() -> Iterator[Any]:
    """A PostgreSQL cluster of the test's own (free port, temporary folder), migrated; the test may kill and
    restart it. Skipped (or failed with REQUIRE_SERVICES=1) where PostgreSQL's server is not installed.
    Name it after the fixtures that may skip the test, so a skipped test never starts one."""
    import subprocess
    import sys

    from devtools import private_services

    with _started(private_services.private_postgres, "a private PostgreSQL") as server:
        environment = {**os.environ, "DEBUG": "true", "DATABASE_URL": server.url}
        environment.pop("DJANGO_SETTINGS_MODULE", None)
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput"],
            cwd=settings.BASE_DIR,
            env=environment,
            check=True,
            capture_output=True,
            timeout=300,
        )
        yield server


@pytest.fixture
def private_redis() -> Iterator[Any]:
    """A redis-server of the test's own (free port, nothing persisted); tests may kill, hang or empty it."""
    from devtools import private_services

    with _started(private_services.private_redis, "a private Redis") as server:
        yield server


@contextlib.contextmanager
def _started(start: Callable[[], Any], what: str) -> Iterator[Any]:
    """Enter `start()`'s server, or skip (fail with REQUIRE_SERVICES=1) when its programs are missing."""
    with contextlib.ExitStack() as stack:
        try:
            server = stack.enter_context(start())
        except FileNotFoundError as missing:
            _require(f"needs {what}: {missing}")
        yield server
