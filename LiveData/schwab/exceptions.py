"""Every known failure of the Schwab integration, each with its HTTP status and a stable error code.

Views just raise; `LiveData.schwab.web.errors` renders one JSON shape for all of them. Messages are written
for the trader and never carry exception text, tokens or account numbers.

An upstream failure is an outage (`outage = True`: 5xx, 429, timeouts, unreadable answers), after which the
last good snapshot is kept and marked stale, or a refusal (400/401/403/404): Schwab would not serve this
caller that account, which says nothing about the account's data, so its snapshot is left alone.

    SchwabError
    ├── NotAuthenticated            401 not_authenticated
    ├── SchwabNotConnected          404 schwab_not_connected          (connected: false)
    ├── AccountNotFound             404 account_not_found
    ├── NoAccounts                  404 no_accounts
    ├── RedisUnavailable            503 redis_unavailable
    ├── DatabaseUnavailable         503 database_unavailable
    ├── ThrottledLocally            503 rate_limited                   (our own limits; retry_after)
    ├── SchwabReauthRequired        401 schwab_reauth_required        (connected: false)
    ├── SchwabConnectionChanged     409 schwab_connection_changed     (a reconnect or disconnect mid-request)
    ├── MethodNotAllowed            405 method_not_allowed             (Allow header)
    ├── OAuthFlowError              400 (state, denial, missing code)
    │   ├── OAuthStateInvalid           oauth_state_invalid
    │   ├── OAuthDenied                 oauth_access_denied
    │   └── OAuthCodeMissing            oauth_code_missing
    ├── TokenExchangeFailed         502 schwab_token_exchange_failed
    ├── TokenRefreshFailed          502 schwab_token_refresh_failed
    ├── RefreshTokenRejected        401 schwab_refresh_token_rejected  (internal: becomes reauth required)
    ├── OrderError                  orders (see `order_service`)
    │   ├── TicketInvalid           400 invalid_ticket                 (fields: {name: problem})
    │   ├── InvalidSymbols          400 invalid_symbols                (quotes; fields: {"symbols": problem})
    │   ├── RequestTooLarge         413 request_too_large              (an order body over 16 KiB)
    │   ├── InvalidOrderId          400 invalid_order_id               (not one of Schwab's order ids)
    │   ├── IdempotencyKeyRequired  400 idempotency_key_required
    │   ├── TradingDisabled         403 trading_disabled               (SCHWAB_TRADING_ENABLED is off)
    │   ├── TradingNotPermitted     403 trading_not_permitted          (no schwab.trade permission)
    │   ├── OrderNotFound           404 order_not_found
    │   ├── OrderNotCancelable      409 order_not_cancelable
    │   ├── OrderNotReplaceable     409 order_not_replaceable
    │   ├── IdempotencyKeyReused    422 idempotency_key_reused         (same key, another request)
    │   ├── NotionalCapExceeded     422 order_notional_exceeds_cap
    │   ├── OrderPriceUnknown       422 order_price_unknown            (no market price under a cap)
    │   ├── OrderRejected           422 schwab_order_rejected
    │   ├── OrderNotPlaced          502 schwab_order_not_placed        (reconciled: nothing was placed)
    │   └── OrdersThrottled         503 order_rate_limited             (retry_after)
    ├── SiteError                   what no view handled (thor_project.errors)
    │   ├── BadRequest              400 bad_request                    (e.g. a Host not allowed)
    │   ├── PermissionDenied        403 permission_denied
    │   ├── CsrfFailed              403 csrf_failed
    │   ├── NotFound                404 not_found
    │   └── InternalError           500 internal_error                 (logged by Django)
    └── SchwabApiError              502 schwab_upstream_error          (raised by the HTTP client)
        ├── SchwabUnauthorized          schwab_unauthorized                (refused: not an outage)
        ├── SchwabRateLimited       503 schwab_rate_limited            (retry_after)
        ├── SchwabBadRequest            schwab_bad_request                 (refused: not an outage)
        ├── SchwabUnavailable           schwab_unavailable             (5xx)
        ├── SchwabMalformedResponse     schwab_bad_response
        ├── SchwabTimeout          504 schwab_timeout
        └── SchwabUnreachable           schwab_unreachable
"""

from __future__ import annotations

from typing import Any, ClassVar


