"""The sandbox's WSGI application: routing, bearer checks, fault injection and call counting."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from devtools.sandbox import control, marketdata, oauth, orders, trader
from devtools.sandbox.http import Request, Response, Router, StartResponse, service_error
from devtools.sandbox.state import FAULT_KINDS, Fault, SandboxState, Token

logger = logging.getLogger(__name__)

HASH = r"(?P<account_hash>[^/]+)"
ORDER = r"(?P<order_id>[^/]+)"
FAULT_HEADER = "x-sandbox-fault"
MALFORMED_BODY = b'{"securitiesAccount": {"type": "MARGIN", "accountNumber": '


def build_router() -> Router:
    router = Router()
    add = router.add
    add("GET", "/v1/oauth/authorize", "oauth.authorize", oauth.authorize_page)
    add("POST", "/v1/oauth/authorize", "oauth.consent", oauth.authorize_submit)
    add("POST", "/v1/oauth/token", "oauth.token", oauth.token)
    add("GET", "/trader/v1/accounts/accountNumbers", "accounts.numbers", trader.account_numbers)
    add("GET", "/trader/v1/accounts", "accounts.list", trader.accounts)
    add("GET", "/trader/v1/accounts/" + HASH, "accounts.get", trader.account)
    add("GET", "/trader/v1/userPreference", "user_preference", trader.user_preference)
    add("GET", "/trader/v1/orders", "orders.list_all", orders.list_all)
    add("GET", f"/trader/v1/accounts/{HASH}/orders", "orders.list", orders.list_for_account)
    add("POST", f"/trader/v1/accounts/{HASH}/orders", "orders.place", orders.place)
    add("GET", f"/trader/v1/accounts/{HASH}/orders/{ORDER}", "orders.get", orders.get)
    add("PUT", f"/trader/v1/accounts/{HASH}/orders/{ORDER}", "orders.replace", orders.replace)
    add("DELETE", f"/trader/v1/accounts/{HASH}/orders/{ORDER}", "orders.cancel", orders.cancel)
    add("POST", f"/trader/v1/accounts/{HASH}/previewOrder", "orders.preview", orders.preview)
    add("GET", f"/trader/v1/accounts/{HASH}/transactions", "transactions.list", orders.transactions_list)
    transaction = r"(?P<transaction_id>[^/]+)"
    add(
        "GET",
        f"/trader/v1/accounts/{HASH}/transactions/{transaction}",
        "transactions.get",
        orders.transaction_get,
    )
    add("GET", "/marketdata/v1/quotes", "marketdata.quotes", marketdata.quotes)
    add("GET", "/sandbox/stats", "sandbox.stats", control.stats)
    add("POST", "/sandbox/stats/reset", "sandbox.stats_reset", control.reset_stats)
    add("POST", "/sandbox/faults", "sandbox.faults", control.add_fault)
    add("DELETE", "/sandbox/faults", "sandbox.faults_clear", control.clear_faults)
    add("POST", "/sandbox/config", "sandbox.config", control.configure)
    add("POST", "/sandbox/clock", "sandbox.clock", control.advance_clock)
    add("POST", "/sandbox/tokens/expire", "sandbox.expire", control.expire_tokens)
    add("GET", "/sandbox/users", "sandbox.users", control.users)
    add("POST", "/sandbox/reset", "sandbox.reset", control.reset)
    add("POST", "/sandbox/stream-faults", "sandbox.stream_faults", control.add_stream_fault)
    add("POST", f"/sandbox/orders/{ORDER}/execute", "sandbox.execute", control.execute)
    return router


class SandboxApp:
    """A WSGI callable serving one SandboxState."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.router = build_router()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request = Request.from_environ(environ)
        try:
            response = self.handle(request)
        except Exception:  # the sandbox must never show a traceback; Schwab answers 500
            logger.exception("sandbox handler failed for %s %s", request.method, request.path)
            response = service_error(500, "Internal Server Error")
        headers = [*response.headers, ("Content-Length", str(len(response.body)))]
        start_response(response.status_line(), headers)
        return [response.body]

    def handle(self, request: Request) -> Response:
        arrived = time.monotonic()  # before any injected latency: when the request reached "Schwab"
        route, params, path_exists = self.router.match(request.method, request.path)
        if route is None:
            if path_exists:
                return service_error(405, "Method Not Allowed", f"{request.method} is not supported here")
            return service_error(404, "Not Found", f"Requested route ('{request.path[:80]}') does not exist.")
        with self.state.lock:
            self.state.calls[route.name] += 1
        if route.name.startswith("sandbox.") or route.name in ("oauth.authorize", "oauth.consent"):
            return route.handler(self.state, request, **params)
        fault = self._fault_for(request)
        early = self._apply_fault_before(fault)
        if early is not None:
            return early
        if route.name == "oauth.token":
            response = route.handler(self.state, request, **params)
        else:
            token = trader.authenticate(self.state, request)
            if not isinstance(token, Token):
                return token
            with self.state.lock:
                self.state.api_requests.append((arrived, token.grant.user.username))
            response = route.handler(self.state, request, token, **params)
        return self._apply_fault_after(fault, response)

    def _fault_for(self, request: Request) -> Fault | None:
        header = request.headers.get(FAULT_HEADER)
        if header:
            kind, _, arg = header.partition(":")
            if kind in FAULT_KINDS:
                number = int(arg) if arg.isdigit() else None
                return Fault(kind, retry_after=1 if number is None else number, latency_ms=number or 0)
        return self.state.take_fault(request.path, request.method)

    def _apply_fault_before(self, fault: Fault | None) -> Response | None:
        latency = self.state.config.latency_ms + (
            fault.latency_ms if fault and fault.kind == "latency" else 0
        )
        if latency:
            self.state.stopping.wait(latency / 1000)
        if fault is None or fault.kind in ("latency", "truncated", "malformed", "accept_then_hang"):
            if fault is not None:
                self._count(fault)
            return None
        self._count(fault)
        if fault.kind == "429":
            response = service_error(429, "Too Many Requests", "Rate limit exceeded")
            response.headers.append(("Retry-After", str(fault.retry_after)))
            return response
        if fault.kind == "401":
            return service_error(401, "Client not authorized", trader.UNAUTHORIZED_DETAIL)
        if fault.kind == "hang":
            # Hold the connection open past any sane client timeout; shutdown releases it at once.
            self.state.stopping.wait(self.state.config.hang_seconds)
            return service_error(504, "Gateway Timeout")
        status = int(fault.kind)
        messages = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}
        return service_error(status, messages[status])

    def _apply_fault_after(self, fault: Fault | None, response: Response) -> Response:
        if fault is not None and fault.kind == "accept_then_hang":  # done, but the client never hears
            self.state.stopping.wait(self.state.config.hang_seconds)
            return service_error(504, "Gateway Timeout")
        if fault is None or fault.kind not in ("truncated", "malformed"):
            return response
        if fault.kind == "truncated":
            body = response.body[: max(1, len(response.body) // 2)]
        else:
            body = MALFORMED_BODY
        return Response(200, body, [("Content-Type", "application/json")])

    def _count(self, fault: Fault) -> None:
        with self.state.lock:
            self.state.faults_injected[fault.kind] += 1
