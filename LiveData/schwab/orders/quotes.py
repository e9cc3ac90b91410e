"""Market prices from Schwab's Market Data API (`GET /marketdata/v1/quotes`, schwab-api.md section 5b): the
order ticket's quotes and the notional cap's market price.

A quote's numbers are read exactly (Decimal from their text) and handed on as exact decimal text. Schwab's
answer for a symbol it does not know is not settled: its key may be absent, named under `errors`, or the
whole call a 404; each of those means "no quote" here (the symbol is named as unknown), never a guess. The
ticket's quotes are kept a few seconds per symbol in Redis (SCHWAB_QUOTE_CACHE_SECONDS), so a trader typing
and a page of tickets make one upstream call per symbol and period, not one per keystroke; the notional
cap always asks Schwab.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import redis

from LiveData.schwab.conf import schwab_settings
from LiveData.schwab.connection.session import TraderSession
from LiveData.schwab.exceptions import InvalidSymbols, SchwabBadRequest, SchwabMalformedResponse
from LiveData.schwab.orders.ticket_fields import EQUITY_SYMBOL, OCC_SYMBOL
from LiveData.shared import clock, contract
from LiveData.shared.redis_client import get_redis

logger = logging.getLogger(__name__)
PRICE_FIELDS = ("bidPrice", "askPrice", "lastPrice", "mark")
# The ticket's quote: its name -> Schwab's field in `quote`.
QUOTE_FIELDS = {
    "bid": "bidPrice",
    "ask": "askPrice",
    "last": "lastPrice",
    "mark": "mark",
    "close": "closePrice",
    "net_change": "netChange",
}
MAX_SYMBOLS = 20
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def symbols_parse(text: str | None) -> list[str]:
    """The symbols asked for, in order and once each: comma-separated equity or option (OCC) symbols,
    upper-cased; InvalidSymbols names what is wrong."""
    wanted = list(dict.fromkeys(part.strip().upper() for part in (text or "").split(",") if part.strip()))
    if not wanted:
        raise InvalidSymbols(fields={"symbols": "Name at least one symbol, e.g. AAPL."})
    if len(wanted) > MAX_SYMBOLS:
        raise InvalidSymbols(fields={"symbols": f"At most {MAX_SYMBOLS} symbols at a time."})
    bad = [s for s in wanted if not (EQUITY_SYMBOL.match(s) or OCC_SYMBOL.match(s))]
    if bad:
        named = ", ".join(symbol[:21] for symbol in bad[:3])
        raise InvalidSymbols(fields={"symbols": f"Not a stock or option symbol: {named}."})
    return wanted


def quotes_get(*, session: TraderSession, symbols: list[str]) -> tuple[list[dict[str, Any]], list[str]]:
    """The symbols' quotes, in the order asked (fresh ones from Redis, the rest in one call to Schwab),
    and the symbols Schwab does not know."""
    now = clock.now()
    known = _remembered(symbols, now)
    missing = [symbol for symbol in symbols if symbol not in known]
    if missing:
        fetched = _fetch(session, missing, now)
        _remember(fetched, now)
        known.update(fetched)
    return [known[s] for s in symbols if s in known], [s for s in symbols if s not in known]


def highest_prices(*, session: TraderSession, symbols: list[str]) -> dict[str, Decimal | None]:
    """The highest of each symbol's bid, ask, last and mark now (one call); None where Schwab quotes none."""
    answer = _quotes(session, symbols)
    found: dict[str, Decimal | None] = {}
    for symbol in symbols:
        entry = answer.get(symbol)
        quote = entry.get("quote") if isinstance(entry, dict) else None
        prices = [_price(quote.get(name)) for name in PRICE_FIELDS] if isinstance(quote, dict) else []
        known = [price for price in prices if price is not None]
        found[symbol] = max(known) if known else None
    return found


def _quotes(session: TraderSession, symbols: list[str]) -> dict[str, Any]:
    """Schwab's answer by symbol; empty when Schwab refuses the symbols as unknown."""
    try:
        data = session.get_market_data(
            "/quotes", path_name="marketdata.quotes", params={"symbols": ",".join(symbols), "fields": "quote"}
        )
    except SchwabBadRequest:  # how Schwab may answer a symbol it does not know
        return {}
    if not isinstance(data, dict):
        raise SchwabMalformedResponse
    return data


def _fetch(session: TraderSession, symbols: list[str], now: datetime) -> dict[str, dict[str, Any]]:
    data = _quotes(session, symbols)
    found = {}
    for symbol in symbols:
        entry = data.get(symbol)
        if isinstance(entry, dict) and isinstance(entry.get("quote"), dict):
            found[symbol] = _normalized(symbol, entry)
    return found


def _normalized(symbol: str, entry: dict[str, Any]) -> dict[str, Any]:
    """The ticket's quote: exact decimal text (or null), the quote's time in UTC."""
    quote = entry["quote"]
    values = {name: contract.decimal_text(_exact(quote.get(field))) for name, field in QUOTE_FIELDS.items()}
    at = quote.get("quoteTime")
    quoted_at = None
    if isinstance(at, int) and not isinstance(at, bool) and 0 < at < 10**14:
        quoted_at = contract.timestamp(EPOCH + timedelta(milliseconds=at))
    kind = entry.get("assetMainType")
    return {
        "symbol": symbol,
        "asset_type": kind if isinstance(kind, str) else None,
        **values,
        "quoted_at": quoted_at,
    }


def _remembered(symbols: list[str], now: datetime) -> dict[str, dict[str, Any]]:
    """The symbols' quotes kept in Redis and younger than SCHWAB_QUOTE_CACHE_SECONDS (best effort: without
    Redis every quote is asked of Schwab)."""
    maximum = schwab_settings().quote_cache
    if maximum <= timedelta(0):
        return {}
    try:
        texts: Any = get_redis().mget([contract.quote_cache_key(symbol) for symbol in symbols])
    except redis.RedisError:
        logger.warning("quote cache unavailable; asking Schwab")
        return {}
    fresh = {}
    for symbol, text in zip(symbols, texts, strict=True):
        if not text:
            continue
        try:
            kept = json.loads(text)
            age = now - contract.parse_timestamp(kept["fetched_at"])
            quote = kept["quote"]
        except (ValueError, TypeError, KeyError):
            continue  # not what this module writes: asked again, and overwritten
        if timedelta(0) <= age < maximum and isinstance(quote, dict):
            fresh[symbol] = quote
    return fresh


def _remember(found: dict[str, dict[str, Any]], now: datetime) -> None:
    maximum = schwab_settings().quote_cache
    if not found or maximum <= timedelta(0):
        return
    expire = max(1, int(maximum.total_seconds()) + 1)  # Redis forgets it soon after it is stale
    try:
        pipeline = get_redis().pipeline(transaction=False)
        for symbol, quote in found.items():
            text = json.dumps({"fetched_at": contract.timestamp(now), "quote": quote})
            pipeline.set(contract.quote_cache_key(symbol), text, ex=expire)
        pipeline.execute()
    except redis.RedisError:
        logger.warning("quote cache unavailable; quotes not kept")


def _exact(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        return None
    number = Decimal(value)
    return number if number.is_finite() else None


def _price(value: Any) -> Decimal | None:
    price = _exact(value)
    return price if price is not None and price > 0 else None