class SchwabError(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[str] = "schwab_error"
    message: ClassVar[str] = "Something went wrong talking to Schwab."

    def __init__(self, message: str | None = None, **extra: Any) -> None:
        self.detail = message or self.message
        self.extra = extra
        super().__init__(self.detail)

    def payload(self) -> dict[str, Any]:
        return {"success": False, "error": self.code, "message": self.detail, **self.extra}


class NotAuthenticated(SchwabError):
    status, code, message = 401, "not_authenticated", "Log in to Thor first."


class SchwabNotConnected(SchwabError):
    status, code, message = 404, "schwab_not_connected", "No Schwab account connected"

    def payload(self) -> dict[str, Any]:
        return {**super().payload(), "connected": False}


class AccountNotFound(SchwabError):
    status, code, message = 404, "account_not_found", "No such account among your Schwab accounts."


class NoAccounts(SchwabError):
    status, code, message = 404, "no_accounts", "No Schwab accounts found"


class RedisUnavailable(SchwabError):
    status, code = 503, "redis_unavailable"
    message = "Live data storage is unavailable right now. Try again shortly."


class DatabaseUnavailable(SchwabError):
    status, code = 503, "database_unavailable"
    message = "Thor's database is not answering right now. Try again shortly."


class ThrottledLocally(SchwabError):
    status, code = 503, "rate_limited"
    message = "Too many requests to Schwab right now. Try again shortly."

    def __init__(self, *, retry_after: float) -> None:
        super().__init__(retry_after=round(retry_after, 2))


class SchwabReauthRequired(SchwabError):
    status, code = 401, "schwab_reauth_required"
    message = "Your Schwab connection has expired. Reconnect Schwab to continue."

    def payload(self) -> dict[str, Any]:
        return {**super().payload(), "connected": False}


class SchwabConnectionChanged(SchwabError):
    status, code = 409, "schwab_connection_changed"
    message = "Your Schwab connection changed while this request ran. Try again."


class MethodNotAllowed(SchwabError):
    status, code, message = 405, "method_not_allowed", "This endpoint does not accept that HTTP method."

    def __init__(self, *, allowed: list[str]) -> None:
        super().__init__()
        self.allowed = allowed


class OAuthFlowError(SchwabError):
    status = 400


class OAuthStateInvalid(OAuthFlowError):
    code = "oauth_state_invalid"
    message = "This Schwab sign-in link is invalid or has expired. Start connecting again."


class OAuthDenied(OAuthFlowError):
    code = "oauth_access_denied"
    message = "Schwab access was not granted, so nothing was connected."


class OAuthCodeMissing(OAuthFlowError):
    code = "oauth_code_missing"
    message = "Schwab did not send an authorization code. Start connecting again."


class TokenExchangeFailed(SchwabError):
    status, code = 502, "schwab_token_exchange_failed"
    message = "Schwab did not accept the sign-in. Start connecting again."


class TokenRefreshFailed(SchwabError):
    status, code = 502, "schwab_token_refresh_failed"
    message = "Schwab could not renew the session right now. Try again shortly."


class RefreshTokenRejected(SchwabError):
    """Schwab refused the refresh token (expired, revoked, superseded): only a new login helps. The token
    service turns it into SchwabReauthRequired, so clients see that code, never this one."""

    status, code = 401, "schwab_refresh_token_rejected"
    message = "Schwab refused the refresh token."


class OrderError(SchwabError):
    """A refused or failed order request; the audit row records the code."""


class TicketInvalid(OrderError):
    status, code, message = 400, "invalid_ticket", "The order ticket has problems; see fields."

    def __init__(self, *, fields: dict[str, str]) -> None:
        super().__init__(fields=fields)
        self.fields = fields


class InvalidSymbols(OrderError):
    status, code, message = 400, "invalid_symbols", "Name 1 to 20 symbols, comma-separated; see fields."

    def __init__(self, *, fields: dict[str, str]) -> None:
        super().__init__(fields=fields)
        self.fields = fields


class RequestTooLarge(OrderError):
    status, code = 413, "request_too_large"
    message = "The order request is larger than any order ticket; nothing of it was kept."


class InvalidOrderId(OrderError):
    status, code, message = 400, "invalid_order_id", "That is not an order id (Schwab's are digits)."


class IdempotencyKeyRequired(OrderError):
    status, code = 400, "idempotency_key_required"
    message = (
        "Send an Idempotency-Key header (a fresh random value per order, up to 255 printable ASCII "
        "characters) so it is never sent twice."
    )


class TradingDisabled(OrderError):
    status, code, message = 403, "trading_disabled", "Trading is switched off in Thor right now."


class TradingNotPermitted(OrderError):
    status, code, message = 403, "trading_not_permitted", "Your Thor account is not allowed to trade."


class OrderNotFound(OrderError):
    status, code, message = 404, "order_not_found", "No such order in this account."


class OrderNotCancelable(OrderError):
    status, code, message = 409, "order_not_cancelable", "This order can no longer be canceled."


class OrderNotReplaceable(OrderError):
    status, code, message = 409, "order_not_replaceable", "This order can no longer be replaced."


class IdempotencyKeyReused(OrderError):
    status, code = 422, "idempotency_key_reused"
    message = "This Idempotency-Key was used for a different order. Use a new key for a new order."


class NotionalCapExceeded(OrderError):
    status, code, message = 422, "order_notional_exceeds_cap", "The order is larger than Thor allows."


class OrderPriceUnknown(OrderError):
    status, code = 422, "order_price_unknown"
    message = "Thor has no market price for this symbol right now, so it cannot check the order's size."


class OrderRejected(OrderError):
    status, code, message = 422, "schwab_order_rejected", "Schwab rejected the order. Preview it to see why."


class OrderNotPlaced(OrderError):
    status, code = 502, "schwab_order_not_placed"
    message = "Schwab did not take this order; nothing was placed. You may place it again."


class OrdersThrottled(OrderError):
    status, code = 503, "order_rate_limited"
    message = "Too many order requests for this account right now. Try again shortly."

    def __init__(self, *, retry_after: float) -> None:
        super().__init__(retry_after=round(retry_after, 2))


class InvalidLastEventId(SchwabError):
    status, code = 400, "invalid_last_event_id"
    message = "Last-Event-ID is not a cursor this stream gave out. Reconnect without it."


class StreamNeedsAsgi(SchwabError):
    status, code = 503, "stream_needs_asgi"
    message = "The order stream is served by Thor's ASGI server; this server cannot hold it open."


class StreamerError(SchwabError):
    """Schwab's streamer refused or ended a session (the stream worker's; never shown to a client)."""

    status, code, message = 502, "schwab_streamer_error", "Schwab's streamer ended the session."


class StreamerLoginDenied(StreamerError):
    code, message = "schwab_streamer_login_denied", "Schwab's streamer refused the login."


class StreamerBusy(StreamerError):
    code, message = "schwab_streamer_busy", "Another streamer connection holds this Schwab login."


class SiteError(SchwabError):
    """Answers for what no view handled, in the same shape (rendered by thor_project.errors)."""


class BadRequest(SiteError):
    status, code, message = 400, "bad_request", "The request could not be understood."


class PermissionDenied(SiteError):
    status, code, message = 403, "permission_denied", "You are not allowed to do this."


class CsrfFailed(SiteError):
    status, code, message = 403, "csrf_failed", "The request was missing a valid CSRF token."


class NotFound(SiteError):
    status, code, message = 404, "not_found", "Nothing is here."


class InternalError(SiteError):
    status, code, message = 500, "internal_error", "Something went wrong on our side. It has been logged."


class SchwabApiError(SchwabError):
    status, code = 502, "schwab_upstream_error"
    message = "Schwab returned an unexpected error."
    outage: ClassVar[bool] = True

    def __init__(
        self, message: str | None = None, *, upstream_status: int | None = None, **extra: Any
    ) -> None:
        super().__init__(message, **extra)
        self.upstream_status = upstream_status


class SchwabUnauthorized(SchwabApiError):
    code, message = "schwab_unauthorized", "Schwab refused the session."
    outage = False


class SchwabRateLimited(SchwabApiError):
    status, code = 503, "schwab_rate_limited"
    message = "Schwab is rate limiting requests. Try again shortly."

    def __init__(self, message: str | None = None, *, retry_after: float = 1.0, **extra: Any) -> None:
        super().__init__(message, upstream_status=429, retry_after=retry_after, **extra)
        self.retry_after = retry_after


class SchwabBadRequest(SchwabApiError):
    code, message = "schwab_bad_request", "Schwab rejected the request."
    outage = False


class SchwabUnavailable(SchwabApiError):
    code, message = "schwab_unavailable", "Schwab is unavailable right now. Try again shortly."


class SchwabMalformedResponse(SchwabApiError):
    code, message = "schwab_bad_response", "Schwab sent a response that could not be read."


class SchwabTimeout(SchwabApiError):
    status, code, message = 504, "schwab_timeout", "Schwab did not answer in time."


class SchwabUnreachable(SchwabApiError):
    code, message = "schwab_unreachable", "Schwab could not be reached."
