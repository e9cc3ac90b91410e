"""What a trader sees while Thor's own services are down, and how long Thor takes to come back: a gunicorn
server (2 workers) on a private PostgreSQL and a private Redis (devtools/private_services.py, free ports,
removed afterwards), connected to the sandbox, polled on `/schwab/account/summary/` while PostgreSQL is
killed, Redis is killed, and Redis hangs (SIGSTOP); then each is brought back.

    .venv/bin/python bench/outages.py [--requests 20]

Needs PostgreSQL's server programs and redis-server installed (not running: it starts its own).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devtools.private_services import free_port, private_postgres, private_redis  # noqa: E402

CALLBACK = "https://127.0.0.1:8000/schwab/oauth/callback/"


def _ask(url: str, cookie: str) -> tuple[str, float]:
    started = time.perf_counter()
    answer = requests.get(url, cookies={"sessionid": cookie}, timeout=60)
    elapsed = (time.perf_counter() - started) * 1000
    code = "ok" if answer.status_code == 200 else f"{answer.status_code} {answer.json().get('error')}"
    return code, elapsed


def _poll(url: str, cookie: str, count: int) -> str:
    seen = [_ask(url, cookie) for _ in range(count)]
    codes = Counter(code for code, _ in seen)
    times = [ms for _, ms in seen]
    answers = ", ".join(f"{n} x {code}" for code, n in codes.items())
    return (
        f"{answers}; first {times[0]:.0f} ms, then p50 {statistics.median(times[1:]):.1f} ms, "
        f"max {max(times[1:]):.0f} ms"
    )


def _back_after(url: str, cookie: str) -> str:
    """From now, how long until the summary answers 200 again (polled every 50 ms, at most 120 s)."""
    started = time.perf_counter()
    while time.perf_counter() - started < 120:
        if _ask(url, cookie)[0] == "ok":
            return f"{time.perf_counter() - started:.2f} s"
        time.sleep(0.05)
    return "not within 120 s"


def _serving(port: int) -> None:
    for _ in range(600):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("gunicorn did not start")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    with private_postgres() as postgres, private_redis() as redis_server:
        environment = {
            "DEBUG": "true",
            "DJANGO_SETTINGS_MODULE": "thor_project.settings",
            "DATABASE_URL": postgres.url,
            "REDIS_URL": redis_server.url,
            "SCHWAB_CALLBACK_URL": CALLBACK,
            "SCHWAB_SUMMARY_MAX_AGE_SECONDS": "3600",
            "LOG_LEVEL": "ERROR",
        }
        os.environ.update(environment)
        manage = [sys.executable, "manage.py"]
        subprocess.run([*manage, "migrate", "--noinput"], cwd=ROOT, check=True, capture_output=True)  # noqa: S603
        import django

        django.setup()
        from django.contrib.auth.models import User
        from django.test import Client

        from devtools.sandbox.server import SandboxServer
        from devtools.sandbox.state import SandboxConfig
        from devtools.testing import consent, local

        sandbox = SandboxServer(SandboxConfig(callback_urls=(CALLBACK,))).start()
        os.environ["SCHWAB_API_BASE_URL"] = sandbox.url
        port = free_port()
        command = [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}"]
        command += ["--config", "python:bench.gunicorn_quiet", "thor_project.wsgi:application"]
        server = subprocess.Popen(command, cwd=ROOT, env=dict(os.environ), stderr=subprocess.DEVNULL)  # noqa: S603
        try:
            _serving(port)
            base = f"http://127.0.0.1:{port}"
            client = Client()
            client.force_login(User.objects.create_user("bench"))
            cookie = client.cookies["sessionid"].value
            start = requests.get(
                f"{base}/schwab/oauth/start/",
                cookies={"sessionid": cookie},
                allow_redirects=False,
                timeout=30,
            )
            callback = consent(sandbox, start.headers["Location"], username="trader1")
            requests.get(
                f"{base}{local(callback)}", cookies={"sessionid": cookie}, allow_redirects=False, timeout=30
            )
            account = sandbox.state.users["trader1"].accounts[0].hash_value
            url = f"{base}/schwab/account/summary/?account_hash={account}"
            rows: list[tuple[str, Any]] = [("all up", _poll(url, cookie, args.requests))]
            postgres.kill()
            rows.append(("PostgreSQL killed", _poll(url, cookie, args.requests)))
            postgres.start()
            rows.append(("PostgreSQL started again: summary 200 after", _back_after(url, cookie)))
            redis_server.kill()
            rows.append(("Redis killed", _poll(url, cookie, args.requests)))
            redis_server.start()
            rows.append(("Redis started again (empty): summary 200 after", _back_after(url, cookie)))
            redis_server.pause()
            rows.append(("Redis hung (SIGSTOP), REDIS_SOCKET_TIMEOUT=2", _poll(url, cookie, args.requests)))
            redis_server.resume()
            rows.append(("Redis answering again: summary 200 after", _back_after(url, cookie)))
        finally:
            server.terminate()
            server.wait(timeout=30)
            sandbox.stop()
    print(f"gunicorn --workers 2; /schwab/account/summary/ polled {args.requests} times per state")
    for what, figure in rows:
        print(f"{what:<50} {figure}")


if __name__ == "__main__":
    main()
