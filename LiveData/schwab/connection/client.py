"""HTTP to Schwab's Trader API (and its Market Data API), and nothing else: no ORM, no Redis, no token logic.

One pooled `requests.Session` per process; every call carries a timeout. GETs are retried, boundedly,
on 429 (after Retry-After, capped), 5xx and connection failures with backoff and jitter (urllib3 Retry).
Every failure becomes one exception from LiveData.schwab.exceptions (see the tree there).
"""

from __future__ import annotations

import logging
import threading
from decimal import Decimal
from typing import Any

import msgspec
import requests
from django.views.decorators.debug import sensitive_variables
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError, ReadTimeoutError
from urllib3.util.retry import Retry

from LiveData.schwab.conf import schwab_settings
from LiveData.schwab.exceptions import (
    SchwabApiError,
    SchwabBadRequest,
    SchwabMalformedResponse,
    SchwabRateLimited,
    SchwabTimeout,
    SchwabUnauthorized,
    SchwabUnavailable,
    SchwabUnreachable,
)

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_session: requests.Session | None = None


def _retry_policy(max_retry_after: float) -> Retry:
    """Bounded retries for GETs: 5xx and connection failures with backoff and jitter; 429 after its
    Retry-After, capped at `max_retry_after` seconds so a request never waits long."""

    class BoundedRetry(Retry):
        def get_retry_after(self, response: Any) -> float | None:
            value = super().get_retry_after(response)
            return None if value is None else min(value, max_retry_after)

    return BoundedRetry(
        total=2,
        connect=2,
        read=1,
        status=2,
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=frozenset({"GET"}),
        backoff_factor=0.2,
        backoff_jitter=0.1,
        respect_retry_after_header=True,
        raise_on_status=False,
    )


def reset_session() -> None:
    """Forget the pooled session (tests that change retry settings)."""
    global _session
    with _lock:
        _session = None


def http_session() -> requests.Session:
    """The process-wide pooled session for Schwab's Trader API."""
    global _session
    if _session is None:
        with _lock:
            if _session is None:
                session = requests.Session()
                # Proxies from the environment are read once here, not at every call (requests scans
                # os.environ per request otherwise); no netrc credentials ever go to Schwab.
                session.proxies = requests.utils.get_environ_proxies(schwab_settings().api_base_url)
                session.trust_env = False
                retry = _retry_policy(schwab_settings().max_retry_after)
                adapter = HTTPAdapter(pool_connections=4, pool_maxsize=64, max_retries=retry)
                session.mount("https://", adapter)
                session.mount("http://", adapter)
                _session = session
    return _session


def _retry_after(response: requests.Response) -> float:
    try:
        return max(0.0, float(response.headers.get("Retry-After", "1")))
    except ValueError:
        return 1.0


def _raise_for(response: requests.Response, path_name: str) -> None:
    status = response.status_code
    if status < 400:
        return
    logger.warning("schwab %s answered %s", path_name, status)
    if status == 401:
        raise SchwabUnauthorized(upstream_status=status)
    if status == 429:
        raise SchwabRateLimited(retry_after=_retry_after(response))
    if status >= 500:
        raise SchwabUnavailable(upstream_status=status)
    if status in (400, 403, 404):
        raise SchwabBadRequest(upstream_status=status)
    raise SchwabApiError(upstream_status=status)


@sensitive_variables("access_token")
def request(
    method: str,
    path: str,
    *,
    access_token: str,
    path_name: str,
    params: dict[str, str] | None = None,
    body: Any = None,
    market_data: bool = False,
) -> requests.Response:
    """Send one Trader API call (or a Market Data API call); return the response (2xx) or raise a
    SchwabApiError."""
    conf = schwab_settings()
    try:
        response = http_session().request(
            method,
            f"{conf.marketdata_url if market_data else conf.trader_url}{path}",
            params=params,
            json=body,
            headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
            timeout=conf.timeout,
        )
    except requests.Timeout:
        logger.warning("schwab %s timed out", path_name)
        raise SchwabTimeout from None
    except requests.ConnectionError as failure:
        reason = failure.args[0] if failure.args else None
        if isinstance(reason, MaxRetryError) and isinstance(reason.reason, ReadTimeoutError):
            logger.warning("schwab %s timed out", path_name)
            raise SchwabTimeout from None
        logger.warning("schwab %s unreachable", path_name)
        raise SchwabUnreachable from None
    except requests.RequestException:
        logger.warning("schwab %s failed in transport", path_name)
        raise SchwabUnreachable from None
    _raise_for(response, path_name)
    return response


@sensitive_variables("access_token")
def get_json(
    path: str,
    *,
    access_token: str,
    path_name: str,
    params: dict[str, str] | None = None,
    market_data: bool = False,
) -> Any:
    """GET and parse JSON exactly (numbers as Decimal, so money is never a binary float)."""
    response = request(
        "GET", path, access_token=access_token, path_name=path_name, params=params, market_data=market_data
    )
    return decode(response, path_name=path_name)


@sensitive_variables("access_token")
def get_content(
    path: str, *, access_token: str, path_name: str, params: dict[str, str] | None = None
) -> bytes:
    """GET and return the body as sent, for a caller that decodes it into its own typed structures."""
    return request("GET", path, access_token=access_token, path_name=path_name, params=params).content


# msgspec hands every non-integer number over as its own text, so Decimal is exact; integers stay int,
# which the transforms read as exactly as Decimal. About 5x faster than json with Decimal hooks.
_DECODER = msgspec.json.Decoder(float_hook=Decimal)


def parse_json(data: bytes) -> Any:
    """JSON as Schwab sent it, every number exact (Decimal, or int); msgspec.DecodeError when it is not."""
    return _DECODER.decode(data)


def decode(response: requests.Response, *, path_name: str) -> Any:
    """The response's JSON, numbers exact (Decimal or int); SchwabMalformedResponse when it is not JSON."""
    try:
        return parse_json(response.content)
    except msgspec.DecodeError:
        logger.warning("schwab %s sent malformed JSON (%s bytes)", path_name, len(response.content))
        raise SchwabMalformedResponse from None
