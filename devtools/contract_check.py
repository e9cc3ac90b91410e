"""Check the running /schwab/ API against its OpenAPI document with schemathesis, as CI does.

    .venv/bin/python -m devtools.contract_check [--max-examples 25]

It starts the Schwab sandbox and two Thor servers on one SQLite database, as production serves Thor:
gunicorn (WSGI) and uvicorn (ASGI, for the order stream, whose streams end after a second here). It logs
a user in, connects Schwab through the real OAuth flow on each, then runs schemathesis on every
documented operation with that session, trading switched on (orders go to the sandbox): on gunicorn
everything but the order stream and the disconnect (so the connected paths stay connected), then the
disconnect; on uvicorn the order stream. Bounded by example counts, not time. Exits non-zero on any
failure.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import requests

ROOT = Path(__file__).resolve().parents[1]
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
        "unsupported_method",
        "ignored_auth",
        "error_code_is_documented",  # ours: devtools/contract_hooks.py
    ]
)


def _free_listener() -> socket.socket:
    return socket.create_server(("127.0.0.1", 0))


def _serve(
    command: list[str], listener: socket.socket, log: Path, **environment: str
) -> subprocess.Popen[bytes]:
    """Start a server on `listener` (bound already: requests queue until it accepts); "{fd}" in `command`
    is the socket's file descriptor."""
    output = log.open("wb")  # schemathesis sends bad requests on purpose: their traces go here
    server = subprocess.Popen(  # noqa: S603 - fixed arguments
        [part.replace("{fd}", str(listener.fileno())) for part in command],
        cwd=ROOT,
        env={**os.environ, **environment},
        pass_fds=[listener.fileno()],
        stdout=output,
        stderr=output,
    )
    listener.close()
    return server


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-examples", type=int, default=25)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="thor-contract-"))
    wsgi_listener, asgi_listener = _free_listener(), _free_listener()
    wsgi_url = f"http://127.0.0.1:{wsgi_listener.getsockname()[1]}"
    asgi_url = f"http://127.0.0.1:{asgi_listener.getsockname()[1]}"
    environment = {
        "DJANGO_SETTINGS_MODULE": "thor_project.settings",
        "DEBUG": "true",
        "DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}",
        "SCHWAB_CALLBACK_URL": f"{wsgi_url}/schwab/oauth/callback/",
        "SCHWAB_RATE_LIMIT_PER_CONNECTION_PER_MINUTE": "1000000",  # examples, not a load test
        "SCHWAB_ORDER_RATE_LIMIT_PER_ACCOUNT_PER_MINUTE": "1000000",
        "SCHWAB_TRADING_ENABLED": "true",  # the sandbox's orders: every order operation runs for real
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(environment)
    import django

    django.setup()
    from django.contrib.auth.models import Permission, User
    from django.core.management import call_command
    from django.test import Client

    from devtools.sandbox.server import SandboxServer
    from devtools.sandbox.state import SandboxConfig
    from devtools.testing import consent

    callbacks = (f"{wsgi_url}/schwab/oauth/callback/", f"{asgi_url}/schwab/oauth/callback/")
    sandbox = SandboxServer(SandboxConfig(callback_urls=callbacks)).start()
    os.environ["SCHWAB_API_BASE_URL"] = sandbox.url
    call_command("migrate", verbosity=0)
    user = User.objects.create_user("contract-check")
    user.user_permissions.add(Permission.objects.get(codename="trade", content_type__app_label="schwab"))
    client = Client()
    client.force_login(user)
    session_id = client.cookies["sessionid"].value
    csrf_token = "c" * 32

    servers = [
        _serve(
            [
                *(sys.executable, "-m", "gunicorn", "thor_project.wsgi:application", "--workers", "1"),
                *("--log-level", "warning", "--bind", "fd://{fd}"),
            ],
            wsgi_listener,
            workdir / "wsgi.log",
        ),
        _serve(
            [
                *(sys.executable, "-m", "uvicorn", "thor_project.asgi:application", "--log-level", "warning"),
                *("--lifespan", "off", "--timeout-graceful-shutdown", "1", "--fd", "{fd}"),
            ],
            asgi_listener,
            workdir / "asgi.log",
            SCHWAB_CALLBACK_URL=callbacks[1],
            THOR_SSE_MAX_SECONDS="1",
        ),
    ]
    outcomes: list[subprocess.CompletedProcess[bytes]] = []
    try:
        for url in (wsgi_url, asgi_url):  # each has its own in-process Redis stand-in: connect on both
            browser = requests.Session()
            browser.cookies.set("sessionid", session_id)
            start = browser.get(f"{url}/schwab/oauth/start/", allow_redirects=False, timeout=60)
            finish = urlsplit(consent(sandbox, start.headers["Location"]))
            connected = browser.get(f"{url}{finish.path}?{finish.query}", allow_redirects=False, timeout=30)
            if connected.status_code != 302:
                print(f"could not connect Schwab: {connected.status_code} {connected.text[:200]}")
                return 1
        headers = ["-H", f"Cookie: sessionid={session_id}; csrftoken={csrf_token}"]
        headers += ["-H", f"X-CSRFToken: {csrf_token}"]
        options = [
            "--checks", CHECKS, "--max-examples", str(args.max_examples),
            "--phases", "examples,coverage,fuzzing", "--workers", "1", "--seed", "1",
            "--generation-deterministic", "--generation-with-security-parameters", "false",
            "--no-color", *headers,
        ]  # fmt: skip
        wsgi = [sys.executable, "-m", "schemathesis.cli", "run", f"{wsgi_url}/schwab/openapi.json", *options]
        asgi = [sys.executable, "-m", "schemathesis.cli", "run", f"{asgi_url}/schwab/openapi.json", *options]
        runs = [
            [*wsgi, "--exclude-operation-id", "oauth_disconnect", "--exclude-operation-id", "orders_stream"],
            [*wsgi, "--include-operation-id", "oauth_disconnect"],
            [*asgi, "--include-operation-id", "orders_stream"],
        ]
        hooks = {**os.environ, "SCHEMATHESIS_HOOKS": "devtools.contract_hooks", "PYTHONPATH": str(ROOT)}
        outcomes = [subprocess.run(run, check=False, env=hooks) for run in runs]  # noqa: S603
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=30)
        sandbox.stop()
    failed = [outcome.returncode for outcome in outcomes if outcome.returncode != 0]
    print(
        "contract check:",
        "FAILED" if failed or not outcomes else "passed",
        f"({len(outcomes)} schemathesis runs)",
    )
    print(f"server logs: {workdir / 'wsgi.log'}, {workdir / 'asgi.log'}")
    return 1 if failed or not outcomes else 0


if __name__ == "__main__":
    sys.exit(main())
