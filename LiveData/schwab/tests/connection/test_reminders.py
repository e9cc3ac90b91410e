"""Reminders before a Schwab login lapses: about 24 h and about 2 h before, once each, none after a
reconnect (time injected: the sandbox's and Thor's clock move together)."""

from __future__ import annotations

import pytest

from devtools.testing import connect
from LiveData.schwab.connection import reminders
from LiveData.schwab.models import LoginReminder

pytestmark = pytest.mark.django_db


@pytest.fixture
def with_email(connected):
    connected.email = "alice@example.com"
    connected.save(update_fields=["email"])
    return connected


def test_reminders_come_once_each_and_start_over_after_a_reconnect(
    with_email, browser, schwab, thor_clock, mailoutbox
):
    thor_clock.advance(days=5)  # two days left: nothing yet
    assert reminders.send_login_reminders() == 0
    thor_clock.advance(hours=25)  # 23 hours left
    assert reminders.send_login_reminders() == 1
    assert reminders.send_login_reminders() == 0  # once
    thor_clock.advance(hours=21, minutes=30)  # 1.5 hours left
    assert reminders.send_login_reminders() == 1
    assert reminders.send_login_reminders() == 0
    assert [message.subject.rsplit("about ", 1)[1] for message in mailoutbox] == ["24 hours", "2 hours"]
    assert mailoutbox[0].to == ["alice@example.com"]
    assert "/schwab/oauth/start/?next=/dashboard/" in mailoutbox[0].body
    assert "token" not in mailoutbox[0].body.lower()

    assert connect(browser, schwab).status_code == 302  # a new login: seven days again
    assert reminders.send_login_reminders() == 0
    thor_clock.advance(days=6, hours=1)  # 23 hours left of the new login
    assert reminders.send_login_reminders() == 1
    assert LoginReminder.objects.count() == 3


def test_a_login_found_late_gets_only_the_2_hour_reminder(with_email, thor_clock, mailoutbox):
    thor_clock.advance(days=6, hours=23)  # one hour left, and nothing sent yet (say, beat was down)
    assert reminders.send_login_reminders() == 1
    assert reminders.send_login_reminders() == 0
    assert [message.subject.rsplit("about ", 1)[1] for message in mailoutbox] == ["2 hours"]


def test_a_failed_send_is_tried_again(with_email, thor_clock, mailoutbox, monkeypatch):
    thor_clock.advance(days=6, hours=1)

    def down(*args, **kwargs):
        raise ConnectionRefusedError("the mail server is away")

    with monkeypatch.context() as outage:
        outage.setattr(reminders, "send_mail", down)
        assert reminders.send_login_reminders() == 0  # logged, and the run goes on
    assert LoginReminder.objects.count() == 0  # nothing recorded as sent
    assert reminders.send_login_reminders() == 1
    assert len(mailoutbox) == 1
