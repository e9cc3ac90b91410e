"""Run the local Schwab sandbox (development tooling; never part of the production site)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from devtools.sandbox.server import SandboxServer
from devtools.sandbox.state import SandboxConfig


class Command(BaseCommand):
    help = "Run a local stand-in for Schwab's OAuth and Trader API (see README: The Schwab sandbox)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8182)
        parser.add_argument(
            "--streamer-port", type=int, default=0, help="the streamer's port (0: a free one)"
        )
        parser.add_argument(
            "--public-url",
            default=None,
            help="the base URL clients reach it by, used in Location headers (default: http://HOST:PORT)",
        )
        parser.add_argument("--seed", type=int, default=1, help="seed for the deterministic book")
        parser.add_argument(
            "--callback",
            action="append",
            default=None,
            help="a registered callback URL (repeatable); default: SCHWAB_CALLBACK_URL",
        )
        parser.add_argument("--latency-ms", type=int, default=0, help="latency added to every API call")
        parser.add_argument("--access-ttl", type=int, default=1800, help="access token lifetime, seconds")
        parser.add_argument(
            "--refresh-ttl", type=int, default=7 * 86400, help="refresh token lifetime, seconds"
        )
        parser.add_argument("--rotate-refresh-tokens", action="store_true")
        parser.add_argument(
            "--fleet-users", type=int, default=0, help="extra users fleet0001... (load tests)"
        )
        parser.add_argument("--fleet-accounts", type=int, default=10, help="accounts per fleet user")

    def handle(self, *args: Any, **options: Any) -> None:
        config = SandboxConfig(
            seed=options["seed"],
            app_key=settings.SCHWAB_APP_KEY,
            app_secret=settings.SCHWAB_APP_SECRET,
            callback_urls=tuple(options["callback"] or [settings.SCHWAB_CALLBACK_URL]),
            access_token_ttl=timedelta(seconds=options["access_ttl"]),
            refresh_token_ttl=timedelta(seconds=options["refresh_ttl"]),
            rotate_refresh_token=options["rotate_refresh_tokens"],
            latency_ms=options["latency_ms"],
            fleet_users=options["fleet_users"],
            fleet_accounts=options["fleet_accounts"],
            public_base_url=options["public_url"],
        )
        server = SandboxServer(
            config, host=options["host"], port=options["port"], streamer_port=options["streamer_port"]
        ).start()
        self.stdout.write(f"Schwab sandbox listening on {server.url} (seed {config.seed})")
        self.stdout.write(f"  streamer on {server.streamer.url} (userPreference's streamerInfo)")
        for user in list(server.state.users.values())[:4]:
            self.stdout.write(f"  login {user.username} / {user.password}: {len(user.accounts)} accounts")
        if config.fleet_users:
            self.stdout.write(f"  and {config.fleet_users} fleet users (fleet0001 / fleet-pass, ...)")
        try:
            server.state.stopping.wait()  # until Ctrl-C
        except KeyboardInterrupt:
            pass
        finally:
            server.stop()
