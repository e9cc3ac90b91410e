"""Order status to the browser: a fill at the sandbox to its event at an SSE client, through the streamer,
the stream worker (`manage.py schwab_stream`), Redis and the SSE endpoint on uvicorn; against a baseline
measured in the same run, an event appended straight to the account's Redis Stream to its arrival at the
same client (the delivery floor of Redis + the SSE endpoint). Then 1,000 concurrent SSE clients on one
uvicorn process: every event delivered to every client, with the server's memory and CPU.

    REDIS_URL=redis://127.0.0.1:6379/14 .venv/bin/python bench/order_stream.py [--fills 100] [--clients 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import time
from typing import Any

from setup import (  # type: ignore[import-not-found]
    LiveClient,
    login_cookie,
    median,
    percentile,
    process_stats,
    start,
    streaming_thor,
)


async def run(args: argparse.Namespace, env: dict[str, Any], port: int, cookie: str, server_pid: int) -> None:
    import requests
    from asgiref.sync import sync_to_async

    from devtools.testing import limit_buy
    from LiveData.schwab.connection import services
    from LiveData.shared import order_events

    sandbox, api = env["sandbox"], env["api"]
    account = env["accounts"][1]
    token = await sync_to_async(services.connection_access_token)(connection=api.connection)
    http = requests.Session()
    orders_url = f"{sandbox.url}/trader/v1/accounts/{account}/orders"

    def place() -> str:
        answer = http.post(
            orders_url, json=limit_buy("AAPL", 1), headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        return str(answer.headers["Location"].rsplit("/", 1)[1])

    def fill(order_id: str) -> float:
        started = time.perf_counter()
        http.post(f"{sandbox.url}/sandbox/orders/{order_id}/execute", json={}, timeout=10)
        return started

    def append_directly(order_id: str) -> float:
        order = {"order_id": order_id, "status": "FILLED", "open": False, "filled_quantity": "1"}
        started = time.perf_counter()
        order_events.record(
            account_id=account,
            order=order,
            source="stream",
            schwab_event=None,
            at=contract_now(),
            max_length=100000,
        )
        return started

    def contract_now() -> Any:
        from LiveData.shared import clock

        return clock.now()

    client = LiveClient(port, cookie)
    await client.open()
    await asyncio.wait_for(client.ready.wait(), 30)
    thor: list[float] = []
    floor: list[float] = []
    for iteration in range(args.fills + 3):  # three to warm up
        order_id = await asyncio.to_thread(place)
        await client.arrival(("order", order_id, "WORKING"))
        started = await asyncio.to_thread(fill, order_id)
        thor_ms = (await client.arrival(("order", order_id, "FILLED")) - started) * 1000
        synthetic = f"9{iteration:09d}"
        started = await asyncio.to_thread(append_directly, synthetic)
        floor_ms = (await client.arrival(("order", synthetic, "FILLED")) - started) * 1000
        if iteration >= 3:
            thor.append(thor_ms)
            floor.append(floor_ms)
    client.close()
    print(f"fill at the sandbox -> event at an SSE client, {args.fills} fills (ms)")
    print(f"{'path':<44} {'p50':>8} {'p99':>8}")
    rows = (
        ("baseline: XADD to the stream -> SSE client", median(floor), percentile(floor, 0.99)),
        ("sandbox fill -> streamer -> worker -> SSE", median(thor), percentile(thor, 0.99)),
    )
    for name, p50, p99 in rows:
        print(f"{name:<44} {p50:>8.2f} {p99:>8.2f}")
    print(f"{'ratio':<44} {rows[1][1] / rows[0][1]:>7.2f}x {rows[1][2] / rows[0][2]:>7.2f}x")

    # --- Many clients on one ASGI process --------------------------------------------------------------
    rss_idle, cpu_idle = process_stats(server_pid)
    clients = [LiveClient(port, cookie) for _ in range(args.clients)]
    opened_at = time.perf_counter()
    for batch in range(0, len(clients), 100):
        await asyncio.gather(*(c.open() for c in clients[batch : batch + 100]))
    await asyncio.wait_for(asyncio.gather(*(c.ready.wait() for c in clients)), 120)
    connect_seconds = time.perf_counter() - opened_at
    rss_open, cpu_open = process_stats(server_pid)
    per_event_ms: list[float] = []
    delivered = 0
    for _ in range(args.burst):
        order_id = await asyncio.to_thread(place)
        await asyncio.gather(*(c.arrival(("order", order_id, "WORKING")) for c in clients))
        started = await asyncio.to_thread(fill, order_id)
        arrivals = await asyncio.gather(*(c.arrival(("order", order_id, "FILLED")) for c in clients))
        delivered += len(arrivals)
        per_event_ms.extend((moment - started) * 1000 for moment in arrivals)
    rss_after, cpu_after = process_stats(server_pid)
    for c in clients:
        c.close()
    expected = args.clients * args.burst
    print(f"\n{args.clients} concurrent SSE clients on one uvicorn process, {args.burst} fills")
    print(f"  all connected and ready in {connect_seconds:.2f}s (server CPU {cpu_open - cpu_idle:.2f}s)")
    print(f"  FILLED events delivered: {delivered} of {expected}")
    p50, p99 = median(per_event_ms), percentile(per_event_ms, 0.99)
    print(
        f"  fill -> event at each client: p50 {p50:.1f} ms, p99 {p99:.1f} ms, last {max(per_event_ms):.1f} ms"
    )
    per_stream_kib = (rss_open - rss_idle) * 1024 / args.clients
    print(
        f"  server memory: {rss_idle:.1f} MiB idle, {rss_open:.1f} MiB with {args.clients} streams open "
        f"({per_stream_kib:.1f} KiB per stream), {rss_after:.1f} MiB after the fills"
    )
    print(f"  server CPU during the fills: {cpu_after - cpu_open:.2f}s for {delivered} deliveries")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fills", type=int, default=100)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--burst", type=int, default=5, help="fills while the many clients listen")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4 * args.clients + 256)), hard))
    os.environ["SCHWAB_RATE_LIMIT_PER_CONNECTION_PER_MINUTE"] = "1000000"
    os.environ["SCHWAB_STREAM_POLL_SECONDS"] = "0.2"
    env = start()

    user, sandbox = env["user"], env["sandbox"]
    cookie = login_cookie(user)

    try:
        with streaming_thor(sandbox.url, worker_id="bench") as (port, server_pid):
            asyncio.run(run(args, env, port, cookie, server_pid))
    finally:
        sandbox.stop()


if __name__ == "__main__":
    main()
