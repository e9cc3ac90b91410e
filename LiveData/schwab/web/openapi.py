"""The OpenAPI 3.1 document of every /schwab/ endpoint: what the Thor frontend may rely on.

Built here from the same pieces the code uses (the snapshot JSON Schemas of LiveData.shared, the error
codes of `exceptions`), served at /schwab/openapi.json, and kept in the repository as docs/openapi.json
(`manage.py schwab_openapi` writes it; a test fails when the two differ). schemathesis checks the running
server against it in CI, and the test suite validates real responses and the documented examples.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from LiveData.schwab import exceptions as errors

JSON = "application/json"

# --- Schemas ------------------------------------------------------------------------------------------------


def _shared_schema(name: str) -> dict[str, Any]:
    """A LiveData.shared snapshot schema with its local $defs inlined (so it can live in components)."""
    document = json.loads(resources.files("LiveData.shared").joinpath(f"schemas/{name}").read_text())
    definitions = document.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            reference = node.get("$ref")
            if isinstance(reference, str) and reference.startswith("#/$defs/"):
                resolved = inline(definitions[reference.removeprefix("#/$defs/")])
                return {**resolved, **{k: v for k, v in node.items() if k != "$ref"}}
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(item) for item in node]
        return node

    for key in ("$schema", "$id"):
        document.pop(key, None)
    return dict(inline(document))


NULLABLE_TEXT = {"type": ["string", "null"]}
DECIMAL_TEXT = {"type": ["string", "null"], "pattern": r"^-?\d+(\.\d+)?$", "examples": ["208819.33"]}


def _error_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["success", "error", "message"],
        "properties": {
            "success": {"const": False},
            "error": {"type": "string", "description": "a stable code (see each response)"},
            "message": {"type": "string", "description": "for people; never exception text"},
            "connected": {
                "const": False,
                "description": "with schwab_not_connected / schwab_reauth_required",
            },
            "retry_after": {"type": "number", "minimum": 0, "description": "seconds, with the rate limits"},
            "fields": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "description": "with invalid_ticket: each bad field and what is wrong with it",
            },
        },
        "additionalProperties": False,
    }


def _schemas() -> dict[str, Any]:
    positions = _shared_schema("positions.v2.schema.json")
    balances = _shared_schema("balances.v2.schema.json")
    return {
        "Error": _error_schema(),
        "PositionsSnapshot": positions,
        "BalancesSnapshot": balances,
        "Account": {
            "type": "object",
            "required": ["hashValue", "account_id", "type", "display_number"],
            "properties": {
                "hashValue": {"type": "string", "description": "Schwab's opaque account hash"},
                "account_id": {"type": "string", "description": "the same hash: the id used in URLs"},
                "type": {"type": "string", "examples": ["MARGIN", "CASH", "UNKNOWN"]},
                "display_number": {"type": "string", "description": "masked, e.g. …3201"},
            },
            "additionalProperties": False,
        },
        "Summary": {
            "type": "object",
            "required": [
                "account_type",
                "display_number",
                "net_liquidation_value",
                "buying_power",
                "cash",
                "day_pnl",
                "day_pnl_percent",
                "display",
                "positions_count",
                "as_of",
                "age_seconds",
                "stale",
                "stale_reason",
            ],
            "properties": {
                "account_type": NULLABLE_TEXT,
                "display_number": NULLABLE_TEXT,
                "net_liquidation_value": DECIMAL_TEXT,
                "buying_power": DECIMAL_TEXT,
                "cash": DECIMAL_TEXT,
                "day_pnl": DECIMAL_TEXT,
                "day_pnl_percent": DECIMAL_TEXT,
                "display": {
                    "type": "object",
                    "description": "the same values formatted for the card ($1,234.50, -$72.72, -0.03%, —)",
                    "required": [
                        "net_liquidation_value",
                        "buying_power",
                        "cash",
                        "day_pnl",
                        "day_pnl_percent",
                    ],
                    "additionalProperties": {"type": "string"},
                },
                "positions_count": {"type": ["integer", "null"], "minimum": 0},
                "as_of": {"type": "string", "description": "when Schwab's data was fetched (UTC)"},
                "age_seconds": {"type": "integer", "minimum": 0},
                "stale": {"type": "boolean"},
                "stale_reason": NULLABLE_TEXT,
            },
            "additionalProperties": False,
        },
        "OrdersDocument": _shared_schema("orders.v1.schema.json"),
        "OrderEvent": _shared_schema("order_event.v1.schema.json"),
        "Order": _shared_schema("orders.v1.schema.json")["properties"]["orders"]["items"],
        "Ticket": {
            "type": "object",
            "description": "Thor's order ticket: an equity (market, limit, stop, stop-limit) or a "
            "single-leg option (market, limit). Prices are decimal strings on Schwab's ticks (0.01 at $1 and "
            "above, 0.0001 below); quantities whole shares or contracts.",
            "required": ["symbol", "instruction", "quantity"],
            "properties": {
                "asset": {"enum": ["equity", "option"], "default": "equity"},
                "symbol": {"type": "string", "examples": ["AAPL", "SPY   261218P00505000"]},
                "instruction": {
                    "enum": [
                        "buy",
                        "sell",
                        "sell_short",
                        "buy_to_cover",
                        "buy_to_open",
                        "sell_to_open",
                        "buy_to_close",
                        "sell_to_close",
                    ]
                },
                "quantity": {"type": "integer", "minimum": 1, "maximum": 1000000},
                "order_type": {"enum": ["market", "limit", "stop", "stop_limit"], "default": "limit"},
                "limit_price": {"type": "string", "examples": ["150.00"]},
                "stop_price": {"type": "string", "examples": ["145.50"]},
                "duration": {"enum": ["day", "good_till_cancel", "fill_or_kill"], "default": "day"},
                "session": {"enum": ["normal", "am", "pm", "seamless"], "default": "normal"},
            },
            "additionalProperties": False,
        },
        "Preview": {
            "type": "object",
            "required": ["accepted", "order_value", "commission", "fees", "warnings", "rejects"],
            "properties": {
                "accepted": {"type": "boolean", "description": "false when Schwab would reject it"},
                "order_value": DECIMAL_TEXT,
                "commission": DECIMAL_TEXT,
                "fees": DECIMAL_TEXT,
                "projected_commission": DECIMAL_TEXT,
                "projected_buying_power": DECIMAL_TEXT,
                "projected_available_funds": DECIMAL_TEXT,
                "warnings": {"type": "array", "items": {"type": "string"}},
                "rejects": {"type": "array", "items": {"type": "string"}},
            },
            "additionalProperties": False,
        },
        "OrderPlaced": {
            "type": "object",
            "required": ["success", "outcome", "order_id"],
            "properties": {
                "success": {"const": True},
                "outcome": {"enum": ["placed", "unknown"]},
                "order_id": {"type": ["string", "null"]},
                "replaced_order_id": {"type": "string"},
                "order": {"type": "object", "description": "the order as Schwab reports it (see Order)"},
                "message": {"type": "string"},
            },
            "additionalProperties": False,
        },
        "ConnectionStatus": {
            "type": "object",
            "required": ["success", "connected", "status"],
            "properties": {"success": {"const": True}, **CONNECTION_STATE},
            "additionalProperties": False,
        },
        "ConnectionState": {
            "description": "the connection's state, as the live channel pushes it",
            "type": "object",
            "required": ["connected", "status"],
            "properties": CONNECTION_STATE,
            "additionalProperties": False,
        },
        "Health": {
            "type": "object",
            "required": ["success", "redis", "database", "oldest_snapshot_age_seconds", "streaming"],
            "properties": {
                "success": {"type": "boolean"},
                "redis": {"enum": ["ok", "unavailable"]},
                "database": {"enum": ["ok", "unavailable"]},
                "oldest_snapshot_age_seconds": {"type": ["integer", "null"], "minimum": 0},
                "streaming": {
                    "description": "the stream workers heard from within a lease (null: Redis unavailable)",
                    "oneOf": [
                        {"type": "null"},
                        {
                            "type": "object",
                            "required": [
                                "workers",
                                "connections",
                                "streaming",
                                "last_heartbeat_age_seconds",
                                "lag_ms",
                            ],
                            "properties": {
                                "workers": {"type": "integer", "minimum": 0},
                                "connections": {"type": "integer", "minimum": 0, "description": "leased"},
                                "streaming": {
                                    "type": "integer",
                                    "minimum": 0,
                                    "description": "logged in now",
                                },
                                "last_heartbeat_age_seconds": {"type": ["number", "null"], "minimum": 0},
                                "lag_ms": {
                                    "type": ["integer", "null"],
                                    "description": "Schwab's message time to its event (worst worker)",
                                },
                            },
                            "additionalProperties": False,
                        },
                    ],
                },
            },
            "additionalProperties": False,
        },
    }


# --- Responses ----------------------------------------------------------------------------------------------

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


def _error_responses(kinds: list[type[errors.SchwabError]]) -> dict[str, Any]:
    by_status: dict[int, list[str]] = {}
    for kind in kinds:
        by_status.setdefault(kind.status, [])
        if kind.code not in by_status[kind.status]:
            by_status[kind.status].append(kind.code)
    responses: dict[str, Any] = {}
    for status, codes in sorted(by_status.items()):
        schema = {
            "allOf": [
                {"$ref": "#/components/schemas/Error"},
                {"properties": {"error": {"enum": sorted(codes)}}},
            ]
        }
        response: dict[str, Any] = {
            "description": "error: " + ", ".join(f"`{code}`" for code in sorted(codes)),
            "content": {JSON: {"schema": schema}},
        }
        if status == 405:
            response["headers"] = {
                "Allow": {"schema": {"type": "string"}, "description": "the methods allowed"}
            }
        if status == 503:
            response["headers"] = {
                "Retry-After": {"schema": {"type": "string"}, "description": "with the rate-limit codes"}
            }
        responses[str(status)] = response
    return responses


def _ok(schema: dict[str, Any], description: str, example: Any | None = None) -> dict[str, Any]:
    content: dict[str, Any] = {"schema": schema}
    if example is not None:
        content["example"] = example
    return {"description": description, "content": {JSON: content}}


CONNECTION_STATE: dict[str, Any] = {
    "connected": {"type": "boolean"},
    "status": {"enum": ["not_connected", "active", "expiring", "reauth_required", "disconnected"]},
    "connected_at": NULLABLE_TEXT,
    "access_token_expires_at": NULLABLE_TEXT,
    "refresh_token_expires_at": NULLABLE_TEXT,
    "last_refreshed_at": NULLABLE_TEXT,
    "last_error": NULLABLE_TEXT,
}


def _sse_event(name: str, data: dict[str, Any]) -> dict[str, Any]:
    """One server-sent event: its name, the cursor to resume from, and JSON data of the given schema."""
    return {
        "type": "object",
        "required": ["event", "data"],
        "properties": {
            "event": {"const": name},
            "id": {"type": "string", "description": "the cursor to resume from (Last-Event-ID)"},
            "data": {"type": "string", "contentMediaType": "application/json", "contentSchema": data},
            "retry": {"type": "integer"},
        },
    }


def _exactly(**properties: Any) -> dict[str, Any]:
    """An object of exactly these properties, all required (no `success` flag: not an API answer)."""
    return {
        "type": "object",
        "required": list(properties),
        "properties": properties,
        "additionalProperties": False,
    }


def _success(**properties: Any) -> dict[str, Any]:
    """A success answer: {"success": true} and exactly these properties, all required."""
    return {
        "type": "object",
        "required": ["success", *properties],
        "properties": {"success": {"const": True}, **properties},
        "additionalProperties": False,
    }


def _published(kind: str) -> dict[str, Any]:
    return _success(
        message={
            "type": "string",
            "examples": [f"{kind.title()} published to Redis for account 499E…"],
        },
        payload={"$ref": f"#/components/schemas/{kind.title()}Snapshot"},
    )


ACCOUNT_ID = {
    "name": "account_id",
    "in": "path",
    "required": True,
    "description": "Schwab's opaque account hash (`hashValue` from GET /schwab/accounts/)",
    "schema": {"type": "string", "minLength": 1, "pattern": "^[^/]+$"},
}
ORDER_ID = {
    "name": "order_id",
    "in": "path",
    "required": True,
    "description": "Schwab's order id",
    "schema": {"type": "string", "minLength": 1, "pattern": "^[^/]+$"},
}
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": True,
    "description": "a fresh random value per order; repeat it to retry the same order safely",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}
UNKNOWN_OUTCOME = "status unknown: do not resubmit"
TICKET_BODY = {
    "required": True,
    "content": {
        JSON: {
            "schema": {"$ref": "#/components/schemas/Ticket"},
            "example": {
                "symbol": "AAPL",
                "instruction": "buy",
                "quantity": 10,
                "order_type": "limit",
                "limit_price": "150.00",
            },
        }
    },
}
SESSION: list[dict[str, list[str]]] = [{"session": []}]
SESSION_AND_CSRF: list[dict[str, list[str]]] = [{"session": [], "csrf": []}]
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


def _redirect(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "headers": {"Location": {"schema": {"type": "string"}, "required": True}},
    }


def _paths() -> dict[str, Any]:
    callback_errors = _error_responses(
        [
            *SIGNED_IN,
            errors.OAuthStateInvalid,
            errors.OAuthDenied,
            errors.OAuthCodeMissing,
            errors.TokenExchangeFailed,
            errors.SchwabTimeout,
            errors.SchwabUnreachable,
            errors.RedisUnavailable,
        ]
    )
    for response in callback_errors.values():  # a browser asking for HTML gets a short page instead
        response["content"]["text/html"] = {"schema": {"type": "string"}}
    return {
        "/schwab/oauth/start/": {
            "get": {
                "operationId": "oauth_start",
                "summary": "Send the browser to Schwab's consent page (login required)",
                "description": "Stores a single-use `state` in the session (10 minutes). Anonymous "
                "browsers are redirected to Thor's login page.",
                "security": SESSION,
                "parameters": [
                    {
                        "name": "next",
                        "in": "query",
                        "required": False,
                        "description": "where to return on this site afterwards (other sites are ignored)",
                        "schema": {"type": "string"},
                    }
                ],
                "responses": {
                    "302": _redirect("to Schwab's consent page, or to Thor's login page"),
                    **_error_responses(
                        [
                            errors.BadRequest,
                            errors.MethodNotAllowed,
                            errors.InternalError,
                            errors.DatabaseUnavailable,
                        ]
                    ),
                },
            }
        },
        "/schwab/oauth/callback/": {
            "get": {
                "operationId": "oauth_callback",
                "summary": "Schwab's redirect back: check user and state, then exchange the code",
                "security": SESSION,
                "parameters": [
                    {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
                    for name in ("code", "session", "state", "error")
                ],
                "responses": {
                    "302": _redirect("to `next` with `schwab=connected` in its query"),
                    **callback_errors,
                },
            }
        },
        "/schwab/oauth/status/": {
            "get": {
                "operationId": "oauth_status",
                "summary": "The connection's state and expiries (never a token)",
                "security": SESSION,
                "responses": {
                    "200": _ok(
                        {"$ref": "#/components/schemas/ConnectionStatus"},
                        "the connection",
                        {"success": True, "connected": False, "status": "not_connected"},
                    ),
                    **_error_responses(SIGNED_IN),
                },
            }
        },
        "/schwab/oauth/disconnect/": {
            "post": {
                "operationId": "oauth_disconnect",
                "summary": "Forget the user's Schwab tokens",
                "description": "Send the csrftoken cookie's value as X-CSRFToken.",
                "security": SESSION_AND_CSRF,
                "responses": {
                    "200": _ok(
                        _success(
                            connected={"const": False},
                            status={"enum": ["disconnected", "not_connected"]},
                        ),
                        "disconnected (or there was nothing to disconnect)",
                        {"success": True, "connected": False, "status": "disconnected"},
                    ),
                    **_error_responses([*SIGNED_IN, errors.CsrfFailed]),
                },
            }
        },
        "/schwab/accounts/": {
            "get": {
                "operationId": "list_accounts",
                "summary": "The user's Schwab accounts (masked numbers only)",
                "security": SESSION,
                "responses": {
                    "200": _ok(
                        _success(
                            accounts={
                                "type": "array",
                                "items": {"$ref": "#/components/schemas/Account"},
                            },
                        ),
                        "the accounts the current Schwab login shares",
                        {"success": True, "accounts": [EXAMPLE_ACCOUNT]},
                    ),
                    **_error_responses(UPSTREAM),
                },
            }
        },
        "/schwab/accounts/{account_id}/positions/": {
            "get": {
                "operationId": "get_positions",
                "summary": "Refresh the account from Schwab and publish both snapshots; answer the positions",
                "security": SESSION,
                "parameters": [ACCOUNT_ID],
                "responses": {
                    "200": _ok(_published("positions"), "published"),
                    **_error_responses(ACCOUNT),
                },
            }
        },
        "/schwab/accounts/{account_id}/balances/": {
            "get": {
                "operationId": "get_balances",
                "summary": "Refresh the account from Schwab and publish both snapshots; answer the balances",
                "security": SESSION,
                "parameters": [ACCOUNT_ID],
                "responses": {
                    "200": _ok(_published("balances"), "published"),
                    **_error_responses(ACCOUNT),
                },
            }
        },
        "/schwab/accounts/{account_id}/positions/latest/": {
            "get": {
                "operationId": "latest_positions",
                "summary": "The last published positions snapshot, from Redis only (null before the first)",
                "security": SESSION,
                "parameters": [ACCOUNT_ID],
                "responses": {
                    "200": _ok(
                        _success(
                            payload={
                                "oneOf": [
                                    {"$ref": "#/components/schemas/PositionsSnapshot"},
                                    {"type": "null"},
                                ]
                            },
                        ),
                        "the snapshot, or null",
                        {"success": True, "payload": None},
                    ),
                    **_error_responses(ACCOUNT),
                },
            }
        },
        "/schwab/accounts/{account_id}/orders/preview/": {
            "post": {
                "operationId": "order_preview",
                "summary": "What Schwab says of a ticket before placing it (nothing is placed)",
                "security": SESSION_AND_CSRF,
                "parameters": [ACCOUNT_ID],
                "requestBody": TICKET_BODY,
                "responses": {
                    "200": _ok(
                        _success(
                            preview={"$ref": "#/components/schemas/Preview"},
                        ),
                        "the preview",
                    ),
                    **_error_responses([*ORDER_CHANGE]),
                },
            }
        },
        "/schwab/accounts/{account_id}/orders/": {
            "get": {
                "operationId": "list_orders",
                "summary": "The account's orders, newest first, and whether the user may trade",
                "security": SESSION,
                "parameters": [
                    ACCOUNT_ID,
                    {"name": "status", "in": "query", "required": False, "schema": {"type": "string"}},
                    {"name": "from", "in": "query", "required": False, "schema": {"type": "string"}},
                    {"name": "to", "in": "query", "required": False, "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": _ok(
                        _success(
                            orders={"type": "array", "items": {"$ref": "#/components/schemas/Order"}},
                            trading={
                                "type": "object",
                                "required": ["enabled", "reason", "message"],
                                "properties": {
                                    "enabled": {"type": "boolean"},
                                    "reason": NULLABLE_TEXT,
                                    "message": NULLABLE_TEXT,
                                },
                            },
                        ),
                        "the orders (default: the last 7 days; at most 60 days back)",
                    ),
                    **_error_responses(ORDER_READ),
                },
            },
            "post": {
                "operationId": "place_order",
                "summary": "Place an order, once per Idempotency-Key",
                "description": "201 placed (with Schwab's order id); 202 when Schwab did not confirm it: "
                "do not resubmit, ask again with the same key. The same key with the same ticket answers the "
                "first outcome; with another ticket, 422.",
                "security": SESSION_AND_CSRF,
                "parameters": [ACCOUNT_ID, IDEMPOTENCY_KEY],
                "requestBody": TICKET_BODY,
                "responses": {
                    "201": _ok({"$ref": "#/components/schemas/OrderPlaced"}, "placed"),
                    "202": _ok(
                        {"$ref": "#/components/schemas/OrderPlaced"}, "status unknown: do not resubmit"
                    ),
                    **_error_responses([*ORDER_CHANGE, errors.OrderNotPlaced]),
                },
            },
        },
        "/schwab/accounts/{account_id}/orders/{order_id}/": {
            "get": {
                "operationId": "get_order",
                "summary": "One of the account's orders",
                "security": SESSION,
                "parameters": [ACCOUNT_ID, ORDER_ID],
                "responses": {
                    "200": _ok(
                        _success(
                            order={"$ref": "#/components/schemas/Order"},
                        ),
                        "the order",
                    ),
                    **_error_responses(ORDER_READ),
                },
            },
            "put": {
                "operationId": "replace_order",
                "summary": "Replace a working order, once per Idempotency-Key (answers the new order id)",
                "security": SESSION_AND_CSRF,
                "parameters": [ACCOUNT_ID, ORDER_ID, IDEMPOTENCY_KEY],
                "requestBody": TICKET_BODY,
                "responses": {
                    "201": _ok({"$ref": "#/components/schemas/OrderPlaced"}, "replaced"),
                    "202": _ok(
                        {"$ref": "#/components/schemas/OrderPlaced"}, "status unknown: do not resubmit"
                    ),
                    **_error_responses([*ORDER_CHANGE, errors.OrderNotReplaceable, errors.OrderNotPlaced]),
                },
            },
            "delete": {
                "operationId": "cancel_order",
                "summary": "Cancel a working order",
                "security": SESSION_AND_CSRF,
                "parameters": [ACCOUNT_ID, ORDER_ID],
                "responses": {
                    "200": _ok(
                        {
                            "type": "object",
                            "required": ["success", "order"],
                            "properties": {"success": {"const": True}, "order": {"type": "object"}},
                            "additionalProperties": False,
                        },
                        "canceled (or already canceled)",
                    ),
                    "202": _ok({"$ref": "#/components/schemas/OrderPlaced"}, "Schwab did not confirm yet"),
                    **_error_responses([*ORDER_CHANGE, errors.OrderNotCancelable]),
                },
            },
        },
        "/schwab/orders/stream/": {
            "get": {
                "operationId": "orders_stream",
                "summary": "The page's live channel: order events, account states and the connection's "
                "state as server-sent events (ASGI server only)",
                "description": "`event: order` carries an OrderEvent as `data`; `event: reset` says events "
                "were trimmed (reload the orders). `positions`, `balances` and `summary` carry the states of "
                "the accounts the user owns, as published (a PositionsSnapshot, a BalancesSnapshot, a "
                "summary card), and `connection` the connection's state: the stream starts with the current "
                "ones, then sends each change once, never an older state after a newer. `event: ready` "
                "follows the backlog and the current states. Every event's `id` is a cursor over the user's "
                "accounts' order events: the browser sends the last one back as Last-Event-ID and the stream "
                "resumes right after it. Comment lines (`: heartbeat`) keep it open. The stream ends after "
                "THOR_SSE_MAX_SECONDS or when the user's accounts change; the browser reconnects.",
                "security": SESSION,
                "parameters": [
                    {
                        "name": "Last-Event-ID",
                        "in": "header",
                        "required": False,
                        "description": "the last event id received (`<account_id>=<entry id>,...`)",
                        "schema": {"type": "string", "maxLength": 4096},
                    }
                ],
                "responses": {
                    "200": {
                        "description": "the event stream",
                        "content": {
                            "text/event-stream": {
                                "schema": {
                                    "description": "one event of the stream (comment lines are heartbeats)",
                                    "oneOf": [
                                        _sse_event("order", {"$ref": "#/components/schemas/OrderEvent"}),
                                        _sse_event(
                                            "positions", {"$ref": "#/components/schemas/PositionsSnapshot"}
                                        ),
                                        _sse_event(
                                            "balances", {"$ref": "#/components/schemas/BalancesSnapshot"}
                                        ),
                                        _sse_event(
                                            "summary",
                                            _exactly(
                                                account_id={"type": "string"},
                                                summary={"$ref": "#/components/schemas/Summary"},
                                            ),
                                        ),
                                        _sse_event(
                                            "connection", {"$ref": "#/components/schemas/ConnectionState"}
                                        ),
                                        _sse_event(
                                            "ready",
                                            _exactly(
                                                account_ids={"type": "array", "items": {"type": "string"}}
                                            ),
                                        ),
                                        _sse_event(
                                            "reset",
                                            _exactly(
                                                account_id={"type": "string"},
                                                reason={"const": "events_trimmed"},
                                            ),
                                        ),
                                    ],
                                },
                                "example": "retry: 2000\n\nid: 4F1C...=1795704567966-0\nevent: ready\n"
                                'data: {"account_ids": ["4F1C..."]}\n\n',
                            }
                        },
                    },
                    **_error_responses(
                        [
                            *SIGNED_IN,
                            errors.SchwabNotConnected,
                            errors.InvalidLastEventId,
                            errors.StreamNeedsAsgi,
                            errors.RedisUnavailable,
                        ]
                    ),
                },
            }
        },
        "/schwab/account/summary/": {
            "get": {
                "operationId": "account_summary",
                "summary": "The Account Summary card (served from Redis while fresh)",
                "security": SESSION,
                "parameters": [
                    {
                        "name": "account_hash",
                        "in": "query",
                        "required": False,
                        "description": "the account (its hash); the first account when omitted",
                        "schema": {"type": "string"},
                    }
                ],
                "responses": {
                    "200": _ok(
                        _success(
                            account_hash={"type": "string"},
                            summary={"$ref": "#/components/schemas/Summary"},
                        ),
                        "the card; `stale` with the reason when Schwab failed and older numbers are shown",
                        {
                            "success": True,
                            "account_hash": EXAMPLE_ACCOUNT["hashValue"],
                            "summary": EXAMPLE_SUMMARY,
                        },
                    ),
                    **_error_responses(ACCOUNT),
                },
            }
        },
        "/schwab/health/": {
            "get": {
                "operationId": "health",
                "summary": "Redis, the database and the oldest snapshot's age (public)",
                "security": [],
                "responses": {
                    "200": _ok(
                        {"$ref": "#/components/schemas/Health"},
                        "healthy",
                        {
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
                        },
                    ),
                    "503": _ok({"$ref": "#/components/schemas/Health"}, "a service is down"),
                    **_error_responses([errors.BadRequest, errors.MethodNotAllowed, errors.InternalError]),
                },
            }
        },
        "/schwab/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document",
                "security": [],
                "responses": {
                    "200": _ok({"type": "object"}, "the OpenAPI document"),
                    **_error_responses([errors.BadRequest, errors.MethodNotAllowed]),
                },
            }
        },
    }


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
        "paths": _paths(),
        "components": {
            "schemas": _schemas(),
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
