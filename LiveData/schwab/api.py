"""SchwabTraderAPI(user): the Trader API for one Thor user.

It orchestrates; it does not do the work itself: `client` speaks HTTP, `transforms` turn Schwab JSON into
records, `snapshots` + `LiveData.shared.publisher` publish them, `services` keep the tokens fresh.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import timedelta
from typing import Any

import redis
from django.conf import settings
from django.contrib.auth.models import User
from django.views.decorators.debug import sensitive_variables

from LiveData.schwab import authorization, client, oauth, services, snapshots, summary, transforms
from LiveData.schwab.conf import schwab_settings
from LiveData.schwab.exceptions import (
    AccountNotFound,
    NoAccounts,
    RedisUnavailable,
    SchwabApiError,
    SchwabConnectionChanged,
    SchwabError,
    SchwabMalformedResponse,
    SchwabUnauthorized,
    ThrottledLocally,
)
from LiveData.schwab.models import BrokerConnection, Login
from LiveData.schwab.singleflight import SingleFlight
from LiveData.shared import clock, contract, ownership, publisher, ratelimit, reader

logger = logging.getLogger(__name__)

_refreshes: SingleFlight[dict[str, dict[str, Any]]] = SingleFlight()


class SchwabTraderAPI:
    """Calls Schwab on behalf of `user`: refreshes the access token when it is about to expire and once
    more on a 401, and raises SchwabReauthRequired when only a new browser login can help."""

    def __init__(self, user: User, *, rate_limit_wait: float | None = None) -> None:
        self.user = user
        self._connection: BrokerConnection | None = None
        self._login: Login | None = None
        # How long a call may wait for room under the shared rate limits (short for page requests).
        self.rate_limit_wait = (
            settings.SCHWAB_RATE_LIMIT_MAX_WAIT_SECONDS if rate_limit_wait is None else rate_limit_wait
        )

    @property
    def connection(self) -> BrokerConnection:
        if self._connection is None:
            self._connection = services.connection_get(user=self.user)
        return self._connection

    def current_login(self) -> Login:
        """The user's current Schwab login (one cheap query, once per instance); raise unless usable."""
        if self._login is None:
            self._login = services.connection_check(user=self.user)
        return self._login

    # --- OAuth -------------------------------------------------------------------------------------------
    @sensitive_variables("code", "tokens")
    def exchange_code_for_tokens(self, code: str, redirect_uri: str | None = None) -> BrokerConnection:
        """Trade an authorization code for tokens and store them on the user's connection (a new login,
        so what was cached about the previous one is out of reach from now on)."""
        tokens = oauth.exchange_code(code=code, redirect_uri=redirect_uri or schwab_settings().callback_url)
        self._connection = services.connection_connect(user=self.user, tokens=tokens)
        self._login = self._connection.login
        try:  # the new login's accounts replace the old login's in the ownership index right away
            self.account_ids()
        except SchwabError as failure:  # connected all the same; the next listing fills the index
            logger.warning("accounts of a new login could not be listed: %s", failure.code)
            self._record_ownership([])
        return self._connection

    def refresh_tokens(self) -> None:
        """Refresh the access token now, whatever its age."""
        services.connection_refresh(connection=self.connection, force=True)

    # --- HTTP with tokens --------------------------------------------------------------------------------
    def _throttle(self) -> None:
        """Take a slot under Schwab's limits, shared by every worker: per connection, and fleet-wide.

        A request reaches Schwab a little after it is admitted here, and not always equally late. Counting
        admissions over a window lengthened by that allowance keeps Schwab's own count of arrivals, over
        its window, within the limit as long as the delay stays under the allowance."""
        allowance = settings.SCHWAB_RATE_LIMIT_ARRIVAL_ALLOWANCE_SECONDS
        per_connection = settings.SCHWAB_RATE_LIMIT_PER_CONNECTION_PER_MINUTE
        limits = [
            ratelimit.Limit(f"schwab:rate:connection:{self.connection.pk}", per_connection, 60 + allowance),
            ratelimit.Limit(
                "schwab:rate:global", settings.SCHWAB_RATE_LIMIT_GLOBAL_PER_SECOND, 1 + allowance
            ),
        ]
        try:
            ratelimit.acquire(limits, max_wait=self.rate_limit_wait)
        except ratelimit.RateLimitExceeded as full:
            raise ThrottledLocally(retry_after=full.retry_after) from None
        except redis.RedisError:
            raise RedisUnavailable from None

    @sensitive_variables("token")
    def _get(self, path: str, *, path_name: str, params: dict[str, str] | None = None) -> Any:
        token = services.connection_access_token(connection=self.connection)
        self._throttle()
        try:
            return client.get_json(path, access_token=token, path_name=path_name, params=params)
        except SchwabUnauthorized:
            # The token may have been revoked early (say, by a newer login): refresh once and retry once.
            token = services.connection_refresh(connection=self.connection, stale_access_token=token)
            self._throttle()
            return client.get_json(path, access_token=token, path_name=path_name, params=params)

    def fetch_account_numbers(self) -> list[dict[str, Any]]:
        """Schwab's accountNumbers map: [{"accountNumber", "hashValue"}] (internal: full numbers)."""
        data = self._get("/accounts/accountNumbers", path_name="accounts.numbers")
        if not isinstance(data, list):
            raise SchwabMalformedResponse
        return [item for item in data if isinstance(item, dict) and isinstance(item.get("hashValue"), str)]

    # --- Accounts ----------------------------------------------------------------------------------------
    def fetch_accounts(self) -> list[dict[str, Any]]:
        """The user's accounts: hashValue (= account_id), type and a masked number; never the full one."""
        numbers = self.fetch_account_numbers()
        details = self._get("/accounts", path_name="accounts.list")
        types: dict[str, str] = {}
        for item in details if isinstance(details, list) else []:
            securities = item.get("securitiesAccount") if isinstance(item, dict) else None
            if isinstance(securities, dict):
                types[str(securities.get("accountNumber"))] = str(securities.get("type") or "UNKNOWN")
        accounts = [
            {
                "hashValue": item["hashValue"],
                "account_id": item["hashValue"],
                "type": types.get(str(item.get("accountNumber")), "UNKNOWN"),
                "display_number": transforms.display_number(item.get("accountNumber")),
            }
            for item in numbers
        ]
        ids = [account["account_id"] for account in accounts]
        authorization.remember_accounts(self.connection.login, ids, listed_at=clock.now())
        self._record_ownership(ids)
        return accounts

    def account_ids(self) -> list[str]:
        """The ids of the accounts the current login shares (see `authorization`)."""
        return list(self._authorized_ids(self.current_login()))

    def default_account_id(self) -> str:
        """The first of the user's accounts, as Schwab lists them (for the summary without a hash)."""
        ids = self.account_ids()
        if not ids:
            raise NoAccounts
        return ids[0]

    def _authorized_ids(self, login: Login) -> tuple[str, ...]:
        now = clock.now()
        known = authorization.known_accounts(login)
        max_age = timedelta(seconds=settings.SCHWAB_ACCOUNTS_CACHE_SECONDS)
        if known is not None and known.is_fresh(now=now, max_age=max_age):
            return known.account_ids
        if self.connection.login != login:
            raise SchwabConnectionChanged  # these tokens belong to another login than the one checked
        try:
            numbers = self.fetch_account_numbers()
        except SchwabApiError as failure:
            if known is not None and failure.outage:
                return known.account_ids  # Schwab is down; the login, and so its accounts, are the same
            raise
        ids = [item["hashValue"] for item in numbers]
        authorization.remember_accounts(login, ids, listed_at=now)
        self._record_ownership(ids)
        return tuple(ids)

    def _record_ownership(self, account_ids: list[str]) -> None:
        """What the login lists is what the user owns (contract: OWNERSHIP); quiet when nothing changed."""
        try:
            ownership.replace_user_accounts(user_id=self.user.pk, account_ids=account_ids, at=clock.now())
        except redis.RedisError:
            logger.warning("ownership index not updated: redis unavailable")

    def authorize_account(self, account_id: str, *, login: Login | None = None) -> None:
        """404 unless `account_id` is one of the accounts the user's current login shares.

        Not connected and reauth come before "no such account"."""
        if account_id not in self._authorized_ids(login or self.current_login()):
            raise AccountNotFound

    def refresh_account(self, account_id: str) -> dict[str, dict[str, Any]]:
        """Fetch the account once (positions and balances together), transform, publish both.

        On an outage the last good snapshots stay in Redis, marked stale with the reason. Authorization and
        the call use one read of the connection, so the tokens are those of the login that was checked."""
        connection = self.connection
        services.ensure_usable(connection)
        self.authorize_account(account_id, login=connection.login)
        try:
            raw = self._get(
                f"/accounts/{account_id}", path_name="accounts.get", params={"fields": "positions"}
            )
            as_of = clock.now()
            try:
                account = transforms.parse_account(raw)
            except transforms.MalformedAccount:
                logger.warning("schwab account document malformed; nothing published")
                raise SchwabMalformedResponse from None
        except SchwabApiError as failure:
            if failure.outage:  # a refusal says nothing about the account's data: leave it alone
                self._mark_stale(account_id, failure.code)
            raise
        built = snapshots.build(
            account_id=account_id,
            account=account,
            as_of=as_of,
            published_at=clock.now(),
        )
        try:
            publisher.publish(snapshots=built, ttl_seconds=settings.LIVE_DATA_SNAPSHOT_TTL_SECONDS)
        except redis.RedisError:
            logger.warning("live-data publish failed: redis unavailable")
            raise RedisUnavailable from None
        return {snapshot.kind: snapshot.envelope for snapshot in built}

    def _mark_stale(self, account_id: str, reason: str) -> None:
        try:
            publisher.mark_stale(account_id=account_id, reason=reason, at=clock.now())
        except redis.RedisError:
            logger.warning("could not mark live data stale: redis unavailable")

    def fetch_positions(self, account_id: str) -> dict[str, Any]:
        """Refresh the account and return the published positions snapshot."""
        return self.refresh_account(account_id)[contract.POSITIONS]

    def fetch_balances(self, account_id: str) -> dict[str, Any]:
        """Refresh the account and return the published balances snapshot."""
        return self.refresh_account(account_id)[contract.BALANCES]

    def latest_positions(self, account_id: str) -> dict[str, Any] | None:
        """The positions snapshot last published for the account, read from Redis only."""
        self.authorize_account(account_id)
        try:
            return reader.latest_positions(account_id)
        except redis.RedisError:
            raise RedisUnavailable from None

    def get_account_summary(self, account_hash: str) -> dict[str, Any]:
        """The summary card, from a fresh enough snapshot in Redis; otherwise one shared refresh."""
        self.authorize_account(account_hash)
        now = clock.now()
        try:
            balances = reader.latest_balances(account_hash)
        except redis.RedisError:
            raise RedisUnavailable from None
        max_age = timedelta(seconds=settings.SCHWAB_SUMMARY_MAX_AGE_SECONDS)
        if balances is not None and not _older_than(balances, max_age, now):
            return summary.build(balances=balances, now=now)
        try:
            fresh = _refreshes.do(account_hash, lambda: self.refresh_account(account_hash))
        except SchwabApiError:
            if balances is None:
                raise
            with contextlib.suppress(redis.RedisError):  # serve the last good numbers, marked stale
                balances = reader.latest_balances(account_hash) or balances
            return summary.build(balances=balances, now=now)
        return summary.build(balances=fresh[contract.BALANCES], now=now)


def _older_than(envelope: dict[str, Any], max_age: timedelta, now: Any) -> bool:
    published = envelope.get("published_at", "")
    try:
        moment = contract.parse_timestamp(published)
    except ValueError:
        return True
    return bool(envelope.get("stale")) or now - moment > max_age
