"""Shared set-up for the benchmarks: Django on a scratch SQLite file and real Redis, the sandbox on
loopback, and one Thor user connected to the sandbox's `bulk` login with accounts of 1, 50 and 500 positions.

Benchmarks print figures; they are not tests. They need a real Redis (REDIS_URL, default db 14).
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_DB = Path(tempfile.gettempdir()) / "thor-bench.sqlite3"
CALLBACK = "https://127.0.0.1:8000/schwab/oauth/callback/"
SIZES = (1, 50, 500)


def environment() -> dict[str, str]:
    """Production-like settings (DEBUG off) for the benchmark processes (values already set win)."""
    from cryptography.fernet import Fernet

    defaults = {
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": f"sqlite:///{BENCH_DB}",
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14"),
        "SCHWAB_APP_KEY": "bench-app-key",
        "SCHWAB_APP_SECRET": "bench-app-secret",
        "SCHWAB_CALLBACK_URL": CALLBACK,
        "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "SECURE_SSL_REDIRECT": "false",
        "LOG_LEVEL": "WARNING",
        "SCHWAB_SUMMARY_MAX_AGE_SECONDS": "3600",
    }
    return {**defaults, **{name: os.environ[name] for name in defaults if name in os.environ}}


class SandboxProcess:
    """The sandbox served from a child process, as Schwab is served from elsewhere: its threads never take
    this process's GIL (nor its garbage collector), so they are not charged to what runs here after a
    response. `url`, `accounts` (positions -> account hash) and `stop()`."""

    def __init__(self, config: Any) -> None:
        import multiprocessing

        context = multiprocessing.get_context("fork")
        receiving, sending = context.Pipe(duplex=False)
        self._process = context.Process(target=_serve_sandbox, args=(config, sending), daemon=True)
        self._process.start()
        self.url, self.accounts = receiving.recv()

    def stop(self) -> None:
        self._process.terminate()
        self._process.join(timeout=10)


def _serve_sandbox(config: Any, sending: Any) -> None:
    from devtools.sandbox.server import SandboxServer

    sandbox = SandboxServer(config).start()
    sending.send((sandbox.url, _sized_accounts(sandbox)))
    # The sandbox's own objects (its book, Django) out of reach of its garbage collector: otherwise a full
    # collection lands on every few 500-position renders, and the GET's time swings between two values.
    gc.freeze()
    sandbox.state.stopping.wait()


def _sized_accounts(sandbox: Any) -> dict[int, str]:
    """Give the `bulk` login accounts of 1 and 50 positions beside its 500-position one; their hashes."""
    from devtools.sandbox.book import Account, account_hash

    bulk = sandbox.state.users["bulk"]
    big = bulk.accounts[0]
    for size in (1, 50):  # two more accounts, sliced from the 500-position one
        number = f"49{size:06d}"
        account = Account(number, account_hash(1, number), "MARGIN", big.cash, list(big.holdings[:size]))
        bulk.accounts.append(account)
        sandbox.state.accounts_by_hash[account.hash_value] = (bulk, account)
    return {len(a.holdings): a.hash_value for a in bulk.accounts if len(a.holdings) in SIZES}


def start(*, sandbox_process: bool = False) -> dict[str, Any]:
    """Set Django up, start the sandbox (in this process, or in its own), connect a user; return what the
    benchmarks need."""
    os.environ.update(environment())
    BENCH_DB.unlink(missing_ok=True)
    import django

    django.setup()
    import requests
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.core.management import call_command

    from devtools.sandbox.server import SandboxServer
    from devtools.sandbox.state import SandboxConfig
    from LiveData.schwab.api import SchwabTraderAPI
    from LiveData.schwab.conf import schwab_settings
    from LiveData.shared.redis_client import get_redis

    config = SandboxConfig(
        app_key=settings.SCHWAB_APP_KEY, app_secret=settings.SCHWAB_APP_SECRET, callback_urls=(CALLBACK,)
    )
    sandbox: Any
    if sandbox_process:  # forked before this process opens any connection the child would inherit
        sandbox = SandboxProcess(config)
        by_size = sandbox.accounts
    else:
        sandbox = SandboxServer(config).start()
        by_size = _sized_accounts(sandbox)
    call_command("migrate", verbosity=0)
    get_redis().flushdb()
    settings.SCHWAB_API_BASE_URL = sandbox.url
    schwab_settings.cache_clear()  # changed by hand, so no setting_changed signal told it

    form = {
        "client_id": settings.SCHWAB_APP_KEY,
        "redirect_uri": CALLBACK,
        "username": "bulk",
        "password": "bulk-pass",
        "action": "approve",
    }
    location = requests.post(f"{sandbox.url}/v1/oauth/authorize", data=form, allow_redirects=False, timeout=5)
    code = parse_qs(urlsplit(location.headers["Location"]).query)["code"][0]
    user = User.objects.create_user("bench", password=secrets.token_urlsafe(12))
    api = SchwabTraderAPI(user)
    api.exchange_code_for_tokens(code, redirect_uri=CALLBACK)
    return {"sandbox": sandbox, "user": user, "api": api, "accounts": by_size}


@contextmanager
def streaming_thor(sandbox_url: str, *, worker_id: str) -> Iterator[tuple[int, int]]:
    """Thor as production streams it: uvicorn on a free port and `manage.py schwab_stream`, both on the
    benchmark's settings and this sandbox; yields (port, uvicorn's pid) once the worker streams the
    `bulk` login; stops both after."""
    import socket
    import subprocess
    import time

    import requests

    listener = socket.create_server(("127.0.0.1", 0), backlog=4096)
    port = listener.getsockname()[1]
    env = {
        **os.environ,
        "SCHWAB_API_BASE_URL": sandbox_url,
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "bench.settings",
    }
    uvicorn = [
        sys.executable,
        "-m",
        "uvicorn",
        "thor_project.asgi:application",
        "--fd",
        str(listener.fileno()),
    ]
    quiet = ["--log-level", "warning", "--lifespan", "off", "--timeout-graceful-shutdown", "1"]
    server = subprocess.Popen([*uvicorn, *quiet], cwd=ROOT, env=env, pass_fds=[listener.fileno()])  # noqa: S603
    listener.close()
    worker = subprocess.Popen(  # noqa: S603 - fixed arguments
        [sys.executable, "manage.py", "schwab_stream", "--worker-id", worker_id], cwd=ROOT, env=env
    )
    try:
        deadline = time.monotonic() + 30
        while (
            not requests.get(f"{sandbox_url}/sandbox/stats", timeout=10)
            .json()["stream"]["sessions"]
            .get("bulk")
        ):
            if time.monotonic() > deadline:  # the worker logs in and subscribes
                raise SystemExit("the stream worker did not connect")
            time.sleep(0.05)
        yield port, server.pid
    finally:
        for process in (worker, server):
            process.terminate()
            process.wait(timeout=30)


def login_cookie(user: Any) -> str:
    """A Cookie header value carrying a Thor login for `user`, stored as the configured session engine
    stores it, through the first authentication backend (as a login would)."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    session = import_module(settings.SESSION_ENGINE).SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


