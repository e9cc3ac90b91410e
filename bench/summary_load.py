"""The summary endpoint served from Redis under load (gunicorn, two workers) vs. bare Django JSON views
on the same server (anonymous, and behind the same session login check); req/s, p50 and p99, from wrk.

    REDIS_URL=redis://127.0.0.1:6379/14 .venv/bin/python bench/summary_load.py [--rounds 5] [--seconds 4]

The three endpoints take turns, `--rounds` times, `--seconds` each: the machine's speed drifts by a
third over minutes, so each ratio is taken within a round and the median of the rounds is printed.
Needs `wrk` (Debian: apt-get install wrk) and a real Redis.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time

from setup import ROOT, login_cookie, start  # type: ignore[import-not-found]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_serving(port: int, deadline: float) -> None:
    """Poll the port until gunicorn accepts (bounded; fails the benchmark when it never comes up)."""
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("gunicorn did not start")


def run_wrk(url: str, cookie: str, seconds: int) -> dict[str, float]:
    command = ["wrk", "-t2", "-c16", f"-d{seconds}s", "--latency", "-H", f"Cookie: {cookie}", url]
    result = subprocess.run(  # noqa: S603 - fixed arguments; wrk from PATH, checked in main()
        command,
        capture_output=True,
        text=True,
        check=True,
    )
    out = result.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    figures = {"rps": rps, "errors": float(non_2xx.group(1)) if non_2xx else 0.0}
    for name, label in (("p50", "50%"), ("p99", "99%")):
        value, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
        figures[name] = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=4)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    env = start()

    user, api, sandbox = env["user"], env["api"], env["sandbox"]
    account_id = env["accounts"][500]
    api.get_account_summary(account_id)  # publish once; the load is then served from Redis
    cookie = login_cookie(user)

    port = free_port()
    child_env = {**os.environ, "SCHWAB_API_BASE_URL": sandbox.url, "PYTHONPATH": str(ROOT)}
    gunicorn = subprocess.Popen(  # noqa: S603 - fixed arguments
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{port}",
            "--config",
            "python:bench.gunicorn_quiet",
            "bench.wsgi:application",
        ],
        cwd=ROOT,
        env=child_env,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_serving(port, time.monotonic() + 30)
        base = f"http://127.0.0.1:{port}"
        summary_url = f"{base}/schwab/account/summary/?account_hash={account_id}"
        urls = {
            "bare Django JSON view": f"{base}/bench/bare/",
            "bare view, logged in": f"{base}/bench/bare-authenticated/",
            "/schwab/account/summary/": summary_url,
        }
        for url in urls.values():
            run_wrk(url, cookie, 2)  # warm every worker
        calls_before = sandbox.state.calls["accounts.get"]
        rounds = [
            {name: run_wrk(url, cookie, args.seconds) for name, url in urls.items()}
            for _ in range(args.rounds)
        ]
        upstream = sandbox.state.calls["accounts.get"] - calls_before
    finally:
        gunicorn.terminate()
        gunicorn.wait(timeout=30)
        sandbox.stop()
    print(f"gunicorn --workers 2, wrk -t2 -c16, {args.rounds} rounds of {args.seconds} s each (ms)")
    print(f"{'endpoint (median of rounds)':<28} {'req/s':>9} {'p50':>8} {'p99':>8} {'non-2xx':>8}")
    for name in urls:
        runs = [figures[name] for figures in rounds]
        median = {key: statistics.median(run[key] for run in runs) for key in ("rps", "p50", "p99")}
        errors = sum(run["errors"] for run in runs)
        print(f"{name:<28} {median['rps']:>9.0f} {median['p50']:>8.2f} {median['p99']:>8.2f} {errors:>8.0f}")
    for yardstick in ("bare view, logged in", "bare Django JSON view"):
        ratios = [
            figures["/schwab/account/summary/"]["rps"] / figures[yardstick]["rps"] for figures in rounds
        ]
        each = " ".join(f"{ratio:.0%}" for ratio in ratios)
        print(f"summary / {yardstick}: {statistics.median(ratios):.0%} (rounds: {each})")
    print(f"upstream Schwab calls during the summary load: {upstream}")


if __name__ == "__main__":
    main()
