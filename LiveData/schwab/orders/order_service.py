"""Orders, safely: preview, place, replace, cancel, list and read, with an audit row for every request.

The rules, in the order they are checked (nothing reaches Schwab until all pass):
1. trading is on (SCHWAB_TRADING_ENABLED) and the user has the `schwab.trade` permission;
2. place and replace carry an Idempotency-Key; the ticket is valid; the account is one of the user's;
3. the order is within SCHWAB_ORDER_NOTIONAL_CAP and the account's order-request limit.

Idempotency follows Stripe's design on PostgreSQL: requests with one key are serialized by an advisory
lock (held across processes while the request runs), the key's `OrderRequest` row stores the normalized
request (another request under the same key is refused) and moves through recovery points that are
committed before and after the one call to Schwab: created → sending → placed | rejected | unknown. A
request that finds its key `sending` or `unknown` never sends again: it reconciles, looking for the order
among the account's recent orders (Schwab has no client order id), and answers what is known.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import redis
from django.db import InterfaceError, OperationalError, transaction
from django.db import connection as db_connection

from LiveData.schwab.conf import schwab_settings
from LiveData.schwab.connection import accounts, client
from LiveData.schwab.connection.session import TraderSession
from LiveData.schwab.exceptions import (
    IdempotencyKeyRequired,
    IdempotencyKeyReused,
    NotionalCapExceeded,
    OrderError,
    OrderNotCancelable,
    OrderNotFound,
    OrderNotPlaced,
    OrderNotReplaceable,
    OrderPriceUnknown,
    OrderRejected,
    OrdersThrottled,
    RedisUnavailable,
    SchwabApiError,
    SchwabBadRequest,
    SchwabError,
    SchwabRateLimited,
    SchwabUnauthorized,
    TradingDisabled,
    TradingNotPermitted,
)
from LiveData.schwab.models import OrderRequest
from LiveData.schwab.orders import (
    order_reads,
    order_transforms,
    quotes,
    schwab_orders,
    ticket_body,
    tickets,
)
from LiveData.shared import clock, ratelimit, reader

logger = logging.getLogger(__name__)
State = OrderRequest.State
Action = OrderRequest.Action
MATCH_SLACK = timedelta(seconds=60)  # clock difference allowed when finding a sent order by its time


# The database failing after an order may have left (recorded nowhere yet): answered as unknown, not 500.
DATABASE_GONE = (OperationalError, InterfaceError)
UNKNOWN_BODY = {
    "success": True,
    "outcome": "unknown",
    "order_id": None,
    "message": "Schwab may have received this order, but did not confirm it. Do not place it again: "
    "Thor is finding out, and this request with the same Idempotency-Key will say what happened.",
}

NOT_BY_A_BRACKET = "A bracket is not replaced: cancel it and place a new one."
CANCEL_UNKNOWN_BODY = {
    "success": True,
    "outcome": "unknown",
    "message": "Schwab did not confirm the cancel yet.",
}


@dataclass(frozen=True)
class Outcome:
    """What to answer: the HTTP status and the JSON body (replayed as it is for the same key)."""

    status: int
    body: dict[str, Any]


# --- Gates ------------------------------------------------------------------------------------------------


def trading_check(*, user: Any) -> None:
    """403 unless trading is switched on and the user may trade (checked before anything else)."""
    if not schwab_settings().trading_enabled:
        raise TradingDisabled
    if not user.has_perm("schwab.trade"):
        raise TradingNotPermitted


def trading_state(*, user: Any) -> dict[str, Any]:
    """Whether the user may trade now, and if not why (for the order ticket)."""
    try:
        trading_check(user=user)
    except OrderError as refused:
        return {"enabled": False, "reason": refused.code, "message": refused.detail}
    return {"enabled": True, "reason": None, "message": None}


def _key(raw: str | None) -> str:
    key = (raw or "").strip()
    if not key or len(key) > 255 or not (key.isascii() and key.isprintable()):
        raise IdempotencyKeyRequired
    return key


def _fingerprint(**request: Any) -> str:
    return hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()


_process_locks: dict[tuple[int, str], threading.Lock] = {}
_process_locks_guard = threading.Lock()


@contextmanager
def idempotency_lock(user_id: int, key: str) -> Iterator[None]:
    """Serialize the requests that carry one key: a PostgreSQL advisory lock (every process), or, on the
    development database (SQLite: one process), a lock in this process."""
    if db_connection.vendor == "postgresql":
        number = int.from_bytes(hashlib.sha256(f"{user_id}:{key}".encode()).digest()[:8], "big", signed=True)
        with db_connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [number])
        try:
            yield
        finally:
            # A database gone meanwhile took the lock with its session; the answer stands.
            with contextlib.suppress(*DATABASE_GONE), db_connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [number])
        return
    with _process_locks_guard:
        lock = _process_locks.setdefault((user_id, key), threading.Lock())
    with lock:
        yield


# --- The audit trail --------------------------------------------------------------------------------------


def _audit(session: TraderSession, **fields: Any) -> OrderRequest:
    connection = None
    with contextlib.suppress(SchwabError):  # not connected: the refusal is recorded all the same
        connection = session.connection
    return OrderRequest.objects.create(user=session.user, connection=connection, **fields)


def _finish(
    row: OrderRequest, state: str, outcome: Outcome, *, error_code: str = "", **fields: Any
) -> Outcome:
    row.state = state
    row.error_code = error_code
    row.response_status = outcome.status
    row.response = outcome.body
    for name, value in fields.items():
        setattr(row, name, value)
    row.save()
    return outcome


def _refusal(row: OrderRequest, error: SchwabError, state: str = State.REFUSED) -> SchwabError:
    """Record an answered refusal on the row (so the same key replays it) and hand the error back."""
    _finish(row, state, Outcome(error.status, error.payload()), error_code=error.code)
    return error


def _normalized(data: Any) -> dict[str, Any] | None:
    """The ticket as Thor reads it, for the audit row of a refusal (bounded; never the raw body)."""
    try:
        return tickets.parse(data).as_json()
    except OrderError:
        return None


def _stored(text: str, limit: int) -> str:
    """Text from the URL as a column can hold it (PostgreSQL refuses NUL characters)."""
    return text.replace("\x00", "")[:limit]


@contextmanager
def _audited(
    session: TraderSession, action: str, account_id: str, *, data: Any = None, target_order_id: str = ""
) -> Iterator[None]:
    """Refusals before a request has its own row (trading off, a bad ticket, someone else's account)
    still leave one: the normalized ticket, when there is one."""
    try:
        yield
    except SchwabError as refused:
        _audit(
            session,
            action=action,
            account_id=_stored(account_id, 128),
            fingerprint="",
            ticket=_normalized(data),
            target_order_id=_stored(target_order_id, 32),
            state=State.REFUSED,
            error_code=refused.code,
            response_status=refused.status,
            response=refused.payload(),
        )
        raise


# --- Preview ----------------------------------------------------------------------------------------------


def order_preview(*, session: TraderSession, account_id: str, data: Any) -> dict[str, Any]:
    """What Schwab's previewOrder says of the ticket, normalized (nothing is placed)."""
    with _audited(session, Action.PREVIEW, account_id, data=data):
        ticket = tickets.parse(data)
        accounts.account_authorize(session=session, account_id=account_id)
    schwab_order = schwab_orders.schwab_order(ticket)
    row = _audit(
        session,
        action=Action.PREVIEW,
        account_id=account_id,
        fingerprint="",
        ticket=ticket.as_json(),
        schwab_order=schwab_order,
        sent_at=clock.now(),
    )
    try:
        response = session.send(
            "POST", f"/accounts/{account_id}/previewOrder", path_name="orders.preview", body=schwab_order
        )
        preview = client.decode(response, path_name="orders.preview")
    except SchwabBadRequest:
        raise _refusal(row, OrderRejected(), State.REJECTED) from None
    except SchwabError as failure:
        raise _refusal(row, failure, State.FAILED) from None
    document = order_transforms.preview_document(preview if isinstance(preview, dict) else {})
    _finish(row, State.DONE, Outcome(200, {"success": True, "preview": document}))
    return document


# --- Place and replace ------------------------------------------------------------------------------------


def order_place(
    *, session: TraderSession, account_id: str, data: Any, idempotency_key: str | None
) -> Outcome:
    """Place the ticket's order once per key; 201 placed, 202 status unknown (do not resubmit)."""
    with _audited(session, Action.PLACE, account_id, data=data):
        ticket_body.check_size(data)
        trading_check(user=session.user)
        key = _key(idempotency_key)
        ticket = tickets.parse(data)
        accounts.account_authorize(session=session, account_id=account_id)
    fingerprint = _fingerprint(action=Action.PLACE, account=account_id, ticket=ticket.as_json())
    with idempotency_lock(session.user.pk, key):
        row = _claim(session, Action.PLACE, account_id, key, fingerprint, ticket)
        return _advance(session, row, ticket)


def order_replace(
    *, session: TraderSession, account_id: str, order_id: str, data: Any, idempotency_key: str | None
) -> Outcome:
    """Replace a working order with the ticket's, once per key; answers with the new order id."""
    with _audited(session, Action.REPLACE, account_id, data=data, target_order_id=order_id):
        ticket_body.check_size(data)
        trading_check(user=session.user)
        order_id = order_reads.valid_order_id(order_id)
        key = _key(idempotency_key)
        ticket = tickets.parse(data)
        accounts.account_authorize(session=session, account_id=account_id)
    fingerprint = _fingerprint(
        action=Action.REPLACE, account=account_id, target=order_id, ticket=ticket.as_json()
    )
    with idempotency_lock(session.user.pk, key):
        row = _claim(session, Action.REPLACE, account_id, key, fingerprint, ticket, target_order_id=order_id)
        return _advance(session, row, ticket)


def _claim(
    session: TraderSession,
    action: str,
    account_id: str,
    key: str,
    fingerprint: str,
    ticket: tickets.OrderTicket,
    target_order_id: str = "",
) -> OrderRequest:
    """The key's row: created now, or the earlier request's (which must be the same request)."""
    with transaction.atomic():
        row, created = OrderRequest.objects.get_or_create(
            user=session.user,
            idempotency_key=key,
            defaults={
                "connection": session.connection,
                "account_id": account_id,
                "action": action,
                "fingerprint": fingerprint,
                "ticket": ticket.as_json(),
                "target_order_id": target_order_id,
            },
        )
    if not created and row.fingerprint != fingerprint:
        refused = IdempotencyKeyReused()
        _audit(
            session,
            action=action,
            account_id=account_id,
            fingerprint=fingerprint,
            ticket=ticket.as_json(),
            target_order_id=target_order_id,
            state=State.REFUSED,
            error_code=refused.code,
            response_status=refused.status,
            response=refused.payload(),
        )
        raise refused
    return row


def _advance(session: TraderSession, row: OrderRequest, ticket: tickets.OrderTicket) -> Outcome:
    """Take the key's request on from its last recovery point."""
    if row.state in (State.SENDING, State.UNKNOWN):
        return _settle(session, row)  # it may have reached Schwab: find out, never send again
    if row.state != State.CREATED:
        return Outcome(row.response_status or 200, row.response or {})  # the first outcome, replayed
    if row.action == Action.REPLACE:
        if not ticket.replaceable:
            raise _refusal(row, OrderNotReplaceable(NOT_BY_A_BRACKET))
        _check_replaceable(session, row)
    _check_cap(session, row, ticket)
    _throttle_orders(row.account_id)
    schwab_order = schwab_orders.schwab_order(ticket)
    row.state, row.schwab_order, row.sent_at = State.SENDING, schwab_order, clock.now()
    row.save()  # the recovery point: from here on this request is never sent again
    try:
        return _send(session, row, schwab_order)
    except DATABASE_GONE:  # the order may have reached Schwab: never a 500 a client could retry
        logger.warning(
            "order %s %s: the database went away after sending; status unknown", row.action, row.pk
        )
        return Outcome(202, UNKNOWN_BODY)  # the row stays `sending`: the settling task finds out


def _send(session: TraderSession, row: OrderRequest, schwab_order: dict[str, Any]) -> Outcome:
    """The one call to Schwab, and what its answer makes of the row."""
    if row.action == Action.REPLACE:
        method, path = "PUT", f"/accounts/{row.account_id}/orders/{row.target_order_id}"
    else:
        method, path = "POST", f"/accounts/{row.account_id}/orders"
    try:
        response = session.send(method, path, path_name=f"orders.{row.action}", body=schwab_order)
    except SchwabBadRequest:
        if row.action == Action.REPLACE:
            _check_replaceable(session, row)  # it may have filled or been canceled meanwhile
        raise _refusal(row, OrderRejected(), State.REJECTED) from None
    except (SchwabRateLimited, SchwabUnauthorized) as refused:
        row.state = State.CREATED  # refused outright, nothing done: the same key may try again later
        row.save(update_fields=["state", "updated_at"])
        raise refused from None
    except SchwabApiError as failure:
        if failure.outage or failure.upstream_status is None:
            logger.warning("order %s %s ambiguous: %s; reconciling", row.action, row.pk, failure.code)
            return _settle(session, row)
        raise _refusal(row, failure, State.FAILED) from None
    except SchwabError:
        row.state = State.CREATED  # failed before the call (limits, tokens, Redis): nothing was sent
        row.save(update_fields=["state", "updated_at"])
        raise
    order_id = _order_id_from(response.headers.get("Location"))
    if order_id is None:  # Schwab may answer 201 without Location when the order fills at once
        return _settle(session, row)
    return _placed(session, row, order_id)


def _check_replaceable(session: TraderSession, row: OrderRequest) -> None:
    """Schwab replaces one working order with another single one: a bracket (an order that would still
    place others, or a ticket that would) is cancelled and placed anew instead, never half-replaced."""
    try:
        target = order_reads.fetch_order(session, row.account_id, row.target_order_id)
    except OrderNotFound as missing:
        raise _refusal(row, missing) from None
    if target.get("childOrderStrategies"):
        raise _refusal(row, OrderNotReplaceable(NOT_BY_A_BRACKET))
    if not target.get("editable", target.get("status") in order_transforms.OPEN_STATUSES):
        raise _refusal(row, OrderNotReplaceable())


def _check_cap(session: TraderSession, row: OrderRequest, ticket: tickets.OrderTicket) -> None:
    cap = schwab_settings().order_notional_cap
    if cap is None:
        return
    notional = ticket.worst_case(_market_prices(session, row.account_id, ticket.symbols))
    if notional is None:
        raise _refusal(row, OrderPriceUnknown())
    if notional > cap:
        raise _refusal(row, NotionalCapExceeded(f"The order is worth {notional}; Thor allows at most {cap}."))


def _market_prices(
    session: TraderSession, account_id: str, symbols: tuple[str, ...]
) -> dict[str, Decimal | None]:
    """Each symbol's price now: Schwab's quote, else its price in the account's last published positions."""
    try:
        prices = quotes.highest_prices(session=session, symbols=list(symbols))
    except SchwabError as failure:
        logger.warning("no quote for the notional cap: %s; trying the positions snapshot", failure.code)
        prices = {}
    return {
        symbol: prices.get(symbol) if prices.get(symbol) is not None else _snapshot_price(account_id, symbol)
        for symbol in symbols
    }


def _snapshot_price(account_id: str, symbol: str) -> Decimal | None:
    """The symbol's last price in the account's published positions (for a market order under a cap)."""
    try:
        positions = reader.latest_positions(account_id)
    except (redis.RedisError, reader.SnapshotSchemaError):
        return None
    for position in (positions or {}).get("positions", []):
        if position.get("symbol") == symbol and position.get("current_price") is not None:
            return Decimal(position["current_price"])
    return None


def _throttle_orders(account_id: str) -> None:
    conf = schwab_settings()
    try:
        ratelimit.acquire_for_orders(
            account_id,
            per_minute=conf.order_rate_limit_per_account_per_minute,
            arrival_allowance=conf.rate_limit_arrival_allowance,
            max_wait=conf.rate_limit_max_wait,
        )
    except ratelimit.RateLimitExceeded as full:
        raise OrdersThrottled(retry_after=full.retry_after) from None
    except redis.RedisError:
        raise RedisUnavailable from None  # nothing was sent; the same key may try again


def _order_id_from(location: str | None) -> str | None:
    tail = (location or "").rstrip("/").rsplit("/", 1)[-1]
    return tail if tail.isdigit() else None


def _placed(session: TraderSession, row: OrderRequest, order_id: str) -> Outcome:
    try:
        # A composite's read nests what it places: the live orders get its children with it.
        documents = order_reads.tree_documents([order_reads.fetch_order(session, row.account_id, order_id)])
    except SchwabError:  # placed all the same; the status will follow
        documents = [{"order_id": order_id, "status": "ACCEPTED"}]
    document = documents[0]
    body: dict[str, Any] = {"success": True, "outcome": "placed", "order_id": order_id, "order": document}
    if row.action == Action.REPLACE:
        body["replaced_order_id"] = row.target_order_id
    with transaction.atomic():  # the outcome and the first status seen, in one commit
        outcome = _finish(
            row, State.PLACED, Outcome(201, body), order_id=order_id, last_status=document["status"]
        )
        order_reads.status_seen(row, document)
    if "symbol" in document:
        order_reads.merge_live(row.account_id, [*documents, *_replaced(row)])
    else:
        order_reads.orders_publish(session=session, account_id=row.account_id)
    return outcome


def _replaced(row: OrderRequest) -> list[dict[str, Any]]:
    """The order a replace replaced, as live_data:orders last showed it, now REPLACED."""
    if row.action != Action.REPLACE:
        return []
    try:
        stored = reader.latest_orders(row.account_id)
    except (redis.RedisError, reader.SnapshotSchemaError):
        return []
    for order in (stored or {}).get("orders", []):
        if order["order_id"] == row.target_order_id:
            return [{**order, "status": "REPLACED", "open": False, "cancelable": False, "editable": False}]
    return []


def _settle(session: TraderSession, row: OrderRequest) -> Outcome:
    """After an ambiguous answer: find the order at Schwab; else say so, and never send it again."""
    try:
        found = _find_sent_order(session, row)
    except SchwabError:
        found = None
        searched = False
    else:
        searched = True
    if found is not None:
        return _placed(session, row, found)
    sent_at = row.sent_at or row.created_at
    if searched and clock.now() - sent_at > schwab_settings().order_reconcile_grace:
        not_placed = OrderNotPlaced()
        outcome = Outcome(not_placed.status, not_placed.payload())
        return _finish(row, State.NOT_PLACED, outcome, error_code=not_placed.code)
    outcome = Outcome(202, UNKNOWN_BODY)
    row.state, row.response_status, row.response = State.UNKNOWN, outcome.status, outcome.body
    row.error_code = "order_status_unknown"
    row.save()
    return outcome


def settle_stuck() -> list[OrderRequest]:
    """Settle the order requests left `sending` or `unknown` past the grace period (their process died
    mid-call, or Schwab never confirmed): each by the reconciliation a retry with its key would do, under
    the key's lock, never by sending again. Returns the rows looked at, in their new states (a periodic
    task: Celery beat, and every `livedata_refresh` round)."""
    cutoff = clock.now() - schwab_settings().order_reconcile_grace
    due = OrderRequest.objects.filter(
        state__in=[State.SENDING, State.UNKNOWN],
        action__in=[Action.PLACE, Action.REPLACE, Action.CANCEL],
        sent_at__lt=cutoff,
    ).select_related("user")
    settled = []
    for row in due.order_by("pk"):
        try:
            settled.append(_settle_stuck(row))
        except SchwabError as failure:  # not connected, Schwab down: the next run tries again
            logger.warning("order request %s not settled yet: %s", row.pk, failure.code)
    return settled


def _settle_stuck(row: OrderRequest) -> OrderRequest:
    session = TraderSession(row.user, background=True)
    lock = idempotency_lock(row.user_id, row.idempotency_key) if row.idempotency_key else nullcontext()
    with lock:  # a client retrying the same key meanwhile waits; whoever comes second sees it settled
        row.refresh_from_db()
        if row.state not in (State.SENDING, State.UNKNOWN):
            return row
        before = row.state
        if row.action == Action.CANCEL:
            _settle_cancel(session, row)
        else:
            _settle(session, row)
    logger.info("order request %s settled: %s -> %s", row.pk, before, row.state)
    return row


def _settle_cancel(session: TraderSession, row: OrderRequest) -> None:
    """A cancel whose answer was lost: canceled it is when the order says so; otherwise it did not take."""
    after = order_transforms.order_document(
        order_reads.fetch_order(session, row.account_id, row.target_order_id)
    )
    if after["status"] in ("CANCELED", "PENDING_CANCEL"):
        _finish(row, State.DONE, Outcome(200, {"success": True, "order": after}), last_status=after["status"])
    else:
        failed = OrderNotCancelable()
        _finish(row, State.FAILED, Outcome(failed.status, failed.payload()), error_code=failed.code)


def _find_sent_order(session: TraderSession, row: OrderRequest) -> str | None:
    """The id of the order this row sent, among the account's recent orders (unclaimed, same terms)."""
    sent_at = row.sent_at or row.created_at
    candidates = order_reads.fetch_orders(
        session, row.account_id, since=sent_at - MATCH_SLACK, until=clock.now() + MATCH_SLACK
    )
    wanted = row.schwab_order or {}
    claimed = set(
        OrderRequest.objects.filter(account_id=row.account_id)
        .exclude(pk=row.pk)
        .exclude(order_id="")
        .values_list("order_id", flat=True)
    )
    matches = [
        order
        for order in candidates
        if str(order.get("orderId")) not in claimed
        and str(order.get("orderId")) != row.target_order_id
        and _same_terms(order, wanted)
    ]
    matches.sort(key=lambda order: (str(order.get("enteredTime") or ""), str(order.get("orderId"))))
    return str(matches[0]["orderId"]) if matches else None


def _same_terms(order: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """Whether a listed order is the one sent: the same kind, type and price, the same legs in order, and
    children with the same terms (a composite's), as far as the order sent set them (Schwab fills in the
    rest: a trailing stop's current stop, a container's status)."""

    def number(value: Any) -> Decimal | None:
        return None if value is None else Decimal(str(value))

    def legs(document: dict[str, Any]) -> list[tuple[Any, ...]]:
        return [
            ((leg.get("instrument") or {}).get("symbol"), leg.get("instruction"), number(leg.get("quantity")))
            for leg in document.get("orderLegCollection") or []
            if isinstance(leg, dict)
        ]

    def children(document: dict[str, Any]) -> list[Any]:
        found = document.get("childOrderStrategies") or []
        return [child for child in found if isinstance(child, dict)] if isinstance(found, list) else []

    mine, theirs = children(wanted), children(order)
    return (
        order.get("orderStrategyType", "SINGLE") == wanted.get("orderStrategyType", "SINGLE")
        and legs(order) == legs(wanted)
        and all(
            order.get(name) == wanted[name]
            for name in ("orderType", "complexOrderStrategyType")
            if name in wanted
        )
        and ("price" not in wanted or number(order.get("price")) == number(wanted["price"]))
        and len(mine) == len(theirs)
        and all(_same_terms(have, want) for have, want in zip(theirs, mine, strict=True))
    )


# --- Cancel -----------------------------------------------------------------------------------------------


def order_cancel(*, session: TraderSession, account_id: str, order_id: str) -> Outcome:
    """Cancel a working order. Canceling one already canceled answers as done; a filled one is 409."""
    with _audited(session, Action.CANCEL, account_id, target_order_id=order_id):
        trading_check(user=session.user)
        order_id = order_reads.valid_order_id(order_id)
        accounts.account_authorize(session=session, account_id=account_id)
        target = order_transforms.order_document(order_reads.fetch_order(session, account_id, order_id))
    row = _audit(
        session, action=Action.CANCEL, account_id=account_id, fingerprint="", target_order_id=order_id
    )
    if target["status"] in ("CANCELED", "PENDING_CANCEL"):
        return _finish(row, State.DONE, Outcome(200, {"success": True, "order": target}))
    if not target["cancelable"]:
        raise _refusal(row, OrderNotCancelable())
    _throttle_orders(account_id)
    row.state, row.sent_at = State.SENDING, clock.now()
    row.save()
    try:
        return _send_cancel(session, row, account_id, order_id)
    except DATABASE_GONE:  # the cancel may have reached Schwab; the settling task reads the order later
        logger.warning("order cancel %s: the database went away after sending; status unknown", row.pk)
        return Outcome(202, CANCEL_UNKNOWN_BODY)


def _send_cancel(session: TraderSession, row: OrderRequest, account_id: str, order_id: str) -> Outcome:
    ambiguous: SchwabApiError | None = None
    try:
        session.send("DELETE", f"/accounts/{account_id}/orders/{order_id}", path_name="orders.cancel")
    except SchwabBadRequest:
        raise _refusal(row, OrderNotCancelable(), State.REJECTED) from None
    except SchwabApiError as failure:
        if not (failure.outage or failure.upstream_status is None):
            raise _refusal(row, failure, State.FAILED) from None
        logger.warning("order cancel %s ambiguous: %s; reading the order", row.pk, failure.code)
        ambiguous = failure
    try:
        after = order_transforms.order_document(order_reads.fetch_order(session, account_id, order_id))
    except SchwabError:
        outcome = Outcome(202, CANCEL_UNKNOWN_BODY)
        return _finish(row, State.UNKNOWN, outcome, error_code="order_status_unknown")
    if ambiguous is not None and after["status"] not in ("CANCELED", "PENDING_CANCEL"):
        raise _refusal(row, ambiguous, State.FAILED)  # it did not take; the order is as it was
    order_reads.observe(account_id, [after])
    outcome = _finish(
        row, State.DONE, Outcome(200, {"success": True, "order": after}), last_status=after["status"]
    )
    order_reads.orders_publish(session=session, account_id=account_id)
    return outcome
