"""Check the running /schwab/ API against its OpenAPI document with schemathesis, as CI does.

    .venv/bin/python -m devtools.contract_check [--max-examples 25]

It starts the Schwab sandbox, a Thor server (gunicorn, its own SQLite database), logs a user in and
connects Schwab through the real OAuth flow, then runs schemathesis on every documented operation with
that session, trading switched on (orders go to the sandbox): first everything but the disconnect (so
the connected paths stay connected), then the disconnect. Bounded by example counts, not time. Exits
non-zero on any failure.
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
    ]
)


def _free_listener() -> socket.socket:
    return socket.create_server(("127.0.0.1", 0))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-examples", type=int, default=25)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="thor-contract-"))
    listener = _free_listener()
    thor_url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    callback = f"{thor_url}/schwab/oauth/callback/"
    environment = {
        "DJANGO_SETTINGS_MODULE": "thor_project.settings",
        "DEBUG": "true",
        "DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}",
        "SCHWAB_CALLBACK_URL": callback,
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

    sandbox = SandboxServer(SandboxConfig(callback_urls=(callback,))).start()
    os.environ["SCHWAB_API_BASE_URL"] = sandbox.url
    call_command("migrate", verbosity=0)
    user = User.objects.create_user("contract-check")
    user.user_permissions.add(Permission.objects.get(codename="trade", content_type__app_label="schwab"))
    client = Client()
    client.force_login(user)
    session_id = client.cookies["sessionid"].value
    csrf_token = "c" * 32

    gunicorn = [sys.executable, "-m", "gunicorn", "thor_project.wsgi:application", "--workers", "1"]
    server_log = (workdir / "server.log").open("wb")  # schemathesis sends bad requests on purpose
    server = subprocess.Popen(  # noqa: S603 - fixed arguments
        [*gunicorn, "--bind", f"fd://{listener.fileno()}", "--log-level", "warning"],
        cwd=ROOT,
        env={**os.environ},
        pass_fds=[listener.fileno()],
        stdout=server_log,
        stderr=server_log,
    )
    listener.close()
    try:
        browser = requests.Session()
        browser.cookies.set("sessionid", session_id)
        start = browser.get(f"{thor_url}/schwab/oauth/start/", allow_redirects=False, timeout=60)
        finish = urlsplit(consent(sandbox, start.headers["Location"]))
        connected = browser.get(f"{thor_url}{finish.path}?{finish.query}", allow_redirects=False, timeout=30)
        if connected.status_code != 302:
            print(f"could not connect Schwab: {connected.status_code} {connected.text[:200]}")
            return 1
        headers = ["-H", f"Cookie: sessionid={session_id}; csrftoken={csrf_token}"]
        headers += ["-H", f"X-CSRFToken: {csrf_token}"]
        common = [
            sys.executable, "-m", "schemathesis.cli", "run", f"{thor_url}/schwab/openapi.json",
            "--checks", CHECKS, "--max-examples", str(args.max_examples),
            "--phases", "examples,coverage,fuzzing", "--workers", "1", "--seed", "1",
            "--generation-deterministic", "--generation-with-security-parameters", "false",
            "--no-color", *headers,
        ]  # fmt: skip
        outcomes = [
            subprocess.run([*common, "--exclude-operation-id", "oauth_disconnect"], check=False),  # noqa: S603
            subprocess.run([*common, "--include-operation-id", "oauth_disconnect"], check=False),  # noqa: S603
        ]
    finally:
        server.terminate()
        server.wait(timeout=30)
        sandbox.stop()
    failed = [outcome.returncode for outcome in outcomes if outcome.returncode != 0]
    print("contract check:", "FAILED" if failed else "passed", f"({len(outcomes)} schemathesis runs)")
    print(f"server log: {workdir / 'server.log'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
