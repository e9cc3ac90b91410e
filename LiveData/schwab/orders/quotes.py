"""Market prices from Schwab's Market Data API (`GET /marketdata/v1/quotes`, schwab-api.md section 5b).

A quote's numbers are read exactly (Decimal from their text). Schwab's answer for a symbol it does not
know is not settled: its key may be absent, named under `errors`, or the whole call a 404; each of those
means "no price" here, never a guess.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from LiveData.schwab.connection.session import TraderSession
from LiveData.schwab.exceptions import SchwabBadRequest, SchwabMalformedResponse

PRICE_FIELDS = ("bidPrice", "askPrice", "lastPrice", "mark")


def highest_price(*, session: TraderSession, symbol: str) -> Decimal | None:
    """The highest of the symbol's bid, ask, last and mark now; None when Schwab quotes none."""
    try:
        data = session.get_market_data(
            "/quotes", path_name="marketdata.quotes", params={"symbols": symbol, "fields": "quote"}
        )
    except SchwabBadRequest:  # how Schwab may answer a symbol it does not know
        return None
    if not isinstance(data, dict):
        raise SchwabMalformedResponse
    entry = data.get(symbol)
    quote = entry.get("quote") if isinstance(entry, dict) else None
    prices = [_price(quote.get(name)) for name in PRICE_FIELDS] if isinstance(quote, dict) else []
    known = [price for price in prices if price is not None]
    return max(known) if known else None


def _price(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        return None
    price = Decimal(value)
    return price if price.is_finite() and price > 0 else None
