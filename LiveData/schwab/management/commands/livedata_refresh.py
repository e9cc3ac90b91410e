"""Refresh every active connection's account snapshots in this process: once, or in a loop."""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from LiveData.schwab import orders, refresher, services


class Command(BaseCommand):
    help = "Refresh live data for every active Schwab connection (the same work Celery's beat schedules)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--loop", action="store_true", help="repeat until stopped")
        parser.add_argument("--interval", type=float, default=60.0, help="seconds between rounds with --loop")
        parser.add_argument("--concurrency", type=int, default=8, help="upstream calls in flight at once")

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()
        while True:
            started = time.monotonic()
            services.refresh_expiring_tokens(within_minutes=10)
            orders.settle_stuck()
            outcomes = refresher.refresh_all(concurrency=options["concurrency"], progress=self._progress)
            counts = Counter(outcome.outcome for outcome in outcomes)
            elapsed = time.monotonic() - started
            summary = (
                ", ".join(f"{code}: {count}" for code, count in sorted(counts.items())) or "nothing to do"
            )
            if sys.stdout.isatty():
                self.stdout.write("")  # end the progress line
            self.stdout.write(f"refreshed {len(outcomes)} account(s) in {elapsed:.2f}s ({summary})")
            if not options["loop"]:
                return
            try:
                stop.wait(max(0.0, options["interval"] - elapsed))
            except KeyboardInterrupt:
                return

    def _progress(self, done: int, total: int) -> None:
        if sys.stdout.isatty():
            self.stdout.write(f"\r{done}/{total} accounts", ending="")
