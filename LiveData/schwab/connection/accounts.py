"""The user's Schwab accounts: listing them, deciding which ones a request may address, and recording
who owns what (the contract's OWNERSHIP rule: exactly what the current login lists).

Authorization is per login (see `authorization`): a request may address an account only when the list of
the user's current login names it, in every process, from the moment a new login or a disconnect commits.
"""

from __future__ import annotations

import logging
from typing import Any

import redis

from LiveData.schwab.conf import schwab_settings
from LiveData.schwab.connection import authorization
from LiveData.schwab.connection.session import TraderSession
from LiveData.schwab.connection.singleflight import SingleFlight
from LiveData.schwab.exceptions import (
    AccountNotFound,
    NoAccounts,
    SchwabApiError,
    SchwabConnectionChanged,
    SchwabMalformedResponse,
)
from LiveData.schwab.models import Login
from LiveData.shared import clock, ownership

logger = logging.getLogger(__name__)
_listings: SingleFlight[tuple[str, ...]] = SingleFlight()


def account_numbers_fetch(*, session: TraderSession) -> list[dict[str, Any]]:
    """Schwab's accountNumbers map: [{"accountNumber", "hashValue"}] (internal: full numbers)."""
    data = session.get("/accounts/accountNumbers", path_name="accounts.numbers")
    if not isinstance(data, list):
        raise SchwabMalformedResponse
    return [item for item in data if isinstance(item, dict) and isinstance(item.get("hashValue"), str)]


def accounts_list(*, session: TraderSession) -> list[dict[str, str]]:
    """The user's accounts, listed at Schwab now (two calls: the hashes, then types and numbers)."""
    numbers = account_numbers_fetch(session=session)
    details = session.get("/accounts", path_name="accounts.list")
    accounts = _listed(numbers, details)
    _record(session, session.connection.login, [account["account_id"] for account in accounts])
    return accounts


def account_ids(*, session: TraderSession, login: Login | None = None) -> tuple[str, ...]:
    """The ids of the accounts the user's current login shares: the remembered list while it is fresh,
    else one listing (and, while Schwab is down, the login's last list)."""
    login = login or session.current_login()
    now = clock.now()
    known = authorization.known_accounts(login)
    if known is not None and known.is_fresh(now=now, max_age=schwab_settings().accounts_cache):
        return known.account_ids
    if session.connection.login != login:
        raise SchwabConnectionChanged  # these tokens belong to another login than the one checked
    try:
        # Requests of one login that find the list due at once share one listing (in this process).
        return _listings.do(f"{login.connection_id}:{login.generation}", lambda: _list(session, login))
    except SchwabApiError as failure:
        if known is not None and failure.outage:
            return known.account_ids  # Schwab is down; the login, and so its accounts, are the same
        raise


def _list(session: TraderSession, login: Login) -> tuple[str, ...]:
    known = authorization.known_accounts(login)  # listed meanwhile by a flight that just ended?
    if known is not None and known.is_fresh(now=clock.now(), max_age=schwab_settings().accounts_cache):
        return known.account_ids
    ids = [item["hashValue"] for item in account_numbers_fetch(session=session)]
    _record(session, login, ids)
    return tuple(ids)


def account_authorize(*, session: TraderSession, account_id: str, login: Login | None = None) -> None:
    """404 unless `account_id` is one of the accounts the user's current login shares.

    Not connected and reauth come before "no such account"."""
    if account_id not in account_ids(session=session, login=login):
        raise AccountNotFound


def account_default(*, session: TraderSession) -> str:
    """The first of the user's accounts, as Schwab lists them (for the summary without a hash)."""
    ids = account_ids(session=session)
    if not ids:
        raise NoAccounts
    return ids[0]


def ownership_record(*, user_id: int, account_ids: list[str]) -> None:
    """What the login lists is what the user owns; quiet when nothing changed, best effort."""
    try:
        ownership.replace_user_accounts(user_id=user_id, account_ids=account_ids, at=clock.now())
    except redis.RedisError:
        logger.warning("ownership index not updated: redis unavailable")


def _record(session: TraderSession, login: Login, ids: list[str]) -> None:
    authorization.remember_accounts(login, ids, listed_at=clock.now())
    ownership_record(user_id=session.user.pk, account_ids=ids)


def display_number(account_number: Any) -> str:
    """An account number as Thor shows it: its last four digits only."""
    text = str(account_number or "")
    return f"…{text[-4:]}" if len(text) >= 4 else "…"


def _listed(numbers: list[dict[str, Any]], details: Any) -> list[dict[str, str]]:
    """The user's accounts from Schwab's accountNumbers map and account list: the hash (= account_id),
    the type and a masked number, never the full one. An account missing from the details is UNKNOWN."""
    types: dict[str, str] = {}
    for item in details if isinstance(details, list) else []:
        securities = item.get("securitiesAccount") if isinstance(item, dict) else None
        if isinstance(securities, dict):
            types[str(securities.get("accountNumber"))] = str(securities.get("type") or "UNKNOWN")
    return [
        {
            "hashValue": item["hashValue"],
            "account_id": item["hashValue"],
            "type": types.get(str(item.get("accountNumber")), "UNKNOWN"),
            "display_number": display_number(item.get("accountNumber")),
        }
        for item in numbers
    ]
