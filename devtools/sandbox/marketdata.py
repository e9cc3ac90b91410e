"""Market Data API v1: quotes (schwab-api.md section 5b), consistent with the book's moving prices.

A quote's last and mark are the security's price now (the price orders fill at), the bid and ask one tick
either side, the close the price at the start of the UTC day. Numbers are JSON numbers and times epoch
milliseconds, as Schwab sends them. Symbols the sandbox does not know are named under
`errors.invalidSymbols` (a partial success, still 200).
"""

from __future__ import annotations

from decimal import Decimal

from devtools.sandbox.book import CENT, Security, previous_close, price_at
from devtools.sandbox.http import Request, Response, service_error
from devtools.sandbox.order_rules import securities
from devtools.sandbox.state import SandboxState, Token

SUB_DOLLAR_TICK = Decimal("0.0001")


def _quote(security: Security, state: SandboxState) -> dict[str, object]:
    now = state.now()
    price = price_at(security, now)
    close = previous_close(security, now)
    tick = CENT if price >= 1 else SUB_DOLLAR_TICK
    at = int(now.timestamp() * 1000)
    change = price - close
    return {
        "assetMainType": security.asset_type,
        "symbol": security.symbol,
        "quoteType": "NBBO",
        "realtime": True,
        "reference": {"cusip": security.cusip, "description": security.description},
        "quote": {
            "bidPrice": float(price - tick),
            "askPrice": float(price + tick),
            "lastPrice": float(price),
            "mark": float(price),
            "closePrice": float(close),
            "netChange": float(change),
            "netPercentChange": float(change / close * 100) if close else 0.0,
            "bidSize": 100,
            "askSize": 100,
            "lastSize": 100,
            "quoteTime": at,
            "tradeTime": at,
            "securityStatus": "Normal",
        },
    }


def quotes(state: SandboxState, request: Request, token: Token) -> Response:
    wanted = [symbol.strip() for symbol in (request.arg("symbols") or "").split(",") if symbol.strip()]
    if not wanted:
        return service_error(400, "Bad Request", "symbols is required")
    known = securities(state)
    with state.lock:
        found: dict[str, object] = {s: _quote(known[s], state) for s in wanted if s in known}
    unknown = [symbol for symbol in wanted if symbol not in known]
    if unknown:
        found["errors"] = {"invalidSymbols": unknown}
    return Response.json(found)
