"""A pre-trade buying-power check that reads live data through LiveData.shared only.

It answers for one user: it refuses, with a reason a trader can act on, when the user's current broker login
does not list the account (or needs renewing), or the balances are missing, stale, too old, or short.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings

from LiveData.shared import clock, contract, reader


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    buying_power: Decimal | None = None
    as_of: str | None = None


def check_buying_power(
    *,
    user_id: int | str,
    account_id: str,
    required: Decimal,
    max_age: timedelta | None = None,
    now: datetime | None = None,
) -> Decision:
    """May this user's trade needing `required` of buying power go ahead on this account, by the live data?"""
    limit = max_age or timedelta(seconds=settings.FUTURETRADING_MAX_DATA_AGE_SECONDS)
    if not reader.is_owner(user_id, account_id):
        return Decision(False, "This account is not one of yours (your broker login does not list it).")
    if reader.user_accounts_status(user_id) == contract.REAUTH_REQUIRED:
        return Decision(False, "Your broker login has expired; reconnect it before trading.")
    balances = reader.latest_balances(account_id)
    if balances is None:
        return Decision(False, "No live balances for this account yet.")
    as_of = balances["as_of"]
    if balances["stale"]:
        return Decision(False, f"Balances are stale ({balances['stale_reason']}); refusing to trade on them.")
    age = (now or clock.now()) - contract.parse_timestamp(as_of)
    if age > limit:
        seconds = int(age.total_seconds())
        return Decision(False, f"Balances are {seconds}s old; at most {int(limit.total_seconds())}s allowed.")
    text = balances["balances"]["buying_power"]
    if text is None:
        return Decision(False, "The broker does not report buying power for this account.", as_of=as_of)
    buying_power = Decimal(text)
    if buying_power < required:
        return Decision(
            False,
            f"Insufficient buying power: {required} needed, {buying_power} available.",
            buying_power,
            as_of,
        )
    return Decision(True, "OK", buying_power, as_of)
