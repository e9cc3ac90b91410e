"""Sync ActAndPos from what Redis stores, once: every account (stored or mirrored), or the ones named."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from ActAndPos import services
from ActAndPos.listener import stored_account_ids
from LiveData.shared.redis_client import get_redis


class Command(BaseCommand):
    help = "Apply the stored live-data snapshots to ActAndPos now."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "account_ids", nargs="*", help="account ids (default: every stored or live-mirrored one)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        account_ids = options["account_ids"] or sorted(
            stored_account_ids(get_redis()) | services.live_account_ids()
        )
        applied = sum(result.applied for account in account_ids for result in services.sync_account(account))
        self.stdout.write(f"{len(account_ids)} account(s), {applied} snapshot(s) applied")
