"""Schwab settings, read when first needed (never at import time) and then kept, until Django says a
setting changed (tests' overrides send `setting_changed`), so a request does not read ~40 settings again
at every call.

The only module of the app that reads django.conf.settings: everything else asks `schwab_settings()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from functools import cache
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver


@dataclass(frozen=True)
class SchwabSettings:
    app_key: str
    app_secret: str
    callback_url: str
    api_base_url: str
    timeout: float
    refresh_margin: timedelta
    state_ttl: timedelta
    frontend_url: str
    test_views_enabled: bool
    test_views_username: str
    test_callback_url: str
    token_encryption_keys: tuple[str, ...]
    max_retry_after: float
    # Shared rate limits (per connection, fleet-wide) and how long a page request may wait for room.
    rate_limit_per_connection_per_minute: int
    rate_limit_foreground_reserve_per_minute: int
    rate_limit_global_per_second: int
    rate_limit_arrival_allowance: float
    rate_limit_max_wait: float
    # Live data.
    accounts_cache: timedelta
    quote_cache: timedelta
    summary_max_age: timedelta
    snapshot_ttl_seconds: int
    # Background refresh.
    refresh_rate_limit_wait: float
    backoff_base_seconds: int
    backoff_max_seconds: int
    # Orders.
    trading_enabled: bool
    order_notional_cap: Decimal | None
    order_rate_limit_per_account_per_minute: int
    order_reconcile_grace: timedelta
    # Order-status streaming.
    stream_lease_seconds: float
    stream_poll_seconds: float
    stream_silence_seconds: float
    stream_backoff_max_seconds: float
    stream_max_connections: int
    stream_catch_up: timedelta
    stream_reconcile_seconds: float
    order_events_max_length: int
    sse_heartbeat_seconds: float
    sse_max_seconds: float
    # Django's login, which an open stream re-checks at each heartbeat.
    authentication_backends: tuple[str, ...]

    @property
    def authorize_url(self) -> str:
        return f"{self.api_base_url}/v1/oauth/authorize"

    @property
    def token_url(self) -> str:
        return f"{self.api_base_url}/v1/oauth/token"

    @property
    def trader_url(self) -> str:
        return f"{self.api_base_url}/trader/v1"

    @property
    def marketdata_url(self) -> str:
        return f"{self.api_base_url}/marketdata/v1"


@cache
def schwab_settings() -> SchwabSettings:
    return SchwabSettings(
        app_key=settings.SCHWAB_APP_KEY,
        app_secret=settings.SCHWAB_APP_SECRET,
        callback_url=settings.SCHWAB_CALLBACK_URL,
        api_base_url=settings.SCHWAB_API_BASE_URL.rstrip("/"),
        timeout=settings.SCHWAB_HTTP_TIMEOUT,
        refresh_margin=timedelta(seconds=settings.SCHWAB_REFRESH_MARGIN_SECONDS),
        state_ttl=timedelta(seconds=settings.SCHWAB_OAUTH_STATE_TTL_SECONDS),
        frontend_url=settings.SCHWAB_FRONTEND_URL,
        test_views_enabled=bool(settings.DEBUG and settings.SCHWAB_ENABLE_TEST_VIEWS),
        test_views_username=settings.SCHWAB_TEST_VIEWS_USERNAME,
        test_callback_url=settings.SCHWAB_TEST_CALLBACK_URL,
        token_encryption_keys=tuple(settings.TOKEN_ENCRYPTION_KEYS),
        max_retry_after=settings.SCHWAB_MAX_RETRY_AFTER_SECONDS,
        rate_limit_per_connection_per_minute=settings.SCHWAB_RATE_LIMIT_PER_CONNECTION_PER_MINUTE,
        rate_limit_foreground_reserve_per_minute=settings.SCHWAB_RATE_LIMIT_FOREGROUND_RESERVE_PER_MINUTE,
        rate_limit_global_per_second=settings.SCHWAB_RATE_LIMIT_GLOBAL_PER_SECOND,
        rate_limit_arrival_allowance=settings.SCHWAB_RATE_LIMIT_ARRIVAL_ALLOWANCE_SECONDS,
        rate_limit_max_wait=settings.SCHWAB_RATE_LIMIT_MAX_WAIT_SECONDS,
        accounts_cache=timedelta(seconds=settings.SCHWAB_ACCOUNTS_CACHE_SECONDS),
        quote_cache=timedelta(seconds=settings.SCHWAB_QUOTE_CACHE_SECONDS),
        summary_max_age=timedelta(seconds=settings.SCHWAB_SUMMARY_MAX_AGE_SECONDS),
        snapshot_ttl_seconds=settings.LIVE_DATA_SNAPSHOT_TTL_SECONDS,
        refresh_rate_limit_wait=settings.LIVEDATA_REFRESH_RATE_LIMIT_WAIT_SECONDS,
        backoff_base_seconds=settings.LIVEDATA_BACKOFF_BASE_SECONDS,
        backoff_max_seconds=settings.LIVEDATA_BACKOFF_MAX_SECONDS,
        trading_enabled=bool(settings.SCHWAB_TRADING_ENABLED),
        order_notional_cap=Decimal(str(settings.SCHWAB_ORDER_NOTIONAL_CAP)) or None,
        order_rate_limit_per_account_per_minute=settings.SCHWAB_ORDER_RATE_LIMIT_PER_ACCOUNT_PER_MINUTE,
        order_reconcile_grace=timedelta(seconds=settings.SCHWAB_ORDER_RECONCILE_GRACE_SECONDS),
        stream_lease_seconds=settings.SCHWAB_STREAM_LEASE_SECONDS,
        stream_poll_seconds=settings.SCHWAB_STREAM_POLL_SECONDS,
        stream_silence_seconds=settings.SCHWAB_STREAM_SILENCE_SECONDS,
        stream_backoff_max_seconds=settings.SCHWAB_STREAM_BACKOFF_MAX_SECONDS,
        stream_max_connections=settings.SCHWAB_STREAM_MAX_CONNECTIONS,
        stream_catch_up=timedelta(days=min(60, settings.SCHWAB_STREAM_CATCH_UP_DAYS)),
        stream_reconcile_seconds=settings.SCHWAB_STREAM_RECONCILE_SECONDS,
        order_events_max_length=settings.LIVE_DATA_ORDER_EVENTS_MAXLEN,
        sse_heartbeat_seconds=settings.THOR_SSE_HEARTBEAT_SECONDS,
        sse_max_seconds=settings.THOR_SSE_MAX_SECONDS,
        authentication_backends=tuple(settings.AUTHENTICATION_BACKENDS),
    )


@receiver(setting_changed)
def _forget_settings(**_: Any) -> None:
    schwab_settings.cache_clear()


def user_model() -> str:
    """The user model's label, for foreign keys (Django's swappable AUTH_USER_MODEL)."""
    return str(settings.AUTH_USER_MODEL)
