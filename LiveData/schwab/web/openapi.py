"""The OpenAPI 3.1 document of every /schwab/ endpoint: what the Thor frontend may rely on.

The schemas are generated (`openapi_schemas`: the bodies from the types the views answer with). What
types cannot say is here, in small pieces: the paths, parameters, examples and each answer's error codes
(from `exceptions`). Served at /schwab/openapi.json and kept in the repository as docs/openapi.json
(`manage.py schwab_openapi` writes it; a test fails when the two differ).
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from LiveData.schwab import exceptions as errors
from LiveData.schwab.web import api_types
from LiveData.schwab.web.openapi_schemas import JSON, LIVE_EVENTS, frame_name, ref, schemas

# --- Answers ----------------------------------------------------------------------------------------------

# What any session-authenticated endpoint may answer besides its own successes.
SIGNED_IN = [
    errors.NotAuthenticated,
    errors.BadRequest,
    errors.MethodNotAllowed,
    errors.InternalError,
    errors.DatabaseUnavailable,
]
# ... and any endpoint that needs a usable Schwab connection.
CONNECTED = [
    *SIGNED_IN,
    errors.SchwabNotConnected,
    errors.SchwabReauthRequired,
    errors.SchwabConnectionChanged,
]
# ... and any endpoint that may call Schwab (or the shared limits, or Redis).
UPSTREAM = [
    *CONNECTED,
    errors.NoAccounts,
    errors.ThrottledLocally,
    errors.RedisUnavailable,
    errors.TokenRefreshFailed,
    errors.SchwabApiError,
    errors.SchwabUnauthorized,
    errors.SchwabRateLimited,
    errors.SchwabBadRequest,
    errors.SchwabUnavailable,
    errors.SchwabMalformedResponse,
    errors.SchwabTimeout,
    errors.SchwabUnreachable,
]
ACCOUNT = [*UPSTREAM, errors.AccountNotFound, errors.NotFound]
ORDER_READ = [*ACCOUNT, errors.OrderNotFound, errors.TicketInvalid, errors.InvalidOrderId]
ORDER_CHANGE = [
    *ACCOUNT,
    errors.CsrfFailed,
    errors.RequestTooLarge,
    errors.InvalidOrderId,
    errors.TradingDisabled,
    errors.TradingNotPermitted,
    errors.TicketInvalid,
    errors.IdempotencyKeyRequired,
    errors.IdempotencyKeyReused,
    errors.NotionalCapExceeded,
    errors.OrderPriceUnknown,
    errors.OrderRejected,
    errors.OrdersThrottled,
    errors.OrderNotFound,
]
CALLBACK = [
    *SIGNED_IN,
    errors.OAuthStateInvalid,
    errors.OAuthDenied,
    errors.OAuthCodeMissing,
    errors.TokenExchangeFailed,
    errors.SchwabTimeout,
    errors.SchwabUnreachable,
    errors.RedisUnavailable,
]
HEADERS = {
    405: {"Allow": {"schema": {"type": "string"}, "description": "the methods allowed"}},
    503: {"Retry-After": {"schema": {"type": "string"}, "description": "with the rate-limit codes"}},
}


def failures(kinds: list[type[errors.SchwabError]], *, page_too: bool = False) -> dict[str, Any]:
    """The error answers of an operation by status: all in the one Error schema, each status naming its
    codes (`x-error-codes`). `page_too`: a browser asking for HTML gets a short page instead."""
    by_status: dict[int, set[str]] = {}
    for kind in kinds:
        by_status.setdefault(kind.status, set()).add(kind.code)
    responses: dict[str, Any] = {}
    for status, codes in sorted(by_status.items()):
        content: dict[str, Any] = {JSON: {"schema": ref("Error")}}
        if page_too:
            content["text/html"] = {"schema": {"type": "string"}}
        response = {
            "description": "error: " + ", ".join(f"`{code}`" for code in sorted(codes)),
            "x-error-codes": sorted(codes),
            "content": content,
        }
        if status in HEADERS:
            response["headers"] = HEADERS[status]
        responses[str(status)] = response
    return responses


def answer(kind: type[api_types.Body], description: str, example: Any | None = None) -> dict[str, Any]:
    content: dict[str, Any] = {"schema": ref(kind.__name__)}
    if example is not None:
        content["example"] = example
    return {"description": description, "content": {JSON: content}}


def redirect(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "headers": {"Location": {"schema": {"type": "string"}, "required": True}},
    }


SESSION: list[dict[str, list[str]]] = [{"session": []}]
SESSION_AND_CSRF: list[dict[str, list[str]]] = [{"session": [], "csrf": []}]
PUBLIC: list[dict[str, list[str]]] = []


def operation(
    operation_id: str,
    summary: str,
    tag: str,
    responses: dict[str, Any],
    *,
    security: list[dict[str, list[str]]] = SESSION,
    parameters: list[dict[str, Any]] | None = None,
    body: dict[str, Any] | None = None,
    description: str | None = None,
) -> dict[str, Any]:
    found: dict[str, Any] = {"operationId": operation_id, "summary": summary, "tags": [tag]}
    if description:
        found["description"] = description
    found["security"] = security
    if parameters:
        found["parameters"] = parameters
    if body:
        found["requestBody"] = body
    found["responses"] = responses
    return found


# --- Parameters, bodies, examples ------------------------------------------------------------------------


def _path_id(name: str, description: str) -> dict[str, Any]:
    schema = {"type": "string", "minLength": 1, "pattern": "^[^/]+$"}
    return {"name": name, "in": "path", "required": True, "description": description, "schema": schema}


def _query(name: str, description: str | None = None) -> dict[str, Any]:
    parameter: dict[str, Any] = {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
    if description:
        parameter["description"] = description
    return parameter


ACCOUNT_ID = _path_id("account_id", "Schwab's opaque account hash (`hashValue` from GET /schwab/accounts/)")
ORDER_ID = _path_id("order_id", "Schwab's order id")
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": True,
    "description": "a fresh random value per order; repeat it to retry the same order safely",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}
LAST_EVENT_ID = {
    "name": "Last-Event-ID",
    "in": "header",
    "required": False,
    "description": "the last event id received (`<account_id>=<entry id>,...`)",
    "schema": {"type": "string", "maxLength": 4096},
}
LIMIT_BUY = {
    "symbol": "AAPL",
    "instruction": "buy",
    "quantity": 10,
    "order_type": "limit",
    "limit_price": "150.00",
}
TICKET_EXAMPLES = {
    "limit": LIMIT_BUY,
    "trailing_stop_limit": {
        "symbol": "AAPL",
        "instruction": "sell",
        "quantity": 10,
        "order_type": "trailing_stop_limit",
        "trail_offset": "2.50",
        "trail_type": "amount",
        "trail_basis": "last",
        "limit_offset": "0.50",
    },
    "bracket": {**LIMIT_BUY, "strategy": "bracket", "take_profit": "160.00", "stop_loss": "140.00"},
    "oco": {
        "strategy": "oco",
        "orders": [
            {
                "symbol": "AAPL",
                "instruction": "sell",
                "quantity": 10,
                "order_type": "limit",
                "limit_price": "160.00",
            },
            {
                "symbol": "AAPL",
                "instruction": "sell",
                "quantity": 10,
                "order_type": "stop",
                "stop_price": "140.00",
            },
        ],
    },
    "trigger": {
        "strategy": "trigger",
        "orders": [
            LIMIT_BUY,
            {
                "symbol": "AAPL",
                "instruction": "sell",
                "quantity": 10,
                "order_type": "trailing_stop",
                "trail_offset": "5.00",
            },
        ],
    },
    "vertical": {
        "strategy": "vertical",
        "quantity": 2,
        "order_type": "net_debit",
        "limit_price": "1.20",
        "legs": [
            {"symbol": "SPY   261218C00500000", "instruction": "buy_to_open"},
            {"symbol": "SPY   261218C00505000", "instruction": "sell_to_open"},
        ],
    },
}
TICKET_BODY = {
    "required": True,
    "content": {
        JSON: {
            "schema": ref("Ticket"),
            "examples": {name: {"value": value} for name, value in TICKET_EXAMPLES.items()},
        }
    },
}
EXAMPLE_ACCOUNT = {
    "hashValue": "499E0C336AE7C6D0A4D5E6F2C1B3A8F94E1D2C3B4A5968778695A4B3C2D1E0F9",
    "account_id": "499E0C336AE7C6D0A4D5E6F2C1B3A8F94E1D2C3B4A5968778695A4B3C2D1E0F9",
    "type": "MARGIN",
    "display_number": "…3201",
}
EXAMPLE_SUMMARY = {
    "account_type": "MARGIN",
    "display_number": "…3201",
    "net_liquidation_value": "208819.33",
    "buying_power": "331953.12",
    "cash": "52748.28",
    "day_pnl": "-72.72",
    "day_pnl_percent": "-0.03",
    "display": {
        "net_liquidation_value": "$208,819.33",
        "buying_power": "$331,953.12",
        "cash": "$52,748.28",
        "day_pnl": "-$72.72",
        "day_pnl_percent": "-0.03%",
    },
    "positions_count": 11,
    "as_of": "2026-11-25T15:30:00.000000Z",
    "age_seconds": 0,
    "stale": False,
    "stale_reason": None,
}
EXAMPLE_HEALTH = {
    "success": True,
    "redis": "ok",
    "database": "ok",
    "oldest_snapshot_age_seconds": 42,
    "streaming": {
        "workers": 2,
        "connections": 40,
        "streaming": 40,
        "last_heartbeat_age_seconds": 1.2,
        "lag_ms": 35,
    },
}
EXAMPLE_QUOTES = {
    "success": True,
    "quotes": [
        {
            "symbol": "AAPL",
            "asset_type": "EQUITY",
            "bid": "189.99",
            "ask": "190.01",
            "last": "190.00",
            "mark": "190.00",
            "close": "188.50",
            "net_change": "1.50",
            "quoted_at": "2026-11-25T15:30:00.000000Z",
        }
    ],
    "unknown": ["ZZZZ"],
}
UNKNOWN_OUTCOME = "status unknown: do not resubmit"
STREAM_DESCRIPTION = (
    "`event: order` carries an OrderEvent as `data`; `event: reset` says events were trimmed (reload the "
    "orders). `positions`, `balances` and `summary` carry the states of the accounts the user owns, as "
    "published (a PositionsSnapshot, a BalancesSnapshot, a summary card), and `connection` the connection's "
    "state: the stream starts with the current ones, then sends each change once, never an older state "
    "after a newer. `event: ready` follows the backlog and the current states. Every event's `id` is a "
    "cursor over the user's accounts' order events: the browser sends the last one back as Last-Event-ID "
    "and the stream resumes right after it. Comment lines (`: heartbeat`) keep it open. The stream ends "
    "after THOR_SSE_MAX_SECONDS or when the user's accounts change; the browser reconnects. On the wire an "
    'event is text: `id: 4F1C...=1795704567966-0\\nevent: ready\\ndata: {"account_ids": ["4F1C..."]}\\n\\n`.'
)


# --- Paths ------------------------------------------------------------------------------------------------


def _connection_paths() -> dict[str, Any]:
    return {
        "/schwab/oauth/start/": {
            "get": operation(
                "oauth_start",
                "Send the browser to Schwab's consent page (login required)",
                "connection",
                {
                    "302": redirect("to Schwab's consent page, or to Thor's login page"),
                    **failures(
                        [
                            errors.BadRequest,
                            errors.MethodNotAllowed,
                            errors.InternalError,
                            errors.DatabaseUnavailable,
                        ]
                    ),
                },
                description="Stores a single-use `state` in the session (10 minutes). Anonymous browsers are "
                "redirected to Thor's login page.",
                parameters=[
                    _query("next", "where to return on this site afterwards (other sites are ignored)")
                ],
            )
        },
        "/schwab/oauth/callback/": {
            "get": operation(
                "oauth_callback",
                "Schwab's redirect back: check user and state, then exchange the code",
                "connection",
                {
                    "302": redirect("to `next` with `schwab=connected` in its query"),
                    **failures(CALLBACK, page_too=True),
                },
                parameters=[_query(name) for name in ("code", "session", "state", "error")],
            )
        },
        "/schwab/oauth/status/": {
            "get": operation(
                "oauth_status",
                "The connection's state and expiries (never a token)",
                "connection",
                {
                    "200": answer(
                        api_types.ConnectionStatus,
                        "the connection",
                        {"success": True, "connected": False, "status": "not_connected"},
                    ),
                    **failures(SIGNED_IN),
                },
            )
        },
        "/schwab/oauth/disconnect/": {
            "post": operation(
                "oauth_disconnect",
                "Forget the user's Schwab tokens",
                "connection",
                {
                    "200": answer(
                        api_types.Disconnected,
                        "disconnected (or there was nothing to disconnect)",
                        {"success": True, "connected": False, "status": "disconnected"},
                    ),
                    **failures([*SIGNED_IN, errors.CsrfFailed]),
                },
                description="Send the csrftoken cookie's value as X-CSRFToken.",
                security=SESSION_AND_CSRF,
            )
        },
    }


def _account_paths() -> dict[str, Any]:
    def refreshed(kind: type[api_types.Body], which: str) -> dict[str, Any]:
        return operation(
            f"get_{which}",
            f"Refresh the account from Schwab and publish both snapshots; answer the {which}",
            "accounts",
            {"200": answer(kind, "published"), **failures(ACCOUNT)},
            parameters=[ACCOUNT_ID],
        )

    return {
        "/schwab/accounts/": {
            "get": operation(
                "list_accounts",
                "The user's Schwab accounts (masked numbers only)",
                "accounts",
                {
                    "200": answer(
                        api_types.AccountList,
                        "the accounts the current Schwab login shares",
                        {"success": True, "accounts": [EXAMPLE_ACCOUNT]},
                    ),
                    **failures(UPSTREAM),
                },
            )
        },
        "/schwab/accounts/{account_id}/positions/": {
            "get": refreshed(api_types.PositionsPublished, "positions")
        },
        "/schwab/accounts/{account_id}/balances/": {
            "get": refreshed(api_types.BalancesPublished, "balances")
        },
        "/schwab/accounts/{account_id}/positions/latest/": {
            "get": operation(
                "latest_positions",
                "The last published positions snapshot, from Redis only (null before the first)",
                "accounts",
                {
                    "200": answer(
                        api_types.LatestPositions, "the snapshot, or null", {"success": True, "payload": None}
                    ),
                    **failures(ACCOUNT),
                },
                parameters=[ACCOUNT_ID],
            )
        },
        "/schwab/account/summary/": {
            "get": operation(
                "account_summary",
                "The Account Summary card (served from Redis while fresh)",
                "accounts",
                {
                    "200": answer(
                        api_types.AccountSummary,
                        "the card; `stale` with the reason when Schwab failed and older numbers are shown",
                        {
                            "success": True,
                            "account_hash": EXAMPLE_ACCOUNT["hashValue"],
                            "summary": EXAMPLE_SUMMARY,
                        },
                    ),
                    **failures(ACCOUNT),
                },
                parameters=[_query("account_hash", "the account (its hash); the first account when omitted")],
            )
        },
    }


def _order_paths() -> dict[str, Any]:
    placed = {
        "201": answer(api_types.OrderPlaced, "placed"),
        "202": answer(api_types.OrderPlaced, UNKNOWN_OUTCOME),
    }
    return {
        "/schwab/quotes/": {
            "get": operation(
                "get_quotes",
                "Quotes for the order ticket (bid, ask, last, mark, close, net change)",
                "orders",
                {
                    "200": answer(api_types.QuoteList, "the quotes; unknown symbols named", EXAMPLE_QUOTES),
                    **failures([*UPSTREAM, errors.InvalidSymbols]),
                },
                description="From Schwab's Market Data API through the user's connection and the shared "
                "limits; each symbol's quote is kept SCHWAB_QUOTE_CACHE_SECONDS (2 s) in Redis, so a ticket "
                "asking as the trader types costs one upstream call per symbol and period.",
                parameters=[
                    {
                        "name": "symbols",
                        "in": "query",
                        "required": True,
                        "description": "comma-separated stock or option (OCC) symbols, at most 20",
                        "schema": {"type": "string", "minLength": 1},
                        "example": "AAPL,MSFT",
                    }
                ],
            )
        },
        "/schwab/accounts/{account_id}/orders/preview/": {
            "post": operation(
                "order_preview",
                "What Schwab says of a ticket before placing it (nothing is placed)",
                "orders",
                {"200": answer(api_types.PreviewAnswer, "the preview"), **failures(ORDER_CHANGE)},
                security=SESSION_AND_CSRF,
                parameters=[ACCOUNT_ID],
                body=TICKET_BODY,
            )
        },
        "/schwab/accounts/{account_id}/orders/": {
            "get": operation(
                "list_orders",
                "The account's orders, newest first, and whether the user may trade",
                "orders",
                {
                    "200": answer(
                        api_types.OrderList, "the orders (default: the last 7 days; at most 60 days back)"
                    ),
                    **failures(ORDER_READ),
                },
                parameters=[ACCOUNT_ID, _query("status"), _query("from"), _query("to")],
            ),
            "post": operation(
                "place_order",
                "Place an order, once per Idempotency-Key",
                "orders",
                {**placed, **failures([*ORDER_CHANGE, errors.OrderNotPlaced])},
                description="201 placed (with Schwab's order id); 202 when Schwab did not confirm it: do not "
                "resubmit, ask again with the same key. The same key with the same ticket answers the first "
                "outcome; with another ticket, 422.",
                security=SESSION_AND_CSRF,
                parameters=[ACCOUNT_ID, IDEMPOTENCY_KEY],
                body=TICKET_BODY,
            ),
        },
        "/schwab/accounts/{account_id}/orders/{order_id}/": {
            "get": operation(
                "get_order",
                "One of the account's orders",
                "orders",
                {"200": answer(api_types.OrderAnswer, "the order"), **failures(ORDER_READ)},
                parameters=[ACCOUNT_ID, ORDER_ID],
            ),
            "put": operation(
                "replace_order",
                "Replace a working order, once per Idempotency-Key (answers the new order id)",
                "orders",
                {
                    **placed,
                    **failures([*ORDER_CHANGE, errors.OrderNotReplaceable, errors.OrderNotPlaced]),
                },
                security=SESSION_AND_CSRF,
                parameters=[ACCOUNT_ID, ORDER_ID, IDEMPOTENCY_KEY],
                body=TICKET_BODY,
            ),
            "delete": operation(
                "cancel_order",
                "Cancel a working order",
                "orders",
                {
                    "200": answer(api_types.OrderAnswer, "canceled (or already canceled)"),
                    "202": answer(api_types.CancelPending, "Schwab did not confirm yet"),
                    **failures([*ORDER_CHANGE, errors.OrderNotCancelable]),
                },
                security=SESSION_AND_CSRF,
                parameters=[ACCOUNT_ID, ORDER_ID],
            ),
        },
    }


def _live_paths() -> dict[str, Any]:
    events = {
        "description": "one event of the stream (comment lines are heartbeats)",
        "oneOf": [ref(frame_name(event)) for event in LIVE_EVENTS],
    }
    ready = {"event": "ready", "id": "4F1C...=1795704567966-0", "data": '{"account_ids": ["4F1C..."]}'}
    stream_failures = [
        *SIGNED_IN,
        errors.SchwabNotConnected,
        errors.InvalidLastEventId,
        errors.StreamNeedsAsgi,
        errors.RedisUnavailable,
    ]
    return {
        "/schwab/orders/stream/": {
            "get": operation(
                "orders_stream",
                "The page's live channel: order events, account states and the connection's state as "
                "server-sent events (ASGI server only)",
                "live",
                {
                    "200": {
                        "description": "the event stream",
                        "content": {"text/event-stream": {"schema": events, "example": ready}},
                    },
                    **failures(stream_failures),
                },
                description=STREAM_DESCRIPTION,
                parameters=[LAST_EVENT_ID],
            )
        },
    }


def _service_paths() -> dict[str, Any]:
    return {
        "/schwab/health/": {
            "get": operation(
                "health",
                "Redis, the database and the oldest snapshot's age (public)",
                "service",
                {
                    "200": answer(api_types.Health, "healthy", EXAMPLE_HEALTH),
                    "503": answer(api_types.Health, "a service is down"),
                    **failures([errors.BadRequest, errors.MethodNotAllowed, errors.InternalError]),
                },
                security=PUBLIC,
            )
        },
        "/schwab/openapi.json": {
            "get": operation(
                "openapi",
                "This document",
                "service",
                {
                    "200": {
                        "description": "the OpenAPI document",
                        "content": {JSON: {"schema": {"type": "object"}}},
                    },
                    **failures([errors.BadRequest, errors.MethodNotAllowed]),
                },
                security=PUBLIC,
            )
        },
    }


TAGS = [
    {"name": "connection", "description": "Connecting a Schwab login (OAuth 2.0) and its state"},
    {"name": "accounts", "description": "The user's accounts, their positions, balances and summary"},
    {"name": "orders", "description": "Previewing, placing, replacing and cancelling orders"},
    {"name": "live", "description": "The page's live channel (server-sent events)"},
    {"name": "service", "description": "Health and this document"},
]


@cache
def document() -> dict[str, Any]:
    """The whole OpenAPI document (built once per process)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Thor LiveData.schwab",
            "version": "1.0.0",
            "description": "Session-authenticated JSON endpoints for the Thor frontend. Every error answers "
            '`{"success": false, "error": "<stable code>", "message": "..."}` with the status shown. '
            "Money is decimal strings. Development-only views under /schwab/test/ are not part of it.",
        },
        "servers": [{"url": "/"}],
        "tags": TAGS,
        "paths": {
            **_connection_paths(),
            **_account_paths(),
            **_order_paths(),
            **_live_paths(),
            **_service_paths(),
        },
        "components": {
            "schemas": schemas(),
            "securitySchemes": {
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "sessionid",
                    "description": "Thor login",
                },
                "csrf": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-CSRFToken",
                    "description": "the csrftoken cookie's value, on unsafe methods",
                },
            },
        },
    }


def document_text() -> str:
    """The document as the repository keeps it (docs/openapi.json)."""
    return json.dumps(document(), indent=2, ensure_ascii=False) + "\n"
