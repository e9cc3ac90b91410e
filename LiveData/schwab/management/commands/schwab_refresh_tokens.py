"""Refresh the access tokens that are about to expire. Safe from cron while the site serves: each refresh
takes the connection's row lock, so it never races a request refreshing the same connection."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from LiveData.schwab import services
from LiveData.schwab.exceptions import SchwabError
from LiveData.schwab.models import BrokerConnection
from LiveData.shared import clock


class Command(BaseCommand):
    help = "Refresh Schwab access tokens expiring within --within-minutes (default 10)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--within-minutes", type=int, default=10)

    def handle(self, *args: Any, **options: Any) -> None:
        horizon = clock.now() + timedelta(minutes=options["within_minutes"])
        due = BrokerConnection.objects.filter(
            status=BrokerConnection.Status.ACTIVE, access_token_expires_at__lt=horizon
        ).order_by("pk")
        refreshed = failed = 0
        for connection in due:
            try:
                services.connection_refresh(connection=connection, stale_access_token=connection.access_token)
            except SchwabError as error:
                failed += 1
                self.stdout.write(f"connection {connection.pk}: {error.code}")
            else:
                refreshed += 1
        self.stdout.write(f"refreshed {refreshed}, failed {failed}")
