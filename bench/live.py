"""The live channel to the browser. First, a fill at the sandbox to the updated position at an SSE client
(streamer -> stream worker -> the account refresh's upstream read -> publish -> the SSE endpoint on
uvicorn), at sandbox latency 0 and 50 ms, against its floor measured in the same run: an event appended
straight to the account's Redis Stream to its arrival at the same client (Redis + the SSE endpoint), plus
the one upstream read the refresh needs (timed from here at the same latency). The sandbox runs in a
process of its own, as Schwab is served from elsewhere. Then 1,000 open dashboards
on one uvicorn process, 10 on each of 100 accounts, while every account's positions are published: the
server's memory per dashboard and the publish -> every dashboard fan-out.

    REDIS_URL=redis://127.0.0.1:6379/14 .venv/bin/python bench/live.py [--fills 50] [--dashboards 1000]

Goals (issue 22): fill -> position p99 <= 1.5x its floor; <= 100 KiB per dashboard; fan-out p99 <= 150 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import time
from typing import Any

from setup import (  # type: ignore[import-not-found]
    ROOT,
    LiveClient,
    login_cookie,
    median,
    percentile,
    process_stats,
    start,
    streaming_thor,
)


async def fill_to_position(args: argparse.Namespace, env: dict[str, Any], port: int, cookie: str) -> None:
    import requests
    from asgiref.sync import sync_to_async

    from devtools.testing import limit_buy
    from LiveData.schwab.connection import services
    from LiveData.shared import clock, order_events

    sandbox, api = env["sandbox"], env["api"]
    account = env["accounts"][50]
    token = await sync_to_async(services.connection_access_token)(connection=api.connection)
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {token}"
    base = f"{sandbox.url}/trader/v1/accounts/{account}"
    symbol = "KO"

    client = LiveClient(port, cookie, parse_positions=True)
    await client.open()
    await asyncio.wait_for(client.ready.wait(), 30)
    # When each positions notification is published (heard here), to split the path in two.
    from LiveData.shared import contract
    from LiveData.shared.redis_client import get_async_redis

    notes: dict[str, float] = {}
    pubsub = get_async_redis().pubsub()
    await pubsub.subscribe(contract.channel(contract.POSITIONS, account))

    async def hear() -> None:
        async for message in pubsub.listen():
            if message["type"] == "message":
                notes[json.loads(message["data"])["published_at"]] = time.perf_counter()

    hearing = asyncio.create_task(hear())
    print(f"fill at the sandbox -> the updated position at an SSE client, {args.fills} fills (ms)")
    print(f"{'latency':>8} {'path':<56} {'p50':>8} {'p99':>8}")
    for latency_ms in (0, 50):
        http.post(f"{sandbox.url}/sandbox/config", json={"latency_ms": latency_ms}, timeout=10)
        thor: list[float] = []
        floor: list[float] = []
        to_publish: list[float] = []  # of which: fill -> the positions notification published
        for iteration in range(args.fills + 3):  # three to warm up
            ticket = limit_buy(symbol, 1)
            placed = await asyncio.to_thread(http.post, f"{base}/orders", json=ticket, timeout=10)
            order_id = placed.headers["Location"].rsplit("/", 1)[1]
            await client.arrival(("order", order_id, "WORKING"))  # the worker follows it
            held = client.quantities.get(symbol) or "0"
            expected = str(int(held) + 1)
            executed = await asyncio.to_thread(
                http.post, f"{sandbox.url}/sandbox/orders/{order_id}/execute", json={}
            )
            # From the moment the sandbox filled it (its wall clock, on this perf_counter's time line).
            started = executed.json()["filled_at"] - time.time() + time.perf_counter()
            arrived = await client.arrival(("quantity", symbol, expected))
            thor_ms = (arrived - started) * 1000
            published = [moment for moment in notes.values() if started < moment <= arrived]
            worker_ms = (min(published) - started) * 1000 if published else float("nan")

            synthetic = f"9{latency_ms:03d}{iteration:06d}"
            order = {"order_id": synthetic, "status": "FILLED", "open": False, "filled_quantity": "1"}
            started = time.perf_counter()
            await asyncio.to_thread(
                order_events.record,
                account_id=account,
                order=order,
                source="stream",
                schwab_event=None,
                at=clock.now(),
                max_length=100000,
            )
            xadd_ms = (await client.arrival(("order", synthetic, "FILLED")) - started) * 1000
            started = time.perf_counter()
            await asyncio.to_thread(http.get, base, params={"fields": "positions"}, timeout=10)
            read_ms = (time.perf_counter() - started) * 1000
            if iteration >= 3:
                thor.append(thor_ms)
                floor.append(xadd_ms + read_ms)
                to_publish.append(worker_ms)
        rows = (
            ("floor: XADD -> SSE client + one upstream account read", floor),
            ("sandbox fill -> worker -> refresh -> publish -> SSE", thor),
            ("  of which sandbox fill -> positions published", to_publish),
        )
        for name, samples in rows:
            print(f"{latency_ms:>6}ms {name:<56} {median(samples):>8.2f} {percentile(samples, 0.99):>8.2f}")
        ratio50 = median(thor) / median(floor)
        ratio99 = percentile(thor, 0.99) / percentile(floor, 0.99)
        print(f"{latency_ms:>6}ms {'ratio (goal p99 <= 1.5x)':<56} {ratio50:>7.2f}x {ratio99:>7.2f}x")
    http.post(f"{sandbox.url}/sandbox/config", json={"latency_ms": 0}, timeout=10)
    hearing.cancel()
    client.close()


def _published(account: str, at: Any, quantity: int) -> list[Any]:
    """An account refresh's snapshots from a real-shaped Schwab document (12 positions)."""
    from LiveData.schwab.live_data import account_document, snapshots, transforms

    document = json.loads((ROOT / "LiveData/schwab/tests/fixtures/account_margin.json").read_text())
    document["securitiesAccount"]["positions"][0]["longQuantity"] = quantity
    parsed = transforms.parse_account(account_document.decode(json.dumps(document).encode()))
    return list(snapshots.build(account_id=account, account=parsed, as_of=at, published_at=at))


