"""GET /schwab/quotes/: the order ticket's quotes from the sandbox's Market Data API, exact, in the order
asked, unknown symbols named, bad input refused by name, and each symbol kept a few seconds in Redis."""

from __future__ import annotations

from decimal import Decimal

import pytest
import redis

from devtools.sandbox.book import previous_close, price_at
from devtools.sandbox.order_rules import securities
from devtools.testing import fault
from LiveData.schwab.orders import quotes
from LiveData.schwab.tests.web.test_openapi import conforms
from LiveData.shared import contract

pytestmark = pytest.mark.django_db
QUOTES = "/schwab/quotes/"


def ask(browser, symbols: str):
    return browser.get(QUOTES, {"symbols": symbols})


def test_quotes_are_exact_and_in_the_order_asked(browser, schwab, connected, fake_redis):
    response = ask(browser, "msft, aapl")
    assert response.status_code == 200
    conforms(QUOTES, "get", response)
    body = response.json()
    assert [quote["symbol"] for quote in body["quotes"]] == ["MSFT", "AAPL"] and body["unknown"] == []
    now = schwab.state.now()
    for quote in body["quotes"]:
        security = securities(schwab.state)[quote["symbol"]]
        price, close = price_at(security, now), previous_close(security, now)
        assert Decimal(quote["last"]) == Decimal(quote["mark"]) == price
        assert Decimal(quote["bid"]) < price < Decimal(quote["ask"])
        assert Decimal(quote["close"]) == close and Decimal(quote["net_change"]) == price - close
        assert quote["asset_type"] == "EQUITY" and quote["quoted_at"] == contract.timestamp(now)


def test_an_unknown_symbol_is_named_beside_the_known_ones(browser, schwab, connected, fake_redis):
    body = ask(browser, "AAPL,ZZZZ").json()
    assert [quote["symbol"] for quote in body["quotes"]] == ["AAPL"]
    assert body["unknown"] == ["ZZZZ"]


@pytest.mark.parametrize(
    ("symbols", "problem"),
    [
        ("", "at least one"),
        (",".join(f"S{n}" for n in range(21)), "At most 20"),
        ("AAPL,<script>", "Not a stock or option symbol: <SCRIPT>"),
    ],
)
def test_bad_symbols_are_a_400_naming_the_problem(browser, schwab, connected, fake_redis, symbols, problem):
    calls = schwab.state.calls["marketdata.quotes"]
    response = ask(browser, symbols)
    conforms(QUOTES, "get", response)
    assert (response.status_code, response.json()["error"]) == (400, "invalid_symbols")
    assert problem in response.json()["fields"]["symbols"]
    assert schwab.state.calls["marketdata.quotes"] == calls


def test_a_symbols_quote_is_kept_a_few_seconds(browser, schwab, connected, fake_redis, thor_clock, settings):
    settings.SCHWAB_QUOTE_CACHE_SECONDS = 2
    calls = schwab.state.calls["marketdata.quotes"]
    first = ask(browser, "AAPL").json()["quotes"]
    thor_clock.advance(seconds=1)
    assert ask(browser, "AAPL").json()["quotes"] == first  # from Redis
    assert schwab.state.calls["marketdata.quotes"] == calls + 1
    ask(browser, "AAPL,MSFT")  # only MSFT is asked of Schwab
    assert schwab.state.calls["marketdata.quotes"] == calls + 2
    thor_clock.advance(seconds=2)
    ask(browser, "AAPL")
    assert schwab.state.calls["marketdata.quotes"] == calls + 3


def test_quotes_need_a_login_and_a_connection(client, browser, db, fake_redis):
    conforms(QUOTES, "get", client.get(QUOTES, {"symbols": "AAPL"}))  # anonymous: 401
    response = ask(browser, "AAPL")
    conforms(QUOTES, "get", response)
    assert (response.status_code, response.json()["error"]) == (404, "schwab_not_connected")


def test_schwab_down_is_a_502_and_nothing_is_kept(browser, schwab, connected, fake_redis):
    fault(schwab, kind="503", count=5, path_prefix="/marketdata/")
    response = ask(browser, "AAPL")
    conforms(QUOTES, "get", response)
    assert response.status_code == 502
    assert fake_redis.get(contract.quote_cache_key("AAPL")) is None


def test_without_redis_the_quotes_come_from_schwab_and_say_nothing_of_it(
    browser, schwab, connected, fake_redis, monkeypatch
):
    """The cache is best effort: Redis gone, each quote is asked of Schwab; the answer is the same."""

    class Gone:
        def __getattr__(self, name):
            raise redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(quotes, "get_redis", Gone)
    calls = schwab.state.calls["marketdata.quotes"]
    for _ in range(2):
        response = ask(browser, "AAPL")
        assert response.status_code == 200 and response.json()["quotes"][0]["symbol"] == "AAPL"
        assert "111" not in response.content.decode()
    assert schwab.state.calls["marketdata.quotes"] == calls + 2
