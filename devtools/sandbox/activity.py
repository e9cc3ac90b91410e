"""Pure: the ACCT_ACTIVITY messages an order change produces, shaped as schwab-api.md section 6 says.

Each message is one `content` item of a streamer data frame: field "1" the plain account number, "2" the
message type, "3" JSON *as text* with the order id, the account number and a `BaseEvent`. Quantities and
prices inside field 3 are Schwab's `{"lo": "<value x 10^6>", "signScale": 12}` numbers (13: negative).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

# The message types an order change emits, in the order Schwab sends them.
# schwab-api.md section 6's typical sequences.
PLACED = (
    "OrderCreated",
    "OrderAccepted",
    "ExecutionRequested",
    "ExecutionRequestCreated",
    "ExecutionRequestCompleted",
)
FILLED = ("ExecutionCreated", "OrderFillCompleted")
PARTLY_FILLED = ("ExecutionCreated",)
CANCELED = (
    "CancelAccepted",
    "ExecutionRequested",
    "ExecutionRequestCompleted",
    "ExecutionCreated",
    "OrderUROutCompleted",
)
REPLACED = ("ChangeCreated", "ChangeAccepted")
REJECTED = ("OrderRejected",)


def schwab_number(value: Any) -> dict[str, Any]:
    """Schwab's scaled-integer number: 220.47 is {"lo": "220470000", "signScale": 12}."""
    amount = Decimal(str(value or 0))
    scaled = int((abs(amount) * 1_000_000).to_integral_value())
    return {"lo": str(scaled), "signScale": 13 if amount < 0 else 12}


def _event(message_type: str, order: dict[str, Any]) -> dict[str, Any]:
    leg = order["orderLegCollection"][0]
    common = {"EventType": message_type, "OrderID": str(order["orderId"])}
    if message_type in ("OrderCreated", "OrderAccepted"):
        return {
            **common,
            "Order": {
                "Symbol": leg["instrument"]["symbol"],
                "Instruction": leg["instruction"],
                "OrderType": order["orderType"],
                "Quantity": schwab_number(order["quantity"]),
                "LimitPrice": schwab_number(order.get("price")),
            },
        }
    canceling = order.get("status") in ("CANCELED", "PENDING_CANCEL")
    if message_type == "ExecutionRequested":
        return {**common, "RouteRequestedType": "Cancel" if canceling else "New"}
    if message_type == "ExecutionCreated" and canceling:
        return {**common, "ExecutionTransType": "UROut", "LeavesQuantity": schwab_number(0)}
    if message_type == "ExecutionCreated":
        last = (order.get("orderActivityCollection") or [{}])[-1]
        return {
            **common,
            "ExecutionTransType": "Fill",
            "ExecutionPrice": schwab_number(_net(order, [last])),
            "ExecutionQuantity": schwab_number(last.get("quantity")),
        }
    if message_type == "OrderFillCompleted":
        return {
            **common,
            "CumulativeQuantity": schwab_number(order.get("filledQuantity")),
            "LeavesQuantity": schwab_number(order.get("remainingQuantity")),
            "AveragePrice": schwab_number(_average_price(order)),
        }
    if message_type == "OrderUROutCompleted":
        return {**common, "ExecutionTransType": "UROut", "LeavesQuantity": schwab_number(0)}
    if message_type == "OrderRejected":
        return {**common, "RejectReason": order.get("statusDescription") or "Rejected"}
    return common


def _average_price(order: dict[str, Any]) -> Decimal:
    return _net(order, order.get("orderActivityCollection") or [])


def _net(order: dict[str, Any], activities: list[dict[str, Any]]) -> Decimal:
    """The price per unit the executions came to: a single order's average, a spread's net per spread
    (its buys paid less its sales received)."""
    buys = {leg["legId"]: leg["instruction"].startswith("BUY") for leg in order["orderLegCollection"]}
    spread = len(buys) > 1
    units = value = Decimal(0)
    for activity in activities:
        units += Decimal(str(activity.get("quantity", 0)))
        for leg in activity.get("executionLegs") or []:
            sign = 1 if buys.get(leg["legId"], True) or not spread else -1
            value += sign * Decimal(str(leg["quantity"])) * Decimal(str(leg["price"]))
    return abs(value) / units if units else Decimal(0)


def messages(
    order: dict[str, Any], account_number: str, message_types: tuple[str, ...]
) -> list[dict[str, Any]]:
    """The content items (without `seq` and `key`, which belong to each streamer connection)."""
    items = []
    for message_type in message_types:
        body = {
            "SchwabOrderID": str(order["orderId"]),
            "AccountNumber": account_number,
            "BaseEvent": {"EventType": message_type, f"{message_type}Event": _event(message_type, order)},
        }
        items.append({"1": account_number, "2": message_type, "3": json.dumps(body, separators=(",", ":"))})
    return items
