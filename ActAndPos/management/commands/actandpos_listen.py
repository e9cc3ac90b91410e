"""Keep ActAndPos in step with live data until stopped (Ctrl-C or SIGTERM)."""

from __future__ import annotations

import signal
from typing import Any

from django.core.management.base import BaseCommand

from ActAndPos.listener import Listener


class Command(BaseCommand):
    help = "Listen to the live-data channels and sync ActAndPos accounts and positions (catches up first)."

    def handle(self, *args: Any, **options: Any) -> None:
        listener = Listener(on_sync=self._report)
        signal.signal(signal.SIGTERM, lambda *_: listener.stop.set())
        self.stdout.write("ActAndPos listener: catching up, then following live_data:* ...")
        try:
            listener.run()
        except KeyboardInterrupt:
            listener.stop.set()

    def _report(self, kind: str, account_id: str, result: Any) -> None:
        if result.applied:
            self.stdout.write(
                f"synced {kind} of …{account_id[-6:]}: +{result.created} ~{result.updated} -{result.removed}"
            )
