"""Run a stream worker: Schwab's streamer to Redis for the connections this process leases (see README)."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from LiveData.schwab.streaming.stream_worker import StreamWorker


class Command(BaseCommand):
    help = "Stream order status from Schwab into Redis. Run one or more, on one or more machines."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--worker-id", default=None, help="name in /schwab/health/ (default host:pid:random)"
        )
        parser.add_argument(
            "--threads", type=int, default=16, help="threads for database, REST and Redis work"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        asyncio.run(self._run(options["worker_id"], options["threads"]))

    async def _run(self, worker_id: str | None, threads: int) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):  # log out of every socket, let go of every lease
            loop.add_signal_handler(signum, stop.set)
        await StreamWorker(worker_id=worker_id, threads=threads).run(stop)
