"""Settle order requests left `sending` or `unknown` past the grace period: reconciled, never resent."""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.core.management.base import BaseCommand

from LiveData.schwab.orders import order_service


class Command(BaseCommand):
    help = (
        "Settle order requests whose outcome was never recorded (a worker died mid-call, Schwab never said)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        settled = order_service.settle_stuck()
        states = Counter(row.state for row in settled)
        summary = ", ".join(f"{state}: {count}" for state, count in sorted(states.items())) or "none due"
        self.stdout.write(f"settled {len(settled)} order request(s) ({summary})")
