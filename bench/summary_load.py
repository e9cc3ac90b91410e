"""The summary endpoint served from Redis under load (gunicorn, two workers) vs. bare Django JSON views
on the same server (anonymous, and behind the same session login check); req/s, p50 and p99, from wrk.

    REDIS_URL=redis://127.0.0.1:6379/14 .venv/bin/python bench/summary_load.py [--seconds 10]

Needs `wrk` (Debian: apt-get install wrk) and a real Redis.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
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
    parser.add_argument("--seconds", type=int, default=10)
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
        results = {name: run_wrk(url, cookie, args.seconds) for name, url in urls.items()}
        upstream = sandbox.state.calls["accounts.get"] - calls_before
    finally:
        gunicorn.terminate()
        gunicorn.wait(timeout=30)
        sandbox.stop()
    print(f"gunicorn --workers 2, wrk -t2 -c16 -d{args.seconds}s, same server (ms)")
    print(f"{'endpoint':<28} {'req/s':>9} {'p50':>8} {'p99':>8} {'non-2xx':>8}")
    for name, figures in results.items():
        print(
            f"{name:<28} {figures['rps']:>9.0f} {figures['p50']:>8.2f} {figures['p99']:>8.2f} "
            f"{figures['errors']:>8.0f}"
        )
    summary = results["/schwab/account/summary/"]["rps"]
    print(f"summary / bare view, logged in: {summary / results['bare view, logged in']['rps']:.0%}")
    print(f"summary / bare view, anonymous: {summary / results['bare Django JSON view']['rps']:.0%}")
    print(f"upstream Schwab calls during the summary load: {upstream}")


if __name__ == "__main__":
    main()
