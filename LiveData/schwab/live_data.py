"""Live account data, one way: fetch the account from Schwab, transform it, publish both snapshots; on an
outage, mark the stored ones stale instead.

One upstream call (`accounts/{hash}?fields=positions`) refreshes an account and publishes its positions
and balances snapshots in one atomic Redis round trip.
"""

from __future__ import annotations

import logging
from typing import Any

import redis

from LiveData.schwab import accounts, services, snapshots, transforms
from LiveData.schwab.conf import schwab_settings
from LiveData.schwab.exceptions import RedisUnavailable, SchwabApiError, SchwabMalformedResponse
from LiveData.schwab.session import TraderSession
from LiveData.shared import clock, publisher

logger = logging.getLogger(__name__)


def account_refresh(*, session: TraderSession, account_id: str) -> dict[str, dict[str, Any]]:
    """Fetch the account once, transform, publish both snapshots; return them by kind.

    On an outage the last good snapshots stay in Redis, marked stale with the reason. Authorization and
    the call use one read of the connection, so the tokens are those of the login that was checked."""
    connection = session.connection
    services.ensure_usable(connection)
    accounts.account_authorize(session=session, account_id=account_id, login=connection.login)
    try:
        raw = session.get(f"/accounts/{account_id}", path_name="accounts.get", params={"fields": "positions"})
        as_of = clock.now()
        try:
            account = transforms.parse_account(raw)
        except transforms.MalformedAccount:
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
    return {snapshot.kind: snapshot.envelope for snapshot in built}


def _mark_stale(account_id: str, reason: str) -> None:
    try:
        publisher.mark_stale(account_id=account_id, reason=reason, at=clock.now())
    except redis.RedisError:
        logger.warning("could not mark live data stale: redis unavailable")
