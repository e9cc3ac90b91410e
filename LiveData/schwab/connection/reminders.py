"""Reminders before a Schwab login lapses. Schwab's refresh token dies 7 days after the login and
refreshing does not extend it, so a trader who is not told loses the connection mid-week. An email goes
out about 24 hours and about 2 hours before, once each per login (`LoginReminder`), from the beat schedule;
a reconnect is a new login, which starts them over. At the 2-hour mark a missed 24-hour one is not sent too.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.core.mail import send_mail
from django.db import IntegrityError, transaction

from LiveData.schwab.conf import schwab_settings
from LiveData.schwab.models import REFRESH_TOKEN_LIFETIME, BrokerConnection, LoginReminder
from LiveData.shared import clock

logger = logging.getLogger(__name__)
Kind = LoginReminder.Kind
WINDOWS = ((Kind.HOURS, timedelta(hours=2)), (Kind.DAY, timedelta(hours=24)))  # the tightest first


def send_login_reminders() -> int:
    """Send the reminders now due; return how many went out."""
    now = clock.now()
    soon = BrokerConnection.objects.filter(
        status=BrokerConnection.Status.ACTIVE,
        logged_in_at__isnull=False,
        logged_in_at__lte=now - (REFRESH_TOKEN_LIFETIME - WINDOWS[-1][1]),
    ).select_related("user")
    return sum(_remind(connection, now) for connection in soon)


def _remind(connection: BrokerConnection, now: datetime) -> bool:
    expires_at = connection.refresh_token_expires_at
    if expires_at is None or expires_at <= now or not connection.user.email:
        return False
    left = expires_at - now
    kind = next((kind for kind, window in WINDOWS if left <= window), None)
    if kind is None:
        return False
    try:
        with transaction.atomic():  # the row and the mail together: a failed send is tried again next time
            LoginReminder.objects.create(
                connection=connection, generation=connection.generation, kind=kind, sent_at=now
            )
            if kind == Kind.HOURS:  # the day's reminder is past: never send it after this one
                LoginReminder.objects.get_or_create(
                    connection=connection, generation=connection.generation, kind=Kind.DAY,
                    defaults={"sent_at": now},
                )  # fmt: skip
            send_mail(_subject(kind), _message(expires_at), None, [connection.user.email])
    except IntegrityError:
        return False  # sent already (by this run's predecessor, or another process)
    except OSError as failure:  # the mail server (smtplib's errors are OSErrors): tried again next run
        logger.warning("login reminder for connection %s not sent: %s", connection.pk, type(failure).__name__)
        return False
    logger.info("login reminder %s sent for connection %s", kind, connection.pk)
    return True


def _subject(kind: str) -> str:
    return f"Your Schwab connection in Thor ends in about {'2 hours' if kind == Kind.HOURS else '24 hours'}"


def _message(expires_at: datetime) -> str:
    callback = urlsplit(schwab_settings().callback_url)
    reconnect = f"{callback.scheme}://{callback.netloc}/schwab/oauth/start/?next=/dashboard/"
    return (
        f"Schwab ends every login 7 days after it begins. Yours ends at {expires_at:%b %d, %Y, %H:%M} UTC;\n"
        "after that Thor cannot show your accounts or place orders until you reconnect.\n\n"
        f"Reconnect now (you will sign in at Schwab): {reconnect}\n"
    )
