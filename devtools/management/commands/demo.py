"""Run the whole product locally: the Schwab sandbox (and its streamer), a demo login, the stream worker, and
Thor under uvicorn (ASGI: the order stream stays open without holding a thread)."""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
import threading
from typing import Any
from urllib.parse import parse_qs, urlsplit

import uvicorn
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.asgi import get_asgi_application
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection as db_connection

from ActAndPos.listener import Listener
from devtools.sandbox.server import SandboxServer
from devtools.sandbox.state import SandboxConfig
from devtools.testing import consent
from LiveData.schwab.api import SchwabTraderAPI
from LiveData.schwab.connection import oauth
from LiveData.schwab.live_data import refresher
from LiveData.schwab.models import BrokerConnection
from LiveData.schwab.streaming.stream_worker import StreamWorker
from LiveData.shared import redis_client

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Start the Schwab sandbox and the dev server together (DEBUG only). See README."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8000, help="dev server port")
        parser.add_argument("--username", default="demo")
        parser.add_argument(
            "--refresh-every", type=float, default=15.0, help="background refresh period, seconds (0: off)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("The demo runs only with DEBUG on: it starts development tooling.")
        sandbox_url = urlsplit(settings.SCHWAB_API_BASE_URL)
        if sandbox_url.hostname not in ("127.0.0.1", "localhost") or sandbox_url.port is None:
            raise CommandError("Set SCHWAB_API_BASE_URL to the local sandbox, e.g. http://127.0.0.1:8182")
        # Before anything changes (the login printed by a demo already running stays valid).
        for what, host, port in (
            ("Thor", "127.0.0.1", options["port"]),
            ("the Schwab sandbox", sandbox_url.hostname, sandbox_url.port),
        ):
            if not _free(host, port):
                raise CommandError(
                    f"port {port} ({what}) is in use: is a demo already running? Open "
                    f"http://127.0.0.1:{options['port']}/ or stop it first. Nothing was changed."
                )

        call_command("migrate", interactive=False, verbosity=0)
        password = secrets.token_urlsafe(9)
        user, _ = get_user_model().objects.get_or_create(username=options["username"])
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()

        sandbox = SandboxServer(
            SandboxConfig(
                app_key=settings.SCHWAB_APP_KEY,
                app_secret=settings.SCHWAB_APP_SECRET,
                callback_urls=(settings.SCHWAB_CALLBACK_URL, settings.SCHWAB_TEST_CALLBACK_URL),
            ),
            host=sandbox_url.hostname,
            port=sandbox_url.port,
        ).start()
        reconnected = reconnect(user, sandbox)
        stop = threading.Event()
        background = [
            threading.Thread(target=Listener(stop=stop).run, name="actandpos-listener", daemon=True),
            threading.Thread(target=self._stream, args=(stop,), name="stream-worker", daemon=True),
        ]
        if options["refresh_every"] > 0:
            background.append(
                threading.Thread(
                    target=self._refresh_loop,
                    args=(stop, options["refresh_every"]),
                    name="refresh",
                    daemon=True,
                )
            )
        for thread in background:
            thread.start()
        redis_note = (
            "in-process stand-in (no REDIS_URL)" if redis_client.uses_stand_in() else settings.REDIS_URL
        )
        self.stdout.write(
            self.style.SUCCESS("\nThor is running on embedded defaults.\n")
            + f"  Open:            http://127.0.0.1:{options['port']}/\n"
            + f"  Thor login:      {user.username} / {password}\n"
            + f"  Schwab sandbox:  {sandbox.url}  (logins: trader1 / trader1-pass, trader2 / trader2-pass)\n"
            + f"  Redis:           {redis_note}\n"
            + (
                "  Schwab:          reconnected to the sandbox as trader1 (its logins end with it)\n"
                if reconnected
                else ""
            )
            + "  Background:      live-data refresh, the order stream worker and the ActAndPos listener\n"
            + "                   run in this process; the server is uvicorn (ASGI)\n"
            + "  Stop with Ctrl-C.\n"
        )
        application = ASGIStaticFilesHandler(get_asgi_application())  # the admin's CSS, as runserver would
        server = uvicorn.Server(
            uvicorn.Config(
                application, host="127.0.0.1", port=options["port"], log_level="warning", lifespan="off"
            )
        )
        try:
            server.run()
        finally:
            stop.set()
            sandbox.stop()

    def _stream(self, stop: threading.Event) -> None:
        """The stream worker on its own event loop, as `manage.py schwab_stream` runs it in production."""

        async def run() -> None:
            stopping = asyncio.Event()
            loop = asyncio.get_running_loop()

            def relay() -> None:  # the demo's stop (a threading.Event) to the worker's loop
                stop.wait()
                loop.call_soon_threadsafe(stopping.set)

            threading.Thread(target=relay, daemon=True).start()
            await StreamWorker(worker_id="demo").run(stopping)

        asyncio.run(run())

    def _refresh_loop(self, stop: threading.Event, every: float) -> None:
        """Keep Redis live without a browser, as Celery beat would in production."""
        while not stop.wait(every):
            try:
                refresher.refresh_all(concurrency=4)
            except Exception:  # the demo's background loop must outlive any one failed round
                logger.exception("demo refresh round failed")
            finally:
                db_connection.close()


def _free(host: str, port: int) -> bool:
    """Whether a server could listen on host:port now (connections of a demo just stopped, lingering in
    TIME_WAIT, do not count: the servers bind with SO_REUSEADDR too; a listening socket does)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def reconnect(user: Any, sandbox: SandboxServer, username: str = "trader1") -> bool:
    """A demo user connected before this start gets a fresh login at the new sandbox, whose tokens are new
    (the old sandbox's died with it): through the product's own code exchange, as the consent page would.
    False when the user had no connection to renew (or disconnected on purpose)."""
    connection = BrokerConnection.objects.filter(user=user).first()
    if connection is None or connection.status == BrokerConnection.Status.DISCONNECTED:
        return False
    redirect_uri = settings.SCHWAB_CALLBACK_URL
    callback = consent(
        sandbox, oauth.authorization_url(state="demo", redirect_uri=redirect_uri), username=username
    )
    code = parse_qs(urlsplit(callback).query)["code"][0]
    SchwabTraderAPI(user).exchange_code_for_tokens(code, redirect_uri=redirect_uri)
    return True
