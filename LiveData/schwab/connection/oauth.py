"""The OAuth 2.0 protocol with Schwab, through authlib's requests client: authorize URL, code, refresh.

Failures become SchwabError subclasses. A refresh token Schwab refuses (expired, revoked, replaced by a
newer login) raises RefreshTokenRejected, which the token service turns into "reauth required"; every
other failure leaves the stored tokens alone.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import requests
from authlib.integrations.requests_client import OAuth2Session, OAuthError
from django.views.decorators.debug import sensitive_variables

from LiveData.schwab.conf import schwab_settings
from LiveData.schwab.exceptions import (
    RefreshTokenRejected,
    SchwabError,
    SchwabTimeout,
    SchwabUnreachable,
    TokenExchangeFailed,
    TokenRefreshFailed,
)

logger = logging.getLogger(__name__)

# Errors that mean the refresh token itself is dead: only a new browser login helps.
DEAD_REFRESH_TOKEN_ERRORS = frozenset(
    {"refresh_token_authentication_error", "invalid_grant", "invalid_client", "unauthorized_client"}
)


@dataclass(frozen=True)
class TokenSet:
    # repr=False: a token must not reach logs, tracebacks or Django's debug pages through a repr.
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_in: int


def authorization_url(*, state: str, redirect_uri: str) -> str:
    conf = schwab_settings()
    query = urlencode(
        {"client_id": conf.app_key, "redirect_uri": redirect_uri, "response_type": "code", "state": state}
    )
    return f"{conf.authorize_url}?{query}"


def _session() -> OAuth2Session:
    conf = schwab_settings()
    return OAuth2Session(
        client_id=conf.app_key,
        client_secret=conf.app_secret,
        token_endpoint_auth_method="client_secret_basic",  # noqa: S106 - a method name, not a secret
    )


@sensitive_variables("token", "access", "refresh", "previous_refresh_token")
def _token_set(token: Any, *, previous_refresh_token: str = "") -> TokenSet:
    access = token.get("access_token") if isinstance(token, dict) else None
    refresh = (token.get("refresh_token") if isinstance(token, dict) else None) or previous_refresh_token
    expires_in = token.get("expires_in", 1800) if isinstance(token, dict) else None
    if not isinstance(access, str) or not access or not isinstance(refresh, str) or not refresh:
        raise ValueError("token response lacks access_token or refresh_token")
    if not isinstance(expires_in, int) or isinstance(expires_in, bool) or expires_in <= 0:
        raise ValueError("token response has no usable expires_in")
    return TokenSet(access, refresh, expires_in)


@contextmanager
def _token_call(action: str, failed: type[SchwabError]) -> Iterator[None]:
    """Map transport failures of a token-endpoint call; anything unreadable becomes `failed`."""
    try:
        yield
    except requests.Timeout:
        logger.warning("schwab token %s timed out", action)
        raise SchwabTimeout from None
    except requests.ConnectionError:
        logger.warning("schwab token endpoint unreachable")
        raise SchwabUnreachable from None
    except (requests.RequestException, ValueError) as failure:
        logger.warning("schwab token %s failed: %s", action, type(failure).__name__)
        raise failed from None


@sensitive_variables("code", "token", "session")
def exchange_code(*, code: str, redirect_uri: str) -> TokenSet:
    """Trade an authorization code (already URL-decoded once) for tokens."""
    conf = schwab_settings()
    with _token_call("exchange", TokenExchangeFailed):
        try:
            with _session() as session:
                token = session.fetch_token(
                    conf.token_url,
                    grant_type="authorization_code",
                    code=code,
                    redirect_uri=redirect_uri,
                    timeout=conf.timeout,
                )
        except OAuthError as refused:
            logger.warning("schwab token exchange refused: error=%s", refused.error)
            raise TokenExchangeFailed from None
        return _token_set(token)


@sensitive_variables("refresh_token", "token", "session")
def refresh(*, refresh_token: str) -> TokenSet:
    """Get a new access token; keep the refresh token Schwab sends back (or the old one if it sends none)."""
    conf = schwab_settings()
    with _token_call("refresh", TokenRefreshFailed):
        try:
            with _session() as session:
                token = session.refresh_token(
                    conf.token_url, refresh_token=refresh_token, timeout=conf.timeout
                )
        except OAuthError as refused:
            logger.warning("schwab token refresh refused: error=%s", refused.error)
            if refused.error in DEAD_REFRESH_TOKEN_ERRORS:
                raise RefreshTokenRejected from None
            raise TokenRefreshFailed from None
        except requests.HTTPError as failure:
            status = failure.response.status_code if failure.response is not None else None
            logger.warning("schwab token refresh failed: http status=%s", status)
            raise (RefreshTokenRejected if status in (400, 401) else TokenRefreshFailed) from None
        return _token_set(token, previous_refresh_token=refresh_token)
