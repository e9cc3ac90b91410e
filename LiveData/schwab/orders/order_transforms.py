"""Pure: Schwab's orders and previews (JSON, numbers as Decimal) to Thor's normalized documents.

Money and quantities are decimal strings, statuses as Schwab names them, the average fill price from the
execution legs. Anything Schwab did not send is null. No I/O.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from LiveData.shared.contract import decimal_text

# Statuses in which an order may still fill or change (schwab-api.md section 5).
OPEN_STATUSES = frozenset(
    {
        "AWAITING_PARENT_ORDER", "AWAITING_CONDITION", "AWAITING_STOP_CONDITION", "AWAITING_MANUAL_REVIEW",
        "ACCEPTED", "AWAITING_UR_OUT", "PENDING_ACTIVATION", "QUEUED", "WORKING", "PENDING_CANCEL",
        "PENDING_REPLACE", "NEW", "AWAITING_RELEASE_TIME", "PENDING_ACKNOWLEDGEMENT", "PENDING_RECALL",
    }
)  # fmt: skip


def _number(value: Any) -> Decimal | None:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, str):
        try:
            return Decimal(value)
        except ArithmeticError:
            return None
    return None


def _text(value: Any) -> str | None:
    number = _number(value)
    if number is None:
        return None
    return decimal_text(number.normalize() if number == number.to_integral() else number)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _average_fill_price(order: dict[str, Any], legs: list[dict[str, Any]]) -> str | None:
    """The average price of the fills: per share or contract for one leg; for a spread the net per spread
    (its buys paid less its sales received, as a positive number)."""
    buys = {leg.get("legId"): str(leg.get("instruction") or "").startswith("BUY") for leg in legs}
    spread = len(legs) > 1
    units = Decimal(0)
    value = Decimal(0)
    for activity in order.get("orderActivityCollection") or []:
        activity = _dict(activity)
        executed = Decimal(0)
        for leg in activity.get("executionLegs") or []:
            price, quantity = _number(leg.get("price")), _number(leg.get("quantity"))
            if price is None or quantity is None:
                continue
            executed += quantity
            value += price * quantity * (1 if not spread or buys.get(leg.get("legId"), True) else -1)
        units += (_number(activity.get("quantity")) or Decimal(0)) if spread else executed
    return decimal_text((abs(value) / units).quantize(Decimal("0.0001"))) if units else None


def _leg_document(leg: dict[str, Any]) -> dict[str, Any]:
    instrument = _dict(leg.get("instrument"))
    return {
        "symbol": instrument.get("symbol"),
        "asset_type": instrument.get("assetType"),
        "instruction": leg.get("instruction"),
        "position_effect": leg.get("positionEffect"),
        "quantity": _text(leg.get("quantity")),
    }


def order_document(order: dict[str, Any], parent_order_id: str | None = None) -> dict[str, Any]:
    """One Schwab order as Thor shows it: a composite's child names the order it hangs from (Schwab
    says so only by nesting it there, in a listing); an OCO's container has no legs of its own."""
    legs = [_dict(leg) for leg in order.get("orderLegCollection") or []]
    leg = legs[0] if legs else {}
    instrument = _dict(leg.get("instrument"))
    status = str(order.get("status") or "UNKNOWN")
    complex_strategy = order.get("complexOrderStrategyType")
    return {
        "order_id": str(order.get("orderId")),
        "parent_order_id": parent_order_id,
        "strategy": str(order.get("orderStrategyType") or "SINGLE"),
        "complex_strategy": complex_strategy if complex_strategy not in (None, "NONE") else None,
        "status": status,
        "status_description": order.get("statusDescription"),
        "open": status in OPEN_STATUSES,
        "entered_time": order.get("enteredTime"),
        "close_time": order.get("closeTime"),
        "symbol": instrument.get("symbol"),
        "asset_type": instrument.get("assetType"),
        "instruction": leg.get("instruction"),
        "position_effect": leg.get("positionEffect"),
        "order_type": order.get("orderType"),
        "duration": order.get("duration"),
        "session": order.get("session"),
        "quantity": _text(order.get("quantity", leg.get("quantity"))),
        "filled_quantity": _text(order.get("filledQuantity")),
        "remaining_quantity": _text(order.get("remainingQuantity")),
        "price": _text(order.get("price")),
        "stop_price": _text(order.get("stopPrice")),
        "average_fill_price": _average_fill_price(order, legs),
        "cancelable": bool(order.get("cancelable")),
        "editable": bool(order.get("editable")),
        "legs": [_leg_document(item) for item in legs],
    }


def _messages(items: Any) -> list[str]:
    found = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict):
            text = item.get("message") or item.get("activityMessage")
            if isinstance(text, str) and text.strip():
                found.append(text.strip()[:300])
    return found


def _sum_values(legs: Any, values_key: str) -> Decimal | None:
    total: Decimal | None = None
    for leg in legs if isinstance(legs, list) else []:
        for item in (leg or {}).get(values_key) or []:
            value = _number((item or {}).get("value"))
            if value is not None:
                total = (total or Decimal(0)) + value
    return total


def preview_document(preview: dict[str, Any]) -> dict[str, Any]:
    """Schwab's previewOrder answer: value, commission and fees, projected funds, warnings and rejects."""
    balance = _dict(_dict(preview.get("orderStrategy")).get("orderBalance"))
    result = _dict(preview.get("orderValidationResult"))
    charges = _dict(preview.get("commissionAndFee"))
    commission = _sum_values(_dict(charges.get("commission")).get("commissionLegs"), "commissionValues")
    fees = _sum_values(_dict(charges.get("fee")).get("feeLegs"), "feeValues")
    warnings = [_messages(result.get(name)) for name in ("warns", "alerts", "reviews")]
    rejects = _messages(result.get("rejects"))
    return {
        "accepted": not rejects,
        "order_value": _text(balance.get("orderValue")),
        "commission": decimal_text(commission),
        "fees": decimal_text(fees),
        "projected_commission": _text(balance.get("projectedCommission")),
        "projected_buying_power": _text(balance.get("projectedBuyingPower")),
        "projected_available_funds": _text(balance.get("projectedAvailableFund")),
        "warnings": [message for group in warnings for message in group],
        "rejects": rejects,
    }
