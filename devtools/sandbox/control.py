"""The sandbox's own control endpoints under /sandbox/: faults, counters, clock, token expiry, reset.

They are not part of Schwab's API; tests, demos and benchmarks use them to steer the sandbox.
"""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from devtools.sandbox import execution
from devtools.sandbox.book import price_at
from devtools.sandbox.http import Request, Response
from devtools.sandbox.state import FAULT_KINDS, STREAM_FAULT_KINDS, Fault, SandboxState, StreamFault


def _body(request: Request) -> dict[str, Any] | Response:
    if not request.body:
        return {}
    try:
        data = request.json()
    except ValueError:
        return Response.json({"error": "body must be a JSON object"}, 400)
    return data if isinstance(data, dict) else Response.json({"error": "body must be a JSON object"}, 400)


def _int(data: dict[str, Any], name: str, default: int) -> int:
    value = data.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(name)
    return value


def stats(state: SandboxState, request: Request) -> Response:
    with state.lock:
        return Response.json(
            {
                "calls": dict(state.calls),
                "token_grants": dict(state.token_grants),
                "faults_injected": dict(state.faults_injected),
                "pending_faults": len(state.faults),
                "rates": state.request_rates(),
                "stream": {**state.stream_stats, "sessions": dict(+state.stream_sessions)},
                "now": state.now().isoformat(),
            }
        )


def reset_stats(state: SandboxState, request: Request) -> Response:
    """Zero the counters and the request log, keeping users, tokens and orders."""
    with state.lock:
        state.calls.clear()
        state.token_grants.clear()
        state.faults_injected.clear()
        state.api_requests.clear()
    return Response.json({"reset": True})


def add_fault(state: SandboxState, request: Request) -> Response:
    data = _body(request)
    if isinstance(data, Response):
        return data
    kind = str(data.get("kind", ""))
    if kind not in FAULT_KINDS:
        return Response.json({"error": f"kind must be one of {', '.join(FAULT_KINDS)}"}, 400)
    try:
        fault = Fault(
            kind=kind,
            path_prefix=str(data.get("path_prefix", "")),
            remaining=_int(data, "count", 1),
            retry_after=_int(data, "retry_after", 1),
            latency_ms=_int(data, "latency_ms", 0),
            method=str(data.get("method", "")).upper(),
        )
    except ValueError as bad:
        return Response.json({"error": f"{bad} must be an integer"}, 400)
    with state.lock:
        state.faults.append(fault)
    return Response.json({"queued": len(state.faults)}, 201)


def clear_faults(state: SandboxState, request: Request) -> Response:
    with state.lock:
        state.faults.clear()
    return Response.json({"queued": 0})


def configure(state: SandboxState, request: Request) -> Response:
    data = _body(request)
    if isinstance(data, Response):
        return data
    try:
        with state.lock:
            if "latency_ms" in data:
                state.config.latency_ms = _int(data, "latency_ms", 0)
            if "rotate_refresh_token" in data:
                state.config.rotate_refresh_token = bool(data["rotate_refresh_token"])
            if "access_token_ttl_seconds" in data:
                state.config.access_token_ttl = timedelta(
                    seconds=_int(data, "access_token_ttl_seconds", 1800)
                )
    except ValueError as bad:
        return Response.json({"error": f"{bad} must be an integer"}, 400)
    return Response.json({"latency_ms": state.config.latency_ms})


def advance_clock(state: SandboxState, request: Request) -> Response:
    data = _body(request)
    if isinstance(data, Response):
        return data
    try:
        seconds = _int(data, "seconds", 0)
    except ValueError:
        return Response.json({"error": "seconds must be an integer"}, 400)
    with state.lock:
        state.clock_offset += timedelta(seconds=seconds)
        return Response.json({"now": state.now().isoformat()})


def expire_tokens(state: SandboxState, request: Request) -> Response:
    data = _body(request)
    if isinstance(data, Response):
        return data
    kind = data.get("kind", "access")
    if kind not in ("access", "refresh"):
        return Response.json({"error": "kind must be access or refresh"}, 400)
    username = data.get("username")
    expired = state.expire_tokens(username=str(username) if username else None, kind=str(kind))
    return Response.json({"expired": expired})


