"""Placing an order through Thor (checks, idempotency record, place, confirm, audit, live orders) vs a bare
client's place and confirm at the sandbox (POST the order, GET its Location), p50/p90, interleaved, at
sandbox latencies of 0 and 50 ms: a single limit order, a bracket (an entry that places a take-profit
and a stop; goal, issue 23: at most 1.3x the bare POST + GET at 50 ms), an OCO of two, and a vertical
spread (two option legs at a net price).

    REDIS_URL=redis://127.0.0.1:6379/14 .venv/bin/python bench/orders.py [--iterations 40]
"""

from __future__ import annotations

import argparse
import os
import time
import uuid

from setup import median, percentile, start  # type: ignore[import-not-found]

TICKET = {"symbol": "AAPL", "instruction": "buy", "quantity": 1, "order_type": "limit", "limit_price": "1.00"}
BRACKET = {**TICKET, "strategy": "bracket", "take_profit": "2.00", "stop_loss": "0.50"}
SELL = {"symbol": "AAPL", "instruction": "sell", "quantity": 1}
OCO = {
    "strategy": "oco",
    "orders": [
        {**SELL, "order_type": "limit", "limit_price": "100000.00"},
        {**SELL, "order_type": "stop", "stop_price": "1.00"},
    ],
}


def vertical(chain: list[object]) -> dict[str, object]:
    """A bull call vertical on the sandbox's SPY chain, at a net no market gives (it stays working)."""
    calls = sorted(o.symbol for o in chain if o.underlying == "SPY" and o.put_call == "CALL")  # type: ignore[attr-defined]
    return {
        "strategy": "vertical",
        "quantity": 1,
        "order_type": "net_debit",
        "limit_price": "0.01",
        "legs": [
            {"symbol": calls[2], "instruction": "buy_to_open"},
            {"symbol": calls[4], "instruction": "sell_to_open"},
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=40)
    args = parser.parse_args()
    os.environ["SCHWAB_RATE_LIMIT_PER_CONNECTION_PER_MINUTE"] = "1000000"
    os.environ["SCHWAB_ORDER_RATE_LIMIT_PER_ACCOUNT_PER_MINUTE"] = "1000000"
    os.environ["SCHWAB_TRADING_ENABLED"] = "true"
    env = start()
    import requests
    from django.conf import settings
    from django.contrib.auth.models import Permission

    from LiveData.schwab.connection import services
    from LiveData.schwab.orders import schwab_orders, tickets

    api, sandbox, user = env["api"], env["sandbox"], env["user"]
    user.user_permissions.add(Permission.objects.get(codename="trade", content_type__app_label="schwab"))
    user = type(user).objects.get(pk=user.pk)  # fresh permission cache
    api.user = api.session.user = user
    account_id = env["accounts"][1]
    url = f"{settings.SCHWAB_API_BASE_URL}/trader/v1/accounts/{account_id}/orders"
    session = requests.Session()
    print(f"place + confirm: Thor vs bare POST + GET, {args.iterations} iterations each, interleaved (ms)")
    columns = ("bare p50", "thor p50", "bare p90", "thor p90")
    print(f"{'order':>8} {'latency':>8} " + " ".join(f"{name:>9}" for name in columns) + f" {'ratio':>6}")
    runs = [
        (kind, ticket, latency)
        for kind, ticket in (
            ("single", TICKET),
            ("bracket", BRACKET),
            ("oco", OCO),
            ("vertical", vertical(sandbox.state.option_chain)),
        )
        for latency in (0, 50)
    ]
    for kind, ticket, latency in runs:
        order = schwab_orders.schwab_order(tickets.parse(ticket))
        sandbox.state.config.latency_ms = latency
        token = services.connection_access_token(connection=api.connection)
        headers = {"Authorization": f"Bearer {token}"}
        bare, thor = [], []
        for iteration in range(args.iterations + 3):  # the first three warm both paths up
            started = time.perf_counter()
            placed = session.post(url, json=order, headers=headers, timeout=10)
            session.get(placed.headers["Location"], headers=headers, timeout=10).json()
            bare_ms = (time.perf_counter() - started) * 1000
            started = time.perf_counter()
            outcome = api.place_order(account_id, ticket, idempotency_key=uuid.uuid4().hex)
            thor_ms = (time.perf_counter() - started) * 1000
            assert outcome.status == 201, outcome.body
            if iteration >= 3:
                bare.append(bare_ms)
                thor.append(thor_ms)
        b50, t50 = median(bare), median(thor)
        print(
            f"{kind:>8} {latency:>6}ms {b50:>9.2f} {t50:>9.2f} {percentile(bare, 0.9):>9.2f} "
            f"{percentile(thor, 0.9):>9.2f} {t50 / b50:>8.2f}x"
        )
    sandbox.stop()


if __name__ == "__main__":
    main()
