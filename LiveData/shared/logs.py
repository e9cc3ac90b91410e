"""A log formatter that appends structured fields (passed as `extra=`) as key=value pairs, and the one
way to log a failure nobody expected without its message."""

from __future__ import annotations

import logging
import traceback

FIELDS = ("event", "connection", "account", "outcome", "duration_ms", "accounts", "failed", "skipped")


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        pairs = [f"{name}={getattr(record, name)}" for name in FIELDS if hasattr(record, name)]
        return f"{text} {' '.join(pairs)}" if pairs else text


def unexpected(error: BaseException) -> str:
    """The exception's type and the frames it came through, without its message: a message may quote the
    data it failed on (an account number, a token), which never goes to a log."""
    return f"{type(error).__name__}, raised at\n{''.join(traceback.format_tb(error.__traceback__)).rstrip()}"
