"""The one source of "now" for live data: aware UTC, and replaceable in tests (call `clock.now()`)."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone


def now() -> datetime:
    """Return the current time, timezone-aware in UTC."""
    return timezone.now()