class LiveClient:
    """A bare SSE client of the live channel on an asyncio socket: when each order event and each account
    state arrives (the arrival time is taken when the bytes come in, before any parsing)."""

    def __init__(self, port: int, cookie: str, *, parse_positions: bool = False) -> None:
        self.port, self.cookie, self.parse_positions = port, cookie, parse_positions
        self.ready = asyncio.Event()
        # ("order", order id, status), ("published", account, published_at), ("quantity", symbol, quantity)
        self.arrivals: dict[Any, float] = {}
        self.waiters: dict[Any, asyncio.Event] = {}
        self.quantities: dict[str, str] = {}  # symbol -> long quantity, from the last positions event
        self.task: asyncio.Task[None] | None = None

    async def open(self) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        writer.write(
            f"GET /schwab/orders/stream/ HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {self.cookie}\r\n"
            "Accept: text/event-stream\r\n\r\n".encode()
        )
        await writer.drain()
        self.writer = writer
        self.task = asyncio.create_task(self._read(reader))

    def _arrived(self, key: Any, moment: float) -> None:
        self.arrivals.setdefault(key, moment)
        if key in self.waiters:
            self.waiters[key].set()

    async def _read(self, reader: asyncio.StreamReader) -> None:
        buffer = b""
        while chunk := await reader.read(262144):
            moment = time.perf_counter()
            buffer += chunk
            while b"\n\n" in buffer:
                block, buffer = buffer.split(b"\n\n", 1)
                if b"event: ready" in block:
                    self.ready.set()
                data = block.rpartition(b"data: ")[2]
                if b"event: order" in block:
                    event = json.loads(data.split(b"\r\n")[0])
                    self._arrived(("order", event["order_id"], event["status"]), moment)
                elif b"event: positions" in block:
                    head = data[:400]  # account_id and published_at come first in the envelope
                    account = head.split(b'"account_id":"', 1)[1].split(b'"', 1)[0].decode()
                    published = head.split(b'"published_at":"', 1)[1].split(b'"', 1)[0].decode()
                    self._arrived(("published", account, published), moment)
                    if self.parse_positions:
                        positions = json.loads(data)["positions"]
                        self.quantities = {p["symbol"]: p["long_quantity"] for p in positions}
                        for symbol, quantity in self.quantities.items():
                            self._arrived(("quantity", symbol, quantity), moment)

    async def arrival(self, key: Any, timeout: float = 30) -> float:
        if key not in self.arrivals:
            waiter = self.waiters.setdefault(key, asyncio.Event())
            await asyncio.wait_for(waiter.wait(), timeout)
        return self.arrivals[key]

    def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
        self.writer.close()


def process_stats(pid: int) -> tuple[float, float]:
    """(resident memory in MiB, CPU seconds used so far) of a process, from /proc."""
    rss_kib = next(
        int(line.split()[1])
        for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        if line.startswith("VmRSS")
    )
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return rss_kib / 1024, (int(fields[11]) + int(fields[12])) / ticks


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def median(samples: list[float]) -> float:
    return statistics.median(samples)