def users(state: SandboxState, request: Request) -> Response:
    """The seeded logins and their accounts (sandbox data only: no real account is ever here)."""
    return Response.json(
        [
            {
                "username": user.username,
                "password": user.password,
                "accounts": [
                    {
                        "accountNumber": account.account_number,
                        "hashValue": account.hash_value,
                        "type": account.type,
                        "positions": len(account.holdings),
                    }
                    for account in user.accounts
                ],
            }
            for user in state.users.values()
        ]
    )


def reset(state: SandboxState, request: Request) -> Response:
    state.reset()
    return Response.json({"reset": True})


def add_stream_fault(state: SandboxState, request: Request) -> Response:
    """Queue a streamer fault: {"kind": drop|stall|refuse_login|expire_token|lose, "count": 1,
    "seconds": 30}."""
    data = _body(request)
    if isinstance(data, Response):
        return data
    kind = str(data.get("kind", ""))
    if kind not in STREAM_FAULT_KINDS:
        return Response.json({"error": f"kind must be one of {', '.join(STREAM_FAULT_KINDS)}"}, 400)
    try:
        fault = StreamFault(kind, remaining=_int(data, "count", 1), seconds=float(data.get("seconds", 30)))
    except (TypeError, ValueError):
        return Response.json({"error": "count must be an integer and seconds a number"}, 400)
    with state.lock:
        state.stream_faults.append(fault)
    return Response.json({"queued": len(state.stream_faults)}, 201)


def execute(state: SandboxState, request: Request, order_id: str) -> Response:
    """The market acts on a working order: {"action": "fill", "quantity": "5", "price": "101.25"}
    (quantity defaults to all that remains, price to the current one, or the limit when that is better
    for a limit order: a limit fills at its price or better, and a fill past it is refused; a spread's price
    is its net per spread, its legs filled together) or {"action": "reject"}."""
    data = _body(request)
    if isinstance(data, Response):
        return data
    with state.lock:
        order = state.orders.get(int(order_id)) if order_id.isdigit() else None
        if order is None or order["status"] != "WORKING":
            return Response.json({"error": "no working order with this id"}, 404)
        account = state.accounts_by_hash[order["_hash"]][1]
        if data.get("action") == "reject":
            execution.reject(state, account, order, str(data.get("reason") or "Insufficient buying power"))
            return Response.json({"status": order["status"]})
        try:
            remaining = Decimal(str(order["remainingQuantity"]))
            quantity = Decimal(str(data.get("quantity", remaining)))
            price = (
                Decimal(str(data["price"])) if "price" in data else price_at(order["_security"], state.now())
            )
        except InvalidOperation:
            return Response.json({"error": "quantity and price must be numbers"}, 400)
        if not 0 < quantity <= remaining or price <= 0:
            return Response.json({"error": "quantity must be positive and at most what remains"}, 400)
        if len(order["_securities"]) > 1:  # a spread: its price is the net per spread, a credit received
            credit = -1 if order["orderType"] == "NET_CREDIT" else 1
            price = price * credit if "price" in data else execution.net_price(order, state.now())
            if order["orderType"] in execution.NET and not execution.within_net(order, price):
                if "price" in data:
                    return Response.json({"error": "a spread fills at its net price or better"}, 400)
                price = Decimal(str(order["price"])) * credit
        elif order["orderType"] in {"LIMIT", "STOP_LIMIT"}:
            limit = Decimal(str(order["price"]))
            buying = order["orderLegCollection"][0]["instruction"] in execution.BUYS
            if "price" not in data:
                price = min(price, limit) if buying else max(price, limit)
            elif (price > limit) if buying else (price < limit):
                return Response.json({"error": "a limit order fills at its limit or better"}, 400)
        filled_at = time.time()  # wall clock, for benchmarks in other processes to start their timers at
        execution.fill(state, account, order, quantity, price)
        return Response.json(
            {"status": order["status"], "filledQuantity": order["filledQuantity"], "filled_at": filled_at}
        )
