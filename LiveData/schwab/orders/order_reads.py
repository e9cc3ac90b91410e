"""Reading orders: Schwab's order list and single orders for one of the user's accounts, normalized, the
statuses of the orders Thor placed appended to their audit trail, and `live_data:orders` kept current.
The order service and the stream worker read through here; nothing here changes an order."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import redis

from LiveData.schwab.connection import accounts
from LiveData.schwab.connection.session import TraderSession
from LiveData.schwab.exceptions import (
    InvalidOrderId,
    OrderNotFound,
    SchwabBadRequest,
    SchwabError,
    SchwabMalformedResponse,
    TicketInvalid,
)
from LiveData.schwab.models import OrderRequest, OrderStatusChange
from LiveData.schwab.orders import order_transforms
from LiveData.shared import clock, contract, publisher, reader

logger = logging.getLogger(__name__)
Action = OrderRequest.Action
LIST_DAYS_BACK = 60  # Schwab's order list reaches at most 60 days back
RECENT = timedelta(days=1)  # what live_data:orders holds besides the open orders
SOURCE = "schwab"
STATUSES = frozenset(
    order_transforms.OPEN_STATUSES | {"REJECTED", "CANCELED", "REPLACED", "FILLED", "EXPIRED", "UNKNOWN"}
)


def valid_order_id(raw: str) -> str:
    """Schwab's order ids are digits; anything else is refused before it is stored or sent."""
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 20):
        raise InvalidOrderId
    return raw


def observe(account_id: str, documents: list[dict[str, Any]]) -> None:
    """Append to the audit trail the statuses seen for orders Thor placed."""
    by_id = {document["order_id"]: document for document in documents}
    rows = OrderRequest.objects.filter(
        account_id=account_id, order_id__in=list(by_id), action__in=[Action.PLACE, Action.REPLACE]
    )
    for row in rows:
        document = by_id[row.order_id]
        if row.last_status != document["status"]:
            status_seen(row, document)
            row.last_status = document["status"]
            row.save(update_fields=["last_status", "updated_at"])


def status_seen(row: OrderRequest, document: dict[str, Any]) -> None:
    filled = document.get("filled_quantity")
    OrderStatusChange.objects.create(
        order_request=row,
        status=document["status"],
        filled_quantity=Decimal(filled) if filled is not None else None,
        seen_at=clock.now(),
    )


def schwab_time(moment: datetime) -> str:
    """Schwab's form of an instant, in UTC (an aware time in another zone is converted, not relabelled)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def fetch_orders(
    session: TraderSession, account_id: str, *, since: datetime, until: datetime, status: str | None = None
) -> list[dict[str, Any]]:
    params = {"fromEnteredTime": schwab_time(since), "toEnteredTime": schwab_time(until)}
    if status:
        params["status"] = status
    data = session.get(f"/accounts/{account_id}/orders", path_name="orders.list", params=params)
    if not isinstance(data, list):
        raise SchwabMalformedResponse
    return [order for order in data if isinstance(order, dict)]


def fetch_order(session: TraderSession, account_id: str, order_id: str) -> dict[str, Any]:
    order_id = valid_order_id(order_id)
    try:
        data = session.get(f"/accounts/{account_id}/orders/{order_id}", path_name="orders.get")
    except SchwabBadRequest as refused:
        if refused.upstream_status in (400, 404):
            raise OrderNotFound from None
        raise
    if not isinstance(data, dict):
        raise SchwabMalformedResponse
    return data


def orders_list(
    *,
    session: TraderSession,
    account_id: str,
    status: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[dict[str, Any]]:
    """The account's orders, newest first, optionally of one status, entered in [since, until]."""
    accounts.account_authorize(session=session, account_id=account_id)
    now = clock.now()
    until = until or now
    since = since or now - timedelta(days=7)
    if status is not None and status not in STATUSES:
        raise TicketInvalid(fields={"status": "Not one of Schwab's order statuses."})
    if since > until or since < now - timedelta(days=LIST_DAYS_BACK):
        raise TicketInvalid(fields={"from": f"From before to, at most {LIST_DAYS_BACK} days back."})
    raw = fetch_orders(session, account_id, since=since, until=until, status=status)
    documents = contract.newest_first(tree_documents(raw))
    observe(account_id, documents)
    return documents


def tree_documents(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Orders as Schwab answers them, and the children each nests, as Thor's documents (parents first)."""
    return [order_transforms.order_document(order, parent) for order, parent in _flattened(raw)]


def _flattened(
    raw: list[dict[str, Any]], parent: str | None = None, depth: int = 0
) -> list[tuple[dict[str, Any], str | None]]:
    """Schwab nests the orders a composite places (a bracket's take-profit and stop, under an OCO without
    legs of its own) inside it; each is an order of its own here, as the streamer reports it, with the id
    of the order it hangs from."""
    found = []
    for order in raw:
        found.append((order, parent))
        children = order.get("childOrderStrategies")
        if isinstance(children, list) and depth < 3:
            nested = [child for child in children if isinstance(child, dict)]
            found += _flattened(nested, str(order.get("orderId")), depth + 1)
    return found


def order_get(*, session: TraderSession, account_id: str, order_id: str) -> dict[str, Any]:
    """One of the account's orders (404 order_not_found for another account's)."""
    order_id = valid_order_id(order_id)
    accounts.account_authorize(session=session, account_id=account_id)
    document = order_transforms.order_document(fetch_order(session, account_id, order_id))
    observe(account_id, [document])
    return document


def orders_publish(*, session: TraderSession, account_id: str) -> dict[str, Any] | None:
    """Refresh live_data:orders:{account_id} (open and recent orders); best effort after an action."""
    now = clock.now()
    try:
        documents = orders_list(session=session, account_id=account_id, since=now - RECENT, until=now)
        return recent_orders_publish(account_id=account_id, documents=documents, as_of=now)
    except (SchwabError, redis.RedisError) as failure:
        logger.warning("orders not published: %s", getattr(failure, "code", type(failure).__name__))
        return None


def recent_orders_publish(
    *, account_id: str, documents: list[dict[str, Any]], as_of: datetime
) -> dict[str, Any]:
    """Publish, of a listing as of `as_of`, the open orders and those entered within RECENT."""
    since = contract.timestamp(as_of - RECENT)
    kept = [document for document in documents if document["open"] or _entered_at(document) >= since]
    envelope = contract.orders_envelope(
        account_id=account_id, source=SOURCE, as_of=as_of, published_at=clock.now(), orders=kept
    )
    publisher.publish_orders(envelope=envelope)
    return envelope


def _entered_at(document: dict[str, Any]) -> str:
    """The entered time in the contract's timestamp form, so it compares as text."""
    text = document.get("entered_time")
    try:
        return contract.timestamp(contract.parse_timestamp(text.replace("+0000", "+00:00"))) if text else ""
    except ValueError:
        return ""


def merge_live(account_id: str, documents: list[dict[str, Any]]) -> None:
    """Bring live_data:orders up to date with orders just seen (no second call to Schwab)."""
    try:
        publisher.merge_orders(account_id=account_id, source=SOURCE, orders=documents, at=clock.now())
    except redis.RedisError:
        logger.warning("orders not published: redis unavailable")


def has_open_orders(account_id: str) -> bool:
    """Whether the last published orders of the account include open ones (the refresher follows them)."""
    try:
        stored = reader.latest_orders(account_id)
    except (redis.RedisError, reader.SnapshotSchemaError):
        return False
    return bool(stored and any(order["open"] for order in stored["orders"]))
