"""The /schwab/ API's bodies as types: every answer a view sends is one of these, encoded by `respond`, and
the OpenAPI document's schemas are generated from them (`openapi`), so the two cannot drift apart.

The documents of the Redis contract (positions, balances, orders, order events) keep their JSON Schemas in
LiveData.shared; here they are the dicts as published, named by reference to those schemas.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

import msgspec
from django.http import HttpResponse
from msgspec import UNSET, Meta, UnsetType

from LiveData.schwab import exceptions
from LiveData.schwab.orders import spread_tickets, ticket_fields, tickets

JSON_CONTENT_TYPE = "application/json"
B = TypeVar("B", bound="Body")


def one_of(values: Any, description: str | None = None) -> Meta:
    return Meta(extra_json_schema={"enum": list(values)}, description=description)


def shared(name: str) -> Meta:
    """A document of the Redis contract, by its schema's name in the OpenAPI components."""
    return Meta(extra_json_schema={"$ref": f"#/components/schemas/{name}"})


PositionsSnapshot = Annotated[dict[str, Any], shared("PositionsSnapshot")]
BalancesSnapshot = Annotated[dict[str, Any], shared("BalancesSnapshot")]
Order = Annotated[dict[str, Any], shared("Order")]

DecimalText = Annotated[
    str, Meta(pattern=r"^-?\d+(\.\d+)?$", description="an exact decimal", examples=["208819.33"])
]
Moment = Annotated[str, Meta(description="an ISO-8601 time in UTC")]
Count = Annotated[int, Meta(ge=0)]


