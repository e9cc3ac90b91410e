"""List every Schwab connection with its state and expiries (never a token)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from LiveData.schwab.models import BrokerConnection


def _when(value: object) -> str:
    return value.isoformat(timespec="seconds") if hasattr(value, "isoformat") else "-"


class Command(BaseCommand):
    help = "Show the status of every Schwab connection."

    def handle(self, *args: Any, **options: Any) -> None:
        header = f"{'id':>5}  {'user':<20} {'state':<16} {'access expires':<26} {'refresh expires':<26} error"
        self.stdout.write(header)
        for connection in BrokerConnection.objects.select_related("user").order_by("pk"):
            self.stdout.write(
                f"{connection.pk:>5}  {connection.user.get_username()[:20]:<20} {connection.state:<16} "
                f"{_when(connection.access_token_expires_at):<26} "
                f"{_when(connection.refresh_token_expires_at):<26} {connection.last_error_code or '-'}"
            )