async def many_dashboards(args: argparse.Namespace, port: int, server_pid: int) -> None:
    from asgiref.sync import sync_to_async
    from django.contrib.auth.models import User

    from LiveData.shared import clock, contract, ownership, publisher

    accounts = [f"L{number:063d}" for number in range(args.accounts)]
    per_account = args.dashboards // args.accounts

    def users_and_cookies() -> list[tuple[str, str]]:
        pairs = []
        for number, account in enumerate(accounts):
            user = User.objects.create_user(f"dash{number}")
            ownership.replace_user_accounts(user_id=user.pk, account_ids=[account], at=clock.now())
            pairs += [(account, login_cookie(user)) for _ in range(per_account)]
        return pairs

    pairs = await sync_to_async(users_and_cookies)()
    rss_idle, _ = process_stats(server_pid)
    clients = [(account, LiveClient(port, cookie)) for account, cookie in pairs]
    opened_at = time.perf_counter()
    # Pages open as people load them, not all in the same instant: 50 at a time, each batch ready before
    # the next. (A storm of 1,000 at once leaves the process's high-water mark: each connecting request
    # holds a thread of its own until its stream starts.)
    for batch in range(0, len(clients), 50):
        opening = [client for _, client in clients[batch : batch + 50]]
        await asyncio.gather(*(client.open() for client in opening))
        await asyncio.wait_for(asyncio.gather(*(client.ready.wait() for client in opening)), 120)
    connect_seconds = time.perf_counter() - opened_at
    rss_open, cpu_open = process_stats(server_pid)

    fan_out: list[float] = []
    for round_number in range(args.rounds):
        published_at: dict[str, tuple[str, float]] = {}
        for account in accounts:  # a refresh round: every account published, one after another
            at = clock.now()
            built = _published(account, at, 100 + round_number)
            started = time.perf_counter()
            await asyncio.to_thread(publisher.publish, snapshots=built)
            published_at[account] = (contract.timestamp(at), started)
        for account, client in clients:
            stamp, started = published_at[account]
            fan_out.append((await client.arrival(("published", account, stamp)) - started) * 1000)
    rss_after, cpu_after = process_stats(server_pid)
    for _, client in clients:
        client.close()
    deliveries = len(fan_out)
    print(
        f"\n{len(clients)} open dashboards on one uvicorn process, {per_account} on each of {args.accounts}"
    )
    print(f"  all connected and ready in {connect_seconds:.2f}s")
    per_dashboard_kib = (rss_open - rss_idle) * 1024 / len(clients)
    print(
        f"  server memory: {rss_idle:.1f} MiB before, {rss_open:.1f} MiB with them open: "
        f"{per_dashboard_kib:.1f} KiB per dashboard (goal <= 100 KiB); {rss_after:.1f} MiB after the rounds"
    )
    print(
        f"  {args.rounds} rounds of {args.accounts} account publishes: {deliveries} updates delivered; "
        f"publish -> dashboard p50 {median(fan_out):.1f} ms, p99 {percentile(fan_out, 0.99):.1f} ms "
        f"(goal <= 150 ms), last {max(fan_out):.1f} ms"
    )
    print(f"  server CPU during the rounds: {cpu_after - cpu_open:.2f}s")


async def run(args: argparse.Namespace, env: dict[str, Any], port: int, cookie: str, server_pid: int) -> None:
    await fill_to_position(args, env, port, cookie)
    await many_dashboards(args, port, server_pid)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fills", type=int, default=50)
    parser.add_argument("--dashboards", type=int, default=1000)
    parser.add_argument("--accounts", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4 * args.dashboards + 256)), hard))
    os.environ["SCHWAB_RATE_LIMIT_PER_CONNECTION_PER_MINUTE"] = "1000000"
    os.environ["SCHWAB_STREAM_POLL_SECONDS"] = "0.2"
    env = start(sandbox_process=True)  # served from elsewhere, as Schwab is: not on this process's GIL
    cookie = login_cookie(env["user"])

    try:
        with streaming_thor(env["sandbox"].url, worker_id="bench-live") as (port, server_pid):
            asyncio.run(run(args, env, port, cookie, server_pid))
    finally:
        env["sandbox"].stop()


if __name__ == "__main__":
    main()
