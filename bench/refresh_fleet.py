"""Background refresh of a fleet: 2,000 accounts (200 connections x 10) against the sandbox with 100 ms of
injected latency, wall time beside the floor (every upstream call, the 200 listings included, x latency /
concurrency) and the peak memory of this, the refreshing process; then again with a global cap low enough
to bind, printing the highest request rates the sandbox saw beside the configured limits.

    REDIS_URL=redis://127.0.0.1:6379/14 .venv/bin/python bench/refresh_fleet.py [--concurrency 20]

The sandbox runs in its own process (as Schwab would), so its work does not share this process's GIL.
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import subprocess
import sys
import time
from urllib.parse import parse_qs, urlsplit

from setup import BENCH_DB, CALLBACK, ROOT, environment  # type: ignore[import-not-found]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--accounts", type=int, default=10, help="accounts per connection")
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--global-cap", type=int, default=40, help="requests/second for the second run")
    args = parser.parse_args()

    os.environ.update(environment())
    BENCH_DB.unlink(missing_ok=True)
    port = free_port()
    command = [sys.executable, "manage.py", "schwab_sandbox", "--port", str(port), "--callback", CALLBACK]
    command += ["--fleet-users", str(args.connections), "--fleet-accounts", str(args.accounts)]
    # The sandbox is development tooling (installed with DEBUG on); Thor itself runs production-like.
    tooling = {**os.environ, "DEBUG": "true", "DJANGO_SETTINGS_MODULE": "thor_project.settings"}
    sandbox = subprocess.Popen(  # noqa: S603 - fixed arguments
        command, cwd=ROOT, env=tooling, stdout=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    os.environ["SCHWAB_API_BASE_URL"] = url
    import django

    django.setup()
    import requests
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.core.cache import cache
    from django.core.management import call_command

    from LiveData.schwab.api import SchwabTraderAPI
    from LiveData.schwab.conf import schwab_settings
    from LiveData.schwab.connection import authorization
    from LiveData.schwab.live_data import refresher
    from LiveData.shared.redis_client import get_redis

    try:
        for _ in range(100):  # wait (bounded) for the sandbox process to listen
            try:
                requests.get(f"{url}/sandbox/stats", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        call_command("migrate", verbosity=0)
        get_redis().flushdb()
        session = requests.Session()
        for index in range(1, args.connections + 1):
            form = {
                "client_id": settings.SCHWAB_APP_KEY,
                "redirect_uri": CALLBACK,
                "username": f"fleet{index:04d}",
                "password": "fleet-pass",
                "action": "approve",
            }
            answer = session.post(f"{url}/v1/oauth/authorize", data=form, allow_redirects=False, timeout=10)
            code = parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]
            user = User.objects.create_user(f"fleet{index:04d}")
            SchwabTraderAPI(user).exchange_code_for_tokens(code, redirect_uri=CALLBACK)
        session.post(f"{url}/sandbox/config", json={"latency_ms": args.latency_ms}, timeout=10)

        accounts = args.connections * args.accounts
        calls = accounts + args.connections  # a listing per connection, then a GET per account
        floor = calls * args.latency_ms / 1000 / args.concurrency
        print(
            f"{accounts} accounts on {args.connections} connections, {args.latency_ms} ms latency, "
            f"concurrency {args.concurrency}; floor = {calls} upstream calls x latency / concurrency "
            f"= {floor:.2f} s"
        )
        rss_before = _peak_rss_mib()
        for label, cap in (("no global cap", 0), (f"global cap {args.global_cap}/s", args.global_cap)):
            settings.SCHWAB_RATE_LIMIT_GLOBAL_PER_SECOND = cap
            schwab_settings.cache_clear()  # changed by hand: no setting_changed signal
            cache.clear()  # every run lists each connection's accounts again, as a real round does
            authorization.forget_here()
            for key in get_redis().scan_iter("schwab:rate:*"):
                get_redis().delete(key)
            session.post(f"{url}/sandbox/stats/reset", timeout=10)
            started = time.monotonic()
            outcomes = refresher.refresh_all(concurrency=args.concurrency)
            wall = time.monotonic() - started
            stats = session.get(f"{url}/sandbox/stats", timeout=10).json()
            rates = stats["rates"]
            print("  calls:", {k: v for k, v in stats["calls"].items() if not k.startswith("sandbox")})
            ok = sum(outcome.ok for outcome in outcomes)
            print(
                f"\n[{label}] refreshed {ok}/{len(outcomes)} accounts in {wall:.2f} s "
                f"= {wall / floor:.2f}x the floor; upstream calls {rates['requests']}"
            )
            print(
                f"  peak memory of this process: {_peak_rss_mib():.0f} MiB "
                f"(before the rounds: {rss_before:.0f} MiB)"
            )
            print(
                f"  highest rate seen by the sandbox: {rates['max_total_per_second']} req/s in total "
                f"(limit: {cap or 'none'}), {rates['max_per_user_per_minute']} req/min per connection "
                f"(limit: {settings.SCHWAB_RATE_LIMIT_PER_CONNECTION_PER_MINUTE})"
            )
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=30)


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


if __name__ == "__main__":
    main()
