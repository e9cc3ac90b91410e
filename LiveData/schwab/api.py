"""SchwabTraderAPI(user): the public face of the Schwab Trader API for one Thor user.

A thin facade with the design notes' methods; the work is done by job, data flowing one way:
`services` (tokens), `session` (authorized calls within the shared limits), `accounts` (listing,
authorization, ownership), `live_data` (fetch, transform, publish, mark stale) and `selectors` (reads).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from django.contrib.auth.models import User
from django.views.decorators.debug import sensitive_variables

from LiveData.schwab.conf import schwab_settings
from LiveData.schwab.connection import accounts, oauth, services
from LiveData.schwab.connection.session import TraderSession
from LiveData.schwab.exceptions import SchwabError
from LiveData.schwab.live_data import refresh, selectors
from LiveData.schwab.models import BrokerConnection
from LiveData.schwab.orders import order_reads, order_service, quotes
from LiveData.shared import contract

logger = logging.getLogger(__name__)


class SchwabTraderAPI:
    """Calls Schwab on behalf of `user`: refreshes the access token when it is about to expire and once
    more on a 401, and raises SchwabReauthRequired when only a new browser login can help."""

    def __init__(self, user: User, *, rate_limit_wait: float | None = None, background: bool = False) -> None:
        self.user = user
        self.session = TraderSession(user, rate_limit_wait=rate_limit_wait, background=background)

    @property
    def connection(self) -> BrokerConnection:
        return self.session.connection

    # --- OAuth -------------------------------------------------------------------------------------------
    @sensitive_variables("code", "tokens")
    def exchange_code_for_tokens(self, code: str, redirect_uri: str | None = None) -> BrokerConnection:
        """Trade an authorization code for tokens and store them on the user's connection. A new login: its
        accounts replace the previous login's, for authorization and in the ownership index, at once."""
        tokens = oauth.exchange_code(code=code, redirect_uri=redirect_uri or schwab_settings().callback_url)
        self.session.use(services.connection_connect(user=self.user, tokens=tokens))
        try:
            accounts.account_ids(session=self.session)
        except SchwabError as failure:  # connected all the same; the next listing fills the index
            logger.warning("accounts of a new login could not be listed: %s", failure.code)
            accounts.ownership_record(user_id=self.user.pk, account_ids=[])
        return self.session.connection

    def refresh_tokens(self) -> None:
        """Refresh the access token now, whatever its age."""
        services.connection_refresh(connection=self.connection, force=True)

    # --- Accounts ----------------------------------------------------------------------------------------
    def fetch_accounts(self) -> list[dict[str, str]]:
        """The user's accounts: hashValue (= account_id), type and a masked number; never the full one."""
        return accounts.accounts_list(session=self.session)

    def fetch_account_numbers(self) -> list[dict[str, Any]]:
        """Schwab's accountNumbers map (internal: it holds full account numbers)."""
        return accounts.account_numbers_fetch(session=self.session)

    def account_ids(self) -> list[str]:
        """The ids of the accounts the user's current login shares."""
        return list(accounts.account_ids(session=self.session))

    def default_account_id(self) -> str:
        return accounts.account_default(session=self.session)

    # --- Live data ---------------------------------------------------------------------------------------
    def refresh_account(self, account_id: str) -> Mapping[str, dict[str, Any]]:
        """Fetch the account once and publish both snapshots; return them by kind."""
        return refresh.account_refresh(session=self.session, account_id=account_id)

    def fetch_positions(self, account_id: str) -> dict[str, Any]:
        """Refresh the account and return the published positions snapshot."""
        return self.refresh_account(account_id)[contract.POSITIONS]

    def fetch_balances(self, account_id: str) -> dict[str, Any]:
        """Refresh the account and return the published balances snapshot."""
        return self.refresh_account(account_id)[contract.BALANCES]

    def latest_positions(self, account_id: str) -> dict[str, Any] | None:
        """The positions snapshot last published for the account, read from Redis only."""
        return selectors.latest_positions(session=self.session, account_id=account_id)

    def get_account_summary(self, account_hash: str) -> dict[str, Any]:
        """The summary card, from a fresh enough snapshot in Redis; otherwise one shared refresh."""
        return self.account_summary(account_hash)[1]

    def account_summary(self, account_hash: str | None) -> tuple[str, dict[str, Any]]:
        """The account (the first of the user's when no hash) and its summary card, in one pass: the
        login read and the account authorized once."""
        return refresh.account_summary(session=self.session, account_id=account_hash)

    # --- Orders (see `order_service` for the safety rules) ----------------------------------------------
    def preview_order(self, account_id: str, ticket: Any) -> dict[str, Any]:
        """What Schwab says of the ticket before placing it: value, fees, projected funds, rejects."""
        return order_service.order_preview(session=self.session, account_id=account_id, data=ticket)

    def place_order(
        self, account_id: str, ticket: Any, *, idempotency_key: str | None
    ) -> order_service.Outcome:
        """Place the ticket's order, once per Idempotency-Key."""
        return order_service.order_place(
            session=self.session, account_id=account_id, data=ticket, idempotency_key=idempotency_key
        )

    def replace_order(
        self, account_id: str, order_id: str, ticket: Any, *, idempotency_key: str | None
    ) -> order_service.Outcome:
        """Replace a working order, once per Idempotency-Key."""
        return order_service.order_replace(
            session=self.session,
            account_id=account_id,
            order_id=order_id,
            data=ticket,
            idempotency_key=idempotency_key,
        )

    def cancel_order(self, account_id: str, order_id: str) -> order_service.Outcome:
        return order_service.order_cancel(session=self.session, account_id=account_id, order_id=order_id)

    def get_quotes(self, symbols: list[str]) -> tuple[list[dict[str, Any]], list[str]]:
        """The symbols' quotes for the order ticket (bid, ask, last, mark, close, net change as exact
        decimal text), and the symbols Schwab does not know."""
        return quotes.quotes_get(session=self.session, symbols=symbols)

    def get_orders(self, account_id: str, **filters: Any) -> list[dict[str, Any]]:
        """The account's orders, newest first (filters: status, since, until)."""
        return order_reads.orders_list(session=self.session, account_id=account_id, **filters)

    def get_order(self, account_id: str, order_id: str) -> dict[str, Any]:
        return order_reads.order_get(session=self.session, account_id=account_id, order_id=order_id)
