"""The sandbox's quotes (Market Data API): the book's moving prices, one tick of spread, unknowns named."""

from __future__ import annotations

from decimal import Decimal

import requests

from devtools.sandbox.book import price_at
from devtools.sandbox.order_rules import securities
from devtools.testing import login


def _quotes(sandbox, token: str, symbols: str) -> requests.Response:
    return requests.get(
        f"{sandbox.url}/marketdata/v1/quotes",
        params={"symbols": symbols, "fields": "quote"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )


def test_a_quote_follows_the_price_orders_fill_at(sandbox, sandbox_clock):
    token = login(sandbox)["access_token"]
    aapl = securities(sandbox.state)["AAPL"]
    seen = set()
    for _ in range(3):
        body = _quotes(sandbox, token, "AAPL,KO").json()
        quote = body["AAPL"]["quote"]
        price = price_at(aapl, sandbox_clock())
        assert Decimal(str(quote["lastPrice"])) == Decimal(str(quote["mark"])) == price
        assert Decimal(str(quote["bidPrice"])) == price - Decimal("0.01")
        assert Decimal(str(quote["askPrice"])) == price + Decimal("0.01")
        assert quote["quoteTime"] == int(sandbox_clock().timestamp() * 1000)
        assert set(body) == {"AAPL", "KO"}
        seen.add(price)
        sandbox_clock.advance(seconds=60)
    assert len(seen) > 1  # the prices move with the clock


def test_unknown_symbols_are_named_and_the_rest_quoted(sandbox):
    token = login(sandbox)["access_token"]
    body = _quotes(sandbox, token, "KO,ZZZZ").json()
    assert set(body) == {"KO", "errors"} and body["errors"] == {"invalidSymbols": ["ZZZZ"]}


def test_quotes_need_a_valid_token(sandbox, sandbox_clock):
    token = login(sandbox)["access_token"]
    sandbox_clock.advance(minutes=31)
    assert _quotes(sandbox, token, "KO").status_code == 401
    assert _quotes(sandbox, "not-a-token", "KO").status_code == 401
