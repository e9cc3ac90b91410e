"""Refresh every active connection's account snapshots in this process: once, or in a loop.

In a loop it outlives its services: a round that fails because the database or Redis is gone is logged,
and the next one comes after a capped back-off; /schwab/health/ shows the gap meanwhile (the services'
state, and the oldest snapshot's age growing).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections import Counter
from typing import Any

import redis
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, close_old_connections

from LiveData.schwab.connection import reminders, services
from LiveData.schwab.live_data import refresher
from LiveData.schwab.orders import order_service

logger = logging.getLogger("livedata.refresh")
MAX_BACKOFF_SECONDS = 60.0


class Command(BaseCommand):
    help = "Refresh live data for every active Schwab connection (the same work Celery's beat schedules)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--loop", action="store_true", help="repeat until stopped")
        parser.add_argument("--interval", type=float, default=60.0, help="seconds between rounds with --loop")
        parser.add_argument("--concurrency", type=int, default=8, help="upstream calls in flight at once")

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()
        failures = 0
        while True:
            started = time.monotonic()
            try:
                self._round(options["concurrency"], started)
                failures = 0
                wait = options["interval"] - (time.monotonic() - started)
            except (DatabaseError, redis.RedisError) as failure:
                if not options["loop"]:
                    raise CommandError(f"refresh failed: {type(failure).__name__}") from None
                failures += 1
                wait = min(MAX_BACKOFF_SECONDS, options["interval"] * 2 ** (failures - 1))
                what = "the database" if isinstance(failure, DatabaseError) else "Redis"
                logger.warning("refresh round failed: %s unavailable; next round in %.1fs", what, wait)
            if not options["loop"]:
                return
            try:
                stop.wait(max(0.0, wait))
            except KeyboardInterrupt:
                return

    def _round(self, concurrency: int, started: float) -> None:
        close_old_connections()  # a connection the database dropped (or too old) is not used again
        services.refresh_expiring_tokens(within_minutes=10)
        order_service.settle_stuck()
        reminders.send_login_reminders()
        outcomes = refresher.refresh_all(concurrency=concurrency, progress=self._progress)
        counts = Counter(outcome.outcome for outcome in outcomes)
        elapsed = time.monotonic() - started
        summary = ", ".join(f"{code}: {count}" for code, count in sorted(counts.items())) or "nothing to do"
        if sys.stdout.isatty():
            self.stdout.write("")  # end the progress line
        self.stdout.write(f"refreshed {len(outcomes)} account(s) in {elapsed:.2f}s ({summary})")

    def _progress(self, done: int, total: int) -> None:
        if sys.stdout.isatty():
            self.stdout.write(f"\r{done}/{total} accounts", ending="")
