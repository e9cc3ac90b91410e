"""A log formatter that appends structured fields (passed as `extra=`) as key=value pairs."""

from __future__ import annotations

import logging

FIELDS = ("event", "connection", "account", "outcome", "duration_ms", "accounts", "failed", "skipped")


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        pairs = [f"{name}={getattr(record, name)}" for name in FIELDS if hasattr(record, name)]
        return f"{text} {' '.join(pairs)}" if pairs else text
