"""Runs under schwab-py 1.5.1 (its own venv; see scripts/check-schwab-py), not Thor's: two proofs.

1. The JSON fixtures the ticket tests hold Thor's orders to are exactly what schwab-py's builders write.
2. schwab-py's builders (`one_cancels_other`, `first_triggers_second`, an equity trailing stop, an option
   vertical), placed through its own `Client.place_order`, work at the sandbox end to end:
   `Utils.extract_order_id` reads the id from the answer, `Client.get_order` reads the order back, and
   its children are booked as Schwab would (an OCO's two working, a trigger's second awaiting its parent).
   The client's requests go to the sandbox through a transport that swaps only the host.

    python with_schwab_py.py <fixtures directory> <sandbox.json: url, token, account, held, calls>
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import httpx  # type: ignore[import-not-found]
from schwab.client import Client  # type: ignore[import-not-found]
from schwab.orders.common import (  # type: ignore[import-not-found]
    OrderType,
    StopPriceLinkBasis,
    StopPriceLinkType,
    StopType,
    first_triggers_second,
    one_cancels_other,
)
from schwab.orders.equities import (  # type: ignore[import-not-found]
    equity_buy_limit,
    equity_buy_market,
    equity_sell_limit,
    equity_sell_market,
)
from schwab.orders.options import bull_call_vertical_open  # type: ignore[import-not-found]
from schwab.utils import Utils  # type: ignore[import-not-found]


def fixtures_match(directory: Path) -> list[str]:
    """The fixture files against the builder calls their tests name."""
    stop = equity_sell_market("AAPL", 10).set_order_type(OrderType.STOP).set_stop_price("140.00")
    stop_limit = equity_sell_limit("AAPL", 10, "140.00").set_order_type(OrderType.STOP_LIMIT)
    built = {
        "bracket": first_triggers_second(
            equity_buy_limit("AAPL", 10, "150.00"),
            one_cancels_other(equity_sell_limit("AAPL", 10, "160.00"), stop),
        ),
        "one_cancels_other": one_cancels_other(
            equity_sell_limit("AAPL", 10, "160.00"), stop_limit.set_stop_price("141.00")
        ),
        "first_triggers_second": first_triggers_second(
            equity_buy_market("KO", 100), equity_buy_limit("PEP", 50, "150.00")
        ),
        "bull_call_vertical_open": bull_call_vertical_open(
            "SPY   261218C00500000", "SPY   261218C00505000", 2, "1.20"
        ),
    }
    wrong = []
    for name, builder in built.items():
        same = json.loads((directory / f"{name}.json").read_text()) == builder.build()
        print(f"fixture {name}.json: {'as schwab-py builds it' if same else 'DIFFERENT'}")
        wrong += [] if same else [name]
    return wrong


class ToSandbox(httpx.HTTPTransport):  # type: ignore[misc]
    """schwab-py's fixed https://api.schwabapi.com, sent to the sandbox instead."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.target = httpx.URL(url)

    def handle_request(self, request: Any) -> Any:
        target = self.target
        request.url = request.url.copy_with(scheme=target.scheme, host=target.host, port=target.port)
        return super().handle_request(request)


def placed_end_to_end(box: dict[str, Any]) -> list[str]:
    session = httpx.Client(
        transport=ToSandbox(box["url"]), headers={"Authorization": f"Bearer {box['token']}"}
    )
    client = Client("thor-dev-app-key", session)
    account, held, calls = box["account"], box["held"], box["calls"]
    far_stop = equity_sell_market(held, 1).set_order_type(OrderType.STOP).set_stop_price("1.00")
    trailing = (
        equity_sell_market(held, 1)
        .set_order_type(OrderType.TRAILING_STOP)
        .set_stop_price_link_basis(StopPriceLinkBasis.LAST)
        .set_stop_price_link_type(StopPriceLinkType.VALUE)
        .set_stop_price_offset(0.5)
        .set_stop_type(StopType.STANDARD)
    )
    cases = {  # the builder, and the statuses expected of the order and its children
        "one_cancels_other": (
            one_cancels_other(equity_sell_limit(held, 1, "100000.00"), far_stop),
            ("WORKING", ["WORKING", "WORKING"]),
        ),
        "first_triggers_second": (
            first_triggers_second(equity_buy_limit(held, 1, "1.00"), equity_sell_limit(held, 1, "100000.00")),
            ("WORKING", ["AWAITING_PARENT_ORDER"]),
        ),
        "an equity trailing stop": (trailing, ("WORKING", [])),
        "bull_call_vertical_open": (bull_call_vertical_open(calls[2], calls[4], 1, "100.00"), ("FILLED", [])),
    }
    wrong = []
    for name, (builder, expected) in cases.items():
        response = client.place_order(account, builder)
        order_id = Utils(client, account).extract_order_id(response)
        order = client.get_order(order_id, account).json()
        seen = (order["status"], [child["status"] for child in order.get("childOrderStrategies", [])])
        print(f"{name}: {response.status_code}, extract_order_id {order_id}, {seen[0]}, children {seen[1]}")
        wrong += [] if seen == expected and order["orderId"] == order_id else [name]
    return wrong


def main() -> None:
    directory, sandbox = Path(sys.argv[1]), json.loads(Path(sys.argv[2]).read_text())
    wrong = fixtures_match(directory) + placed_end_to_end(sandbox)
    if wrong:
        sys.exit(f"schwab-py check failed: {', '.join(wrong)}")
    print("schwab-py check: passed")


if __name__ == "__main__":
    main()
