"""Schwab settings, read when needed (never at import time) so tests and deployments can change them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings


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

    @property
    def authorize_url(self) -> str:
        return f"{self.api_base_url}/v1/oauth/authorize"

    @property
    def token_url(self) -> str:
        return f"{self.api_base_url}/v1/oauth/token"

    @property
    def trader_url(self) -> str:
        return f"{self.api_base_url}/trader/v1"


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
    )
