"""Real Thor server processes for tests whose behaviour spans processes (caches, locks, sessions).

Each server is a gunicorn process on the production settings module, sharing the test's PostgreSQL
database and Redis. Its socket is bound and listening before gunicorn starts (gunicorn takes it over as
`fd://N`), so requests queue in the kernel until a worker accepts them: nothing polls or sleeps.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from django.test import Client

ROOT = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class ThorServer:
    url: str
    log: Path
    pid: int = 0


def database_url(settings: Any) -> str:
    """The URL of the test database pytest-django created, for a server process to use."""
    database = settings.DATABASES["default"]
    return f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"


@contextmanager
def thor_server(environment: dict[str, str], *, log: Path, workers: int = 1) -> Iterator[ThorServer]:
    """Run gunicorn on thor_project.wsgi with `environment` on top of this process's, until the block ends."""
    listener = socket.create_server(("127.0.0.1", 0))
    host, port = listener.getsockname()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "thor_project.settings", **environment}
    command = [sys.executable, "-m", "gunicorn", "thor_project.wsgi:application"]
    command += ["--bind", f"fd://{listener.fileno()}", "--workers", str(workers), "--log-level", "warning"]
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - fixed arguments
            command,
            cwd=ROOT,
            env=env,
            pass_fds=[listener.fileno()],
            stdout=output,
            stderr=output,
            start_new_session=True,  # its own process group: a test can kill master and workers at once
        )
    listener.close()  # gunicorn holds its own copy
    try:
        yield ThorServer(url=f"http://{host}:{port}", log=log, pid=process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)


def logged_in_session(user: Any) -> requests.Session:
    """A requests session carrying a Thor login for `user` (the session row is in the shared database),
    made through Django's ModelBackend, as the servers' own logins are."""
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    session = requests.Session()
    session.cookies.set("sessionid", client.cookies["sessionid"].value)
    return session


def connect(server: ThorServer, session: requests.Session, sandbox: Any, username: str = "trader1") -> None:
    """Connect Schwab through `server` as `session`'s user: start, the sandbox's consent page, callback."""
    from devtools.testing import consent, local

    start = session.get(f"{server.url}/schwab/oauth/start/", allow_redirects=False, timeout=30)
    assert start.status_code == 302, start.text
    callback = consent(sandbox, start.headers["Location"], username=username)
    finish = session.get(f"{server.url}{local(callback)}", allow_redirects=False, timeout=30)
    assert finish.status_code == 302, finish.text


def stream_worker(environment: dict[str, str], *, log: Path, worker_id: str) -> subprocess.Popen[bytes]:
    """Start `manage.py schwab_stream` with `environment` on top of this process's; the caller ends it."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "thor_project.settings", **environment}
    command = [sys.executable, "manage.py", "schwab_stream", "--worker-id", worker_id, "--threads", "4"]
    with log.open("wb") as output:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=output)  # noqa: S603


@contextmanager
def asgi_server(environment: dict[str, str], *, log: Path) -> Iterator[ThorServer]:
    """Run uvicorn on thor_project.asgi, as production serves the order stream (its own Schwab callback)."""
    listener = socket.create_server(("127.0.0.1", 0))
    host, port = listener.getsockname()
    url = f"http://{host}:{port}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "thor_project.settings",
        "SCHWAB_CALLBACK_URL": f"{url}/schwab/oauth/callback/",
        **environment,
    }
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "thor_project.asgi:application",
        "--fd",
        str(listener.fileno()),
    ]
    # Open event streams end a second after SIGTERM; browsers reconnect (with Last-Event-ID) elsewhere.
    command += ["--log-level", "warning", "--lifespan", "off", "--timeout-graceful-shutdown", "1"]
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - fixed arguments
            command, cwd=ROOT, env=env, pass_fds=[listener.fileno()], stdout=output, stderr=output
        )
    listener.close()
    try:
        yield ThorServer(url=url, log=log, pid=process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)
