"""The whole pipeline (fetch, transform, publish) per account vs. a bare `requests` GET of the same URL,
for accounts of 1, 50 and 500 positions, and the Redis round trips per publish.

    REDIS_URL=redis://127.0.0.1:6379/14 .venv/bin/python bench/pipeline.py [--iterations 40]
"""

from __future__ import annotations

import argparse
import time

from setup import median, percentile, start  # type: ignore[import-not-found]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=40)
    args = parser.parse_args()
    env = start()
    import redis
    import requests
    from django.conf import settings

    from LiveData.schwab import services

    api, sandbox = env["api"], env["sandbox"]
    session = requests.Session()
    print(f"pipeline vs bare GET, {args.iterations} iterations each, interleaved (ms)")
    print(
        f"{'positions':>9} {'bare p50':>9} {'pipe p50':>9} {'bare p90':>9} {'pipe p90':>9} {'ratio p50':>9}"
    )
    for size, account_id in sorted(env["accounts"].items()):
        url = f"{settings.SCHWAB_API_BASE_URL}/trader/v1/accounts/{account_id}"
        token = services.connection_access_token(connection=api.connection)
        headers = {"Authorization": f"Bearer {token}"}
        bare, pipeline = [], []
        for _ in range(3):  # warm up both paths
            _ = session.get(url, params={"fields": "positions"}, headers=headers, timeout=10).content
            api.refresh_account(account_id)
        for _ in range(args.iterations):
            started = time.perf_counter()
            _ = session.get(url, params={"fields": "positions"}, headers=headers, timeout=10).content
            bare.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            api.refresh_account(account_id)
            pipeline.append((time.perf_counter() - started) * 1000)
        b50, p50 = median(bare), median(pipeline)
        print(
            f"{size:>9} {b50:>9.2f} {p50:>9.2f} {percentile(bare, 0.9):>9.2f} "
            f"{percentile(pipeline, 0.9):>9.2f} {p50 / b50:>8.2f}x"
        )

    sent = []
    original = redis.connection.Connection.send_packed_command

    def counting(self, command, check_health=True):
        sent.append(command)
        return original(self, command, check_health)

    redis.connection.Connection.send_packed_command = counting  # type: ignore[method-assign]
    api.refresh_account(env["accounts"][500])
    redis.connection.Connection.send_packed_command = original  # type: ignore[method-assign]
    print(f"Redis round trips per account refresh (2 snapshots: positions + balances): {len(sent)}")
    print(f"Redis round trips per published snapshot: {len(sent) / 2:g}")
    sandbox.stop()


if __name__ == "__main__":
    main()