class Body(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A JSON object of exactly these properties (optional ones are left out when absent)."""


# --- Errors ---------------------------------------------------------------------------------------------


def _codes() -> list[str]:
    found: set[str] = set()
    kinds: list[type[exceptions.SchwabError]] = [exceptions.SchwabError]
    while kinds:
        kind = kinds.pop()
        found.add(kind.code)
        kinds += kind.__subclasses__()
    return sorted(found)


ErrorCode = Annotated[str, Meta(extra_json_schema={"enum": _codes()}, description="a stable code")]


class Error(Body):
    """Every error answer: a stable code for programs, a message for people (never exception text)."""

    success: Literal[False]
    error: ErrorCode
    message: str
    connected: (
        Annotated[bool, Meta(description="false, with the not-connected and reauth codes")] | UnsetType
    ) = UNSET
    retry_after: Annotated[float, Meta(ge=0, description="seconds, with the rate limits")] | UnsetType = UNSET
    fields: (
        Annotated[dict[str, str], Meta(description="with invalid_ticket: each bad field and what is wrong")]
        | UnsetType
    ) = UNSET


# --- The connection ------------------------------------------------------------------------------------

ConnectionStatusName = Literal["not_connected", "active", "expiring", "reauth_required", "disconnected"]


class ConnectionState(Body):
    """The connection's state and expiries (never a token); the times are absent when not connected."""

    connected: bool
    status: ConnectionStatusName
    connected_at: Moment | UnsetType | None = UNSET
    access_token_expires_at: Moment | UnsetType | None = UNSET
    refresh_token_expires_at: Moment | UnsetType | None = UNSET
    last_refreshed_at: Moment | UnsetType | None = UNSET
    last_error: str | UnsetType | None = UNSET


class ConnectionStatus(ConnectionState, kw_only=True):
    """GET /schwab/oauth/status/."""

    success: Literal[True]


class Disconnected(Body):
    """POST /schwab/oauth/disconnect/."""

    success: Literal[True]
    connected: Literal[False]
    status: Literal["disconnected", "not_connected"]


# --- Accounts and live data -----------------------------------------------------------------------------


class Account(Body):
    """One of the user's accounts (the full account number never leaves Thor)."""

    hashValue: Annotated[str, Meta(description="Schwab's opaque account hash")]  # noqa: N815 - Schwab's name
    account_id: Annotated[str, Meta(description="the same hash: the id used in URLs")]
    type: Annotated[str, Meta(examples=["MARGIN", "CASH", "UNKNOWN"])]
    display_number: Annotated[str, Meta(description="masked, e.g. …3201")]


class AccountList(Body):
    success: Literal[True]
    accounts: list[Account]


class PositionsPublished(Body):
    success: Literal[True]
    message: Annotated[str, Meta(examples=["Positions published to Redis for account 499E…"])]
    payload: PositionsSnapshot


class BalancesPublished(Body):
    success: Literal[True]
    message: Annotated[str, Meta(examples=["Balances published to Redis for account 499E…"])]
    payload: BalancesSnapshot


class LatestPositions(Body):
    success: Literal[True]
    payload: PositionsSnapshot | None


class SummaryDisplay(Body):
    """The card's values formatted for people ($1,234.50, -$72.72, -0.03%, —)."""

    net_liquidation_value: str
    buying_power: str
    cash: str
    day_pnl: str
    day_pnl_percent: str


class Summary(Body):
    """The Account Summary card, from the balances snapshot; `stale` with the reason when Schwab failed
    and older numbers are shown."""

    account_type: str | None
    display_number: str | None
    net_liquidation_value: DecimalText | None
    buying_power: DecimalText | None
    cash: DecimalText | None
    day_pnl: DecimalText | None
    day_pnl_percent: DecimalText | None
    display: SummaryDisplay
    positions_count: Count | None
    as_of: Annotated[str, Meta(description="when Schwab's data was fetched (UTC)")]
    age_seconds: Count
    stale: bool
    stale_reason: str | None


class AccountSummary(Body):
    success: Literal[True]
    account_hash: str
    summary: Summary


# --- Orders ---------------------------------------------------------------------------------------------


class SpreadLeg(Body, kw_only=True):
    """One contract of an option spread; it trades the spread's quantity times its ratio."""

    symbol: Annotated[str, Meta(examples=["SPY   261218C00500000"])]
    instruction: Annotated[str, one_of(ticket_fields.OPTION_INSTRUCTIONS)]
    ratio: Annotated[int, Meta(ge=1, le=spread_tickets.MAX_RATIO, description="custom spreads only")] = 1


class Ticket(Body, kw_only=True):
    """Thor's order ticket, by `strategy`:
    - single: an equity (market, limit, stop, stop-limit, trailing stop, trailing stop-limit) or a
      single-leg option (market, limit): symbol, instruction, quantity and the order's prices;
    - bracket: a single equity entry plus take_profit and stop_loss (placed when it fills, either
      cancelling the other);
    - oco, trigger: `orders`, two single tickets (either filling cancels the other; the first's fill
      places the second);
    - vertical, straddle, strangle, custom: an option spread of `legs` on one underlying, `quantity`
      spreads at a net price (`order_type` net_debit or net_credit with `limit_price`, or market).
    Prices are decimal strings on Schwab's ticks (0.01 at $1 and above, 0.0001 below); quantities whole
    shares or contracts. Checked by `tickets.parse`, which names every bad field."""

    strategy: Annotated[str, one_of(tickets.STRATEGIES, "the kind of ticket")] = "single"
    asset: Annotated[str, one_of(tickets.ORDER_TYPES)] = "equity"
    symbol: Annotated[str, Meta(examples=["AAPL", "SPY   261218P00505000"])] | UnsetType = UNSET
    instruction: (
        Annotated[str, one_of([*ticket_fields.EQUITY_INSTRUCTIONS, *ticket_fields.OPTION_INSTRUCTIONS])]
        | UnsetType
    ) = UNSET
    quantity: Annotated[int, Meta(ge=1, le=max(ticket_fields.MAX_QUANTITY.values()))] | UnsetType = UNSET
    order_type: Annotated[
        str,
        one_of(
            dict.fromkeys([*tickets.ORDER_TYPES["equity"], *spread_tickets.ORDER_TYPES]),
            "a spread's: net_debit (its default), net_credit or market",
        ),
    ] = "limit"
    limit_price: Annotated[str, Meta(examples=["150.00"])] | UnsetType = UNSET
    stop_price: Annotated[str, Meta(examples=["145.50"])] | UnsetType = UNSET
    duration: Annotated[str, one_of(ticket_fields.DURATIONS)] = "day"
    session: Annotated[str, one_of(ticket_fields.SESSIONS)] = "normal"
    trail_offset: (
        Annotated[
            str, Meta(description="trailing stops: dollars, or a percentage under 100", examples=["2.50"])
        ]
        | UnsetType
    ) = UNSET
    trail_type: Annotated[str, one_of(tickets.TRAIL_TYPES)] | UnsetType = UNSET
    trail_basis: Annotated[str, one_of(tickets.TRAIL_BASES)] | UnsetType = UNSET
    limit_offset: (
        Annotated[
            str, Meta(description="a trailing stop-limit's limit, dollars past its stop", examples=["0.50"])
        ]
        | UnsetType
    ) = UNSET
    take_profit: (
        Annotated[str, Meta(description="a bracket's limit exit", examples=["160.00"])] | UnsetType
    ) = UNSET
    stop_loss: Annotated[str, Meta(description="a bracket's stop exit", examples=["140.00"])] | UnsetType = (
        UNSET
    )
    orders: Annotated[list[Ticket], Meta(min_length=2, max_length=2)] | UnsetType = UNSET
    legs: Annotated[list[SpreadLeg], Meta(min_length=2, max_length=4)] | UnsetType = UNSET


class Preview(Body):
    """What Schwab's previewOrder says of a ticket."""

    accepted: Annotated[bool, Meta(description="false when Schwab would reject it")]
    order_value: DecimalText | None
    commission: DecimalText | None
    fees: DecimalText | None
    projected_commission: DecimalText | None
    projected_buying_power: DecimalText | None
    projected_available_funds: DecimalText | None
    warnings: list[str]
    rejects: list[str]


class Quote(Body):
    """A symbol's quote for the order ticket, from Schwab's Market Data API (prices as exact decimal text;
    null where Schwab sent none)."""

    symbol: str
    asset_type: Annotated[str, Meta(examples=["EQUITY", "OPTION"])] | None
    bid: DecimalText | None
    ask: DecimalText | None
    last: DecimalText | None
    mark: DecimalText | None
    close: Annotated[str, Meta(pattern=r"^-?\d+(\.\d+)?$", description="the previous close")] | None
    net_change: Annotated[str, Meta(pattern=r"^-?\d+(\.\d+)?$", description="last - close")] | None
    quoted_at: Annotated[str, Meta(description="when Schwab quoted it (UTC)")] | None


class QuoteList(Body):
    success: Literal[True]
    quotes: Annotated[list[Quote], Meta(description="in the order asked, the known symbols only")]
    unknown: Annotated[list[str], Meta(description="the symbols Schwab does not know")]


class PreviewAnswer(Body):
    success: Literal[True]
    preview: Preview


class TradingState(Body):
    """Whether the user may trade now, and if not why (for the order ticket)."""

    enabled: bool
    reason: str | None
    message: str | None


class OrderList(Body):
    success: Literal[True]
    orders: list[Order]
    trading: TradingState


class OrderAnswer(Body):
    success: Literal[True]
    order: Order


class OrderPlaced(Body):
    """A place or replace: `placed` with Schwab's order id, or `unknown` (do not resubmit: ask again with
    the same Idempotency-Key)."""

    success: Literal[True]
    outcome: Literal["placed", "unknown"]
    order_id: str | None
    replaced_order_id: str | UnsetType = UNSET
    order: Order | UnsetType = UNSET
    message: str | UnsetType = UNSET


class CancelPending(Body):
    """A cancel Schwab did not confirm yet."""

    success: Literal[True]
    outcome: Literal["unknown"]
    message: str


# --- The live channel's events (besides the Redis contract's documents) ---------------------------------


class SummaryEvent(Body):
    account_id: str
    summary: Summary


class ReadyEvent(Body):
    account_ids: list[str]


class ResetEvent(Body):
    account_id: str
    reason: Literal["events_trimmed"]


# --- Health -------------------------------------------------------------------------------------------


class StreamingStatus(Body):
    """The stream workers heard from within a lease."""

    workers: Count
    connections: Annotated[int, Meta(ge=0, description="leased")]
    streaming: Annotated[int, Meta(ge=0, description="logged in now")]
    last_heartbeat_age_seconds: Annotated[float, Meta(ge=0)] | None
    lag_ms: Annotated[int, Meta(description="Schwab's message time to its event (worst worker)")] | None


class Health(Body):
    success: bool
    redis: Literal["ok", "unavailable"]
    database: Literal["ok", "unavailable"]
    oldest_snapshot_age_seconds: Count | None
    streaming: Annotated[StreamingStatus | None, Meta(description="null: Redis unavailable")]


# Every named body, for the OpenAPI components.
BODIES: tuple[type[Body], ...] = (
    Error,
    ConnectionStatus,
    ConnectionState,
    Disconnected,
    AccountList,
    PositionsPublished,
    BalancesPublished,
    LatestPositions,
    AccountSummary,
    Ticket,
    QuoteList,
    PreviewAnswer,
    OrderList,
    OrderAnswer,
    OrderPlaced,
    CancelPending,
    SummaryEvent,
    ReadyEvent,
    ResetEvent,
    Health,
)


def respond(kind: type[B], value: B | dict[str, Any], *, status: int = 200) -> HttpResponse:
    """Answer with `value` as a `kind` body: a dict is checked against the type first (a mismatch is a bug:
    msgspec.ValidationError, a 500), so nothing is sent that the document does not describe."""
    body = value if isinstance(value, kind) else msgspec.convert(value, kind)
    return HttpResponse(msgspec.json.encode(body), status=status, content_type=JSON_CONTENT_TYPE)
