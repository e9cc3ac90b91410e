"""Re-encrypt every stored Schwab token under the newest TOKEN_ENCRYPTION_KEYS key (the first)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from LiveData.schwab.connection import services


class Command(BaseCommand):
    help = "Re-encrypt all Schwab tokens with the newest key. Run after putting a new key first."

    def handle(self, *args: Any, **options: Any) -> None:
        count = services.connection_rotate_keys()
        self.stdout.write(f"re-encrypted {count} connection(s) under the newest key")
