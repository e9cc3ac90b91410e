"""Refresh the access tokens that are about to expire. Safe from cron while the site serves: each refresh
takes the connection's row lock, so it never races a request refreshing the same connection."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from LiveData.schwab.connection import services


class Command(BaseCommand):
    help = "Refresh Schwab access tokens expiring within --within-minutes (default 10)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--within-minutes", type=int, default=10)

    def handle(self, *args: Any, **options: Any) -> None:
        refreshed, failed = services.refresh_expiring_tokens(within_minutes=options["within_minutes"])
        self.stdout.write(f"refreshed {refreshed}, failed {failed}")
