"""Live account data, one way: fetch the account from Schwab, transform it, publish both snapshots; on an
outage, mark the stored ones stale instead. And the summary card, served from Redis while the balances
snapshot is fresh; only when it is due does one refresh run, shared by concurrent requests for the same
account in a process.

One upstream call (`accounts/{hash}?fields=positions`) refreshes an account and publishes its positions
and balances snapshots in one atomic Redis round trip. The document is decoded straight into typed
structures and each position goes in one pass to its published form (see `transforms`).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

import msgspec
import redis

from LiveData.schwab.conf import schwab_settings
from LiveData.schwab.connection import accounts, services
from LiveData.schwab.connection.session import TraderSession
from LiveData.schwab.connection.singleflight import SingleFlight
from LiveData.schwab.exceptions import (
    AccountNotFound,
    NoAccounts,
    RedisUnavailable,
    SchwabApiError,
    SchwabMalformedResponse,
)
from LiveData.schwab.live_data import account_document, snapshots, summary, transforms
from LiveData.schwab.models import Login
from LiveData.shared import clock, contract, publisher, reader

logger = logging.getLogger(__name__)
_refreshes: SingleFlight[Mapping[str, dict[str, Any]]] = SingleFlight()


class PublishedDocuments(Mapping[str, dict[str, Any]]):
    """The snapshots just published, by kind, as plain JSON values: each built on first read only, since
    a background refresh reads none of them."""

    def __init__(self, built: list[publisher.Snapshot]) -> None:
        self._built: dict[str, publisher.Snapshot] = {snapshot.kind: snapshot for snapshot in built}
        self._documents: dict[str, dict[str, Any]] = {}

    def __getitem__(self, kind: str) -> dict[str, Any]:
        if kind not in self._documents:
            self._documents[kind] = msgspec.to_builtins(self._built[kind].envelope)
        return self._documents[kind]

    def __iter__(self) -> Iterator[str]:
        return iter(self._built)

    def __len__(self) -> int:
        return len(self._built)


def account_refresh(
    *, session: TraderSession, account_id: str, authorized: Login | None = None
) -> Mapping[str, dict[str, Any]]:
    """Fetch the account once, transform, publish both snapshots; return them by kind.

    On an outage the last good snapshots stay in Redis, marked stale with the reason. The call uses the
    tokens of the login the account is authorized for: `authorized` when the caller checked the account
    for the login these tokens belong to, else checked here against the tokens' own login."""
    connection = session.connection
    services.ensure_usable(connection)
    if connection.login != authorized:  # not checked yet, or checked for another login than these tokens'
        accounts.account_authorize(session=session, account_id=account_id, login=connection.login)
    path_name = "accounts.get"
    try:
        body = session.get_content(
            f"/accounts/{account_id}", path_name=path_name, params={"fields": "positions"}
        )
        as_of = clock.now()
        try:
            account = transforms.parse_account(account_document.decode(body))
        except msgspec.DecodeError:
            logger.warning("schwab %s sent malformed JSON (%s bytes)", path_name, len(body))
            raise SchwabMalformedResponse from None
        except account_document.MalformedAccount:
            logger.warning("schwab account document malformed; nothing published")
            raise SchwabMalformedResponse from None
    except SchwabApiError as failure:
        if failure.outage:  # a refusal says nothing about the account's data: leave it alone
            _mark_stale(account_id, failure.code)
        raise
    built = snapshots.build(account_id=account_id, account=account, as_of=as_of, published_at=clock.now())
    try:
        publisher.publish(snapshots=built, ttl_seconds=schwab_settings().snapshot_ttl_seconds)
    except redis.RedisError:
        logger.warning("live-data publish failed: redis unavailable")
        raise RedisUnavailable from None
    return PublishedDocuments(built)


def account_summary(*, session: TraderSession, account_id: str | None) -> tuple[str, dict[str, Any]]:
    """The summary card of `account_id` (the first of the user's accounts when None) and that account's
    id: from a fresh enough snapshot in Redis, otherwise one shared refresh. When Schwab fails and a
    snapshot exists, the last good numbers, marked stale. The login is read and the account authorized
    once, and a refresh reuses that decision while the tokens are that login's."""
    login = session.current_login()
    known = accounts.account_ids(session=session, login=login)
    if account_id is None:
        if not known:
            raise NoAccounts
        account_id = known[0]
    elif account_id not in known:
        raise AccountNotFound
    now = clock.now()
    try:
        balances = reader.latest_balances(account_id)
    except redis.RedisError:
        raise RedisUnavailable from None
    if balances is not None and not _due(balances, now):
        return account_id, summary.build(balances=balances, now=now)
    chosen = account_id
    try:
        fresh = _refreshes.do(
            chosen, lambda: account_refresh(session=session, account_id=chosen, authorized=login)
        )
    except SchwabApiError:
        if balances is None:
            raise
        with contextlib.suppress(redis.RedisError):  # serve the last good numbers, marked stale
            balances = reader.latest_balances(account_id) or balances
        return account_id, summary.build(balances=balances, now=now)
    return account_id, summary.build(balances=fresh[contract.BALANCES], now=now)


def _due(envelope: dict[str, Any], now: datetime) -> bool:
    """A snapshot is due for a refresh when it is stale or older than SCHWAB_SUMMARY_MAX_AGE_SECONDS."""
    try:
        moment = contract.parse_timestamp(envelope.get("published_at", ""))
    except ValueError:
        return True
    return bool(envelope.get("stale")) or now - moment > schwab_settings().summary_max_age


def _mark_stale(account_id: str, reason: str) -> None:
    try:
        publisher.mark_stale(account_id=account_id, reason=reason, at=clock.now())
    except redis.RedisError:
        logger.warning("could not mark live data stale: redis unavailable")
