"""The whole pipeline (fetch, transform, publish) per account vs. a bare `requests` GET of the same URL,
for accounts of 1, 50 and 500 positions; then the decoding and transform alone, the previous
implementation (devtools/previous_pipeline.py) against today's on the same bytes; and the Redis round trips
per publish.

    REDIS_URL=redis://127.0.0.1:6379/14 .venv/bin/python bench/pipeline.py [--iterations 40]
"""

from __future__ import annotations

import argparse
import os
import random
import time
from collections.abc import Callable
from typing import Any

from setup import median, percentile, start  # type: ignore[import-not-found]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=40)
    parser.add_argument(
        "--sandbox-in-process",
        action="store_true",
        help="serve the sandbox from this process's threads (its rendering and garbage collection then "
        "share this process's GIL, and land on whatever runs after a response: the pipeline)",
    )
    args = parser.parse_args()
    # Hundreds of calls on one connection: keep the shared limiter in the path, but out of the way.
    os.environ["SCHWAB_RATE_LIMIT_PER_CONNECTION_PER_MINUTE"] = "1000000"
    env = start(sandbox_process=not args.sandbox_in_process)
    import redis
    import requests
    from django.conf import settings

    from LiveData.schwab.connection import services
    from LiveData.schwab.live_data import refresh as live_data_module
    from LiveData.shared import publisher

    api, sandbox = env["api"], env["sandbox"]
    order = random.Random(13)
    session = requests.Session()
    where = "in this process" if args.sandbox_in_process else "in its own process"
    print(f"pipeline vs bare GET, {args.iterations} iterations each, interleaved, sandbox {where} (ms)")
    print(
        f"{'positions':>9} {'bare p50':>9} {'pipe p50':>9} {'bare p90':>9} {'pipe p90':>9} {'ratio p50':>9}"
    )
    for size, account_id in sorted(env["accounts"].items()):
        url = f"{settings.SCHWAB_API_BASE_URL}/trader/v1/accounts/{account_id}"
        token = services.connection_access_token(connection=api.connection)
        headers = {"Authorization": f"Bearer {token}"}
        bare: list[float] = []
        pipeline: list[float] = []
        for _ in range(3):  # warm up both paths
            _ = session.get(url, params={"fields": "positions"}, headers=headers, timeout=10).content
            api.refresh_account(account_id)

        def get_bare(url: str = url, headers: dict[str, str] = headers) -> None:
            _ = session.get(url, params={"fields": "positions"}, headers=headers, timeout=10).content

        def refresh(account_id: str = account_id) -> None:
            api.refresh_account(account_id)

        for _ in range(args.iterations):
            # In a random order each time: anything periodic at the sandbox (its garbage collector) must
            # not fall on the same path every time.
            pair: list[tuple[Callable[[], None], list[float]]] = [(get_bare, bare), (refresh, pipeline)]
            order.shuffle(pair)
            for call, samples in pair:
                started = time.perf_counter()
                call()
                samples.append((time.perf_counter() - started) * 1000)
        b50, p50 = median(bare), median(pipeline)
        print(
            f"{size:>9} {b50:>9.2f} {p50:>9.2f} {percentile(bare, 0.9):>9.2f} "
            f"{percentile(pipeline, 0.9):>9.2f} {p50 / b50:>8.2f}x"
        )

    _compare_with_previous(env, session, args.iterations)

    sent: list[str] = []
    original = redis.connection.Connection.send_packed_command
    original_publish = publisher.publish

    def counting(self, command, check_health=True):
        sent.append(phase[0])
        return original(self, command, check_health)

    def publish_counted(**kwargs):
        phase[0] = "publish"
        try:
            return original_publish(**kwargs)
        finally:
            phase[0] = "other"

    phase = ["other"]
    redis.connection.Connection.send_packed_command = counting  # type: ignore[method-assign]
    live_data_module.publisher.publish = publish_counted  # type: ignore[attr-defined]
    api.refresh_account(env["accounts"][500])
    redis.connection.Connection.send_packed_command = original  # type: ignore[method-assign]
    live_data_module.publisher.publish = original_publish  # type: ignore[attr-defined]
    publishing = sent.count("publish")
    print(
        f"Redis round trips in one account refresh: {len(sent)} "
        f"({len(sent) - publishing} before the upstream call: the rate-limit slot, and the login's "
        f"account list when this process has not memoized it; {publishing} to publish)"
    )
    print(f"Redis round trips per published snapshot (positions + balances): {publishing / 2:g}")
    sandbox.stop()


def _compare_with_previous(env: dict[str, Any], session: Any, iterations: int) -> None:
    """Schwab's document to the bytes stored in Redis, in this process: the previous implementation
    against today's, interleaved, on the very same bytes (the Redis write is not in either)."""
    from datetime import UTC, datetime

    from django.conf import settings

    from devtools import previous_pipeline
    from LiveData.schwab.connection import services
    from LiveData.schwab.live_data import account_document, snapshots, transforms
    from LiveData.shared import publisher

    moment = datetime.now(UTC)

    def today(data: bytes, account_id: str) -> None:
        account = transforms.parse_account(account_document.decode(data))
        for snapshot in snapshots.build(
            account_id=account_id, account=account, as_of=moment, published_at=moment
        ):
            publisher.encode(snapshot.envelope)
            publisher.encode(snapshot.diff_map)

    token = services.connection_access_token(connection=env["api"].connection)
    print(f"\ndecode + transform + encode, previous vs today, same bytes, {iterations * 5} runs each (ms)")
    print(f"{'positions':>9} {'bytes':>8} {'previous':>9} {'today':>9} {'speed-up':>9}")
    for size, account_id in sorted(env["accounts"].items()):
        url = f"{settings.SCHWAB_API_BASE_URL}/trader/v1/accounts/{account_id}"
        data = session.get(
            url, params={"fields": "positions"}, headers={"Authorization": f"Bearer {token}"}, timeout=10
        ).content
        previous, current = [], []
        for _ in range(iterations * 5):
            started = time.perf_counter()
            previous_pipeline.published(data, account_id=account_id, as_of=moment, published_at=moment)
            previous.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            today(data, account_id)
            current.append((time.perf_counter() - started) * 1000)
        old, new = median(previous), median(current)
        print(f"{size:>9} {len(data):>8} {old:>9.3f} {new:>9.3f} {old / new:>8.2f}x")


if __name__ == "__main__":
    main()
