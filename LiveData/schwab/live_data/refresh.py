"""Live account data, one way: fetch the account from Schwab, transform it, publish both snapshots; on an
outage, mark the stored ones stale instead.

One upstream call (`accounts/{hash}?fields=positions`) refreshes an account and publishes its positions
and balances snapshots in one atomic Redis round trip. The document is decoded straight into typed
structures and each position goes in one pass to its published form (see `transforms`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any

import msgspec
import redis

from LiveData.schwab.conf import schwab_settings
from LiveData.schwab.connection import accounts, services
from LiveData.schwab.connection.session import TraderSession
from LiveData.schwab.exceptions import RedisUnavailable, SchwabApiError, SchwabMalformedResponse
from LiveData.schwab.live_data import account_document, snapshots, transforms
from LiveData.shared import clock, publisher

logger = logging.getLogger(__name__)


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


def account_refresh(*, session: TraderSession, account_id: str) -> Mapping[str, dict[str, Any]]:
    """Fetch the account once, transform, publish both snapshots; return them by kind.

    On an outage the last good snapshots stay in Redis, marked stale with the reason. Authorization and
    the call use one read of the connection, so the tokens are those of the login that was checked."""
    connection = session.connection
    services.ensure_usable(connection)
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


def _mark_stale(account_id: str, reason: str) -> None:
    try:
        publisher.mark_stale(account_id=account_id, reason=reason, at=clock.now())
    except redis.RedisError:
        logger.warning("could not mark live data stale: redis unavailable")
