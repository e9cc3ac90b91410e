"""Pure: every kind of order ticket as Schwab's order JSON (schwab-api.md sections 5 and 5a), prices as
exact decimal strings, written as schwab-py's builders write the same orders (the tests hold it to their
JSON).

- a single order: one leg; a trailing stop adds `stopPriceLinkBasis`, `stopPriceLinkType`,
  `stopPriceOffset` and `stopType`; a trailing stop-limit also `priceLinkBasis` TRIGGER, `priceLinkType`
  VALUE and `priceOffset` (its limit, that far past the stop when it triggers: Schwab's order schema names
  these fields; their use here is inferred);
- a bracket: a TRIGGER whose child is an OCO of a take-profit limit and a protective stop;
- an OCO: a container of the two orders, with no legs of its own; a trigger: the first order, carrying the
  second in `childOrderStrategies`;
- a spread: one order, a leg per contract (quantity x ratio), `orderType` NET_DEBIT, NET_CREDIT or MARKET,
  `price` the net per spread, `quantity` the number of spreads, `complexOrderStrategyType` its kind.
"""

from __future__ import annotations

from typing import Any

from LiveData.schwab.orders import spread_tickets
from LiveData.schwab.orders.spread_tickets import Spread
from LiveData.schwab.orders.ticket_fields import (
    DURATIONS,
    EQUITY_INSTRUCTIONS,
    OPTION_INSTRUCTIONS,
    SESSIONS,
)
from LiveData.schwab.orders.tickets import (
    BRACKET_ENTRIES,
    TRAIL_BASES,
    TRAIL_TYPES,
    Linked,
    OrderTicket,
    Ticket,
)


def schwab_order(ticket: OrderTicket) -> dict[str, Any]:
    """The ticket as the order Schwab is sent."""
    if isinstance(ticket, Spread):
        return _spread(ticket)
    if isinstance(ticket, Linked):
        first, second = (_single(order) for order in ticket.orders)
        if ticket.strategy == "oco":
            return {"orderStrategyType": "OCO", "childOrderStrategies": [first, second]}
        return {**first, "orderStrategyType": "TRIGGER", "childOrderStrategies": [second]}
    order = _single(ticket)
    if ticket.strategy == "bracket":
        order["orderStrategyType"] = "TRIGGER"
        order["childOrderStrategies"] = [{"orderStrategyType": "OCO", "childOrderStrategies": _exits(ticket)}]
    return order


def _leg(instruction: str, quantity: int, symbol: str, asset_type: str) -> dict[str, Any]:
    return {
        "instruction": instruction,
        "quantity": quantity,
        "instrument": {"symbol": symbol, "assetType": asset_type},
    }


def _single(ticket: Ticket) -> dict[str, Any]:
    instructions = OPTION_INSTRUCTIONS if ticket.asset == "option" else EQUITY_INSTRUCTIONS
    order: dict[str, Any] = {
        "session": SESSIONS[ticket.session],
        "duration": DURATIONS[ticket.duration],
        "orderType": ticket.order_type.upper(),
        "orderStrategyType": "SINGLE",
        "orderLegCollection": [
            _leg(instructions[ticket.instruction], ticket.quantity, ticket.symbol, ticket.asset.upper())
        ],
    }
    if ticket.limit_price is not None:
        order["price"] = str(ticket.limit_price)
    if ticket.stop_price is not None:
        order["stopPrice"] = str(ticket.stop_price)
    if ticket.trail_offset is not None:  # the stop follows the basis by the offset
        order.update(
            {
                "stopPriceLinkBasis": TRAIL_BASES[str(ticket.trail_basis)],
                "stopPriceLinkType": TRAIL_TYPES[str(ticket.trail_type)],
                "stopPriceOffset": str(ticket.trail_offset),
                "stopType": "STANDARD",
            }
        )
    if ticket.limit_offset is not None:  # the limit, set off from the stop when it triggers
        order.update(
            {"priceLinkBasis": "TRIGGER", "priceLinkType": "VALUE", "priceOffset": str(ticket.limit_offset)}
        )
    return order


def _exits(ticket: Ticket) -> list[dict[str, Any]]:
    """A bracket's take-profit limit and protective stop: the entry's quantity, closing it."""
    legs = [
        _leg(
            EQUITY_INSTRUCTIONS[BRACKET_ENTRIES[ticket.instruction]], ticket.quantity, ticket.symbol, "EQUITY"
        )
    ]
    common = {
        "session": SESSIONS[ticket.session],
        "duration": DURATIONS[ticket.duration],
        "orderStrategyType": "SINGLE",
    }
    return [
        {**common, "orderType": "LIMIT", "price": str(ticket.take_profit), "orderLegCollection": legs},
        {**common, "orderType": "STOP", "stopPrice": str(ticket.stop_loss), "orderLegCollection": legs},
    ]


def _spread(ticket: Spread) -> dict[str, Any]:
    order: dict[str, Any] = {
        "session": SESSIONS[ticket.session],
        "duration": DURATIONS[ticket.duration],
        "orderType": spread_tickets.ORDER_TYPES[ticket.order_type],
        "complexOrderStrategyType": spread_tickets.STRATEGIES[ticket.strategy],
        "quantity": ticket.quantity,
        "orderStrategyType": "SINGLE",
        "orderLegCollection": [
            _leg(OPTION_INSTRUCTIONS[leg.instruction], ticket.quantity * leg.ratio, leg.symbol, "OPTION")
            for leg in ticket.legs
        ],
    }
    if ticket.limit_price is not None:
        order["price"] = str(ticket.limit_price)
    return order
