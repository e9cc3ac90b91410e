"""Merging one order just seen into an account's `live_data:orders` document (what every placement and
every streamed order change does) vs the baseline the document's form sets: a bare GET and SET of the same
bytes in one WATCH/MULTI, with no decoding or encoding. For documents of 10, 100, 300 and 1,000 orders
(a spread's document, ~0.9 KB each), p50 of --iterations merges.

    REDIS_URL=redis://127.0.0.1:6379/14 .venv/bin/python bench/orders_merge.py [--iterations 200]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis

from LiveData.schwab.orders import order_transforms
from LiveData.shared import contract, publisher

ACCOUNT = "BENCH-ORDERS-MERGE"
SPREAD = json.loads(
    """{"orderId": 1, "status": "WORKING", "orderType": "NET_DEBIT", "orderStrategyType": "SINGLE",
    "complexOrderStrategyType": "VERTICAL", "quantity": 2.0, "filledQuantity": 0.0, "remainingQuantity": 2.0,
    "price": 3.5, "enteredTime": "2026-12-06T15:30:00+0000", "orderLegCollection": [
      {"legId": 1, "instruction": "BUY_TO_OPEN", "positionEffect": "OPENING", "quantity": 2.0,
       "instrument": {"symbol": "SPY   270115C00590000", "assetType": "OPTION"}},
      {"legId": 2, "instruction": "SELL_TO_OPEN", "positionEffect": "OPENING", "quantity": 2.0,
       "instrument": {"symbol": "SPY   270115C00600000", "assetType": "OPTION"}}]}""",
    parse_float=Decimal,
)


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=200)
    args = parser.parse_args()
    client: Any = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14"))
    key = contract.orders_key(ACCOUNT)
    document = order_transforms.order_document(SPREAD)
    print("merge one order into live_data:orders vs a bare GET + SET of the same bytes, p50 (ms)")
    print(f"{'orders':>7} {'bytes':>9} {'bare':>7} {'merge':>7} {'ratio':>7}")
    try:
        for count in (10, 100, 300, 1000):
            now = datetime.now(UTC)
            orders = [{**document, "order_id": str(number)} for number in range(count)]
            envelope = contract.orders_envelope(
                account_id=ACCOUNT, source="bench", as_of=now, published_at=now, orders=orders
            )
            client.delete(key)
            publisher.publish_orders(envelope=envelope, client=client)
            size = client.strlen(key)
            bare, merged = [], []
            for number in range(args.iterations):
                started = time.perf_counter()
                with client.pipeline(transaction=True) as pipe:
                    pipe.watch(key)
                    text = pipe.get(key)
                    pipe.multi()
                    pipe.set(key, text)
                    pipe.publish(key, "{}")
                    pipe.execute()
                bare.append((time.perf_counter() - started) * 1000)
                seen = [{**document, "order_id": str(number % count), "status": "FILLED"}]
                started = time.perf_counter()
                publisher.merge_orders(
                    account_id=ACCOUNT, source="bench", orders=seen, at=datetime.now(UTC), client=client
                )
                merged.append((time.perf_counter() - started) * 1000)
            b50, m50 = median(bare), median(merged)
            print(f"{count:>7} {size:>9,} {b50:>7.2f} {m50:>7.2f} {m50 / b50:>6.2f}x")
    finally:
        client.delete(key)


if __name__ == "__main__":
    main()
