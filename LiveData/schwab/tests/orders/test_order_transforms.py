"""Schwab's orders to Thor's documents (orders.v2), pure: legs listed, a spread's net fill, the tree."""

from __future__ import annotations

import json
from decimal import Decimal

from LiveData.schwab.orders import order_reads, order_transforms

# A filled bull call vertical as Schwab returns it (numbers as JSON numbers, read as Decimal).
VERTICAL = json.loads(
    """{"orderId": 1000001007, "status": "FILLED", "orderType": "NET_DEBIT", "orderStrategyType": "SINGLE",
    "complexOrderStrategyType": "VERTICAL", "quantity": 2.0, "filledQuantity": 2.0, "remainingQuantity": 0.0,
    "price": 3.5, "orderLegCollection": [
      {"legId": 1, "instruction": "BUY_TO_OPEN", "positionEffect": "OPENING", "quantity": 2.0,
       "instrument": {"symbol": "SPY   270115C00590000", "assetType": "OPTION"}},
      {"legId": 2, "instruction": "SELL_TO_OPEN", "positionEffect": "OPENING", "quantity": 2.0,
       "instrument": {"symbol": "SPY   270115C00600000", "assetType": "OPTION"}}],
    "orderActivityCollection": [{"activityType": "EXECUTION", "quantity": 2.0, "executionLegs": [
      {"legId": 1, "price": 15.69, "quantity": 2.0}, {"legId": 2, "price": 12.41, "quantity": 2.0}]}]}""",
    parse_float=Decimal,
)


def test_a_spread_reads_as_one_order_of_its_legs_at_its_net():
    document = order_transforms.order_document(VERTICAL)
    assert document["average_fill_price"] == "3.2800"  # 15.69 paid less 12.41 received, per spread
    assert (document["complex_strategy"], document["strategy"], document["quantity"]) == (
        "VERTICAL",
        "SINGLE",
        "2",
    )
    assert document["legs"] == [
        {"symbol": "SPY   270115C00590000", "asset_type": "OPTION", "instruction": "BUY_TO_OPEN",
         "position_effect": "OPENING", "quantity": "2"},
        {"symbol": "SPY   270115C00600000", "asset_type": "OPTION", "instruction": "SELL_TO_OPEN",
         "position_effect": "OPENING", "quantity": "2"},
    ]  # fmt: skip


def test_a_composite_s_children_name_the_order_they_hang_from():
    child = {**VERTICAL, "orderId": 3, "complexOrderStrategyType": "NONE"}
    oco = {"orderId": 2, "orderStrategyType": "OCO", "status": "WORKING", "childOrderStrategies": [child]}
    trigger = {**VERTICAL, "orderId": 1, "orderStrategyType": "TRIGGER", "childOrderStrategies": [oco]}
    documents = order_reads.tree_documents([trigger])
    assert [(d["order_id"], d["parent_order_id"]) for d in documents] == [("1", None), ("2", "1"), ("3", "2")]
    container = documents[1]
    assert (container["strategy"], container["legs"], container["symbol"]) == ("OCO", [], None)
    assert documents[2]["complex_strategy"] is None
