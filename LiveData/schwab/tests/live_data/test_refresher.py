"""Background refresh: every account of every active connection; failures isolated and backed off."""

from __future__ import annotations

import logging

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from devtools.testing import connect, fault
from LiveData.schwab.connection import accounts
from LiveData.schwab.live_data import refresher, snapshots
from LiveData.schwab.models import BrokerConnection
from LiveData.shared import reader

pytestmark = pytest.mark.django_db
# refresh_all runs a thread pool: each thread has its own database connection, so those tests need
# committed data (transaction=True) and a database that takes concurrent writers (PostgreSQL).
threaded = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("postgres")]


@pytest.fixture
def two_traders(schwab, real_redis, client):
    """alice on trader1 and bob on trader2, both connected through the real flow."""
    users = []
    for name, login in (("ann", "trader1"), ("ben", "trader2")):
        user = User.objects.create_user(name, password="x")
        client.force_login(user)
        assert connect(client, schwab, username=login).status_code == 302
        users.append(user)
    return users


@threaded[0]
@threaded[1]
def test_refreshes_every_account_and_logs_structured_fields(two_traders, schwab, caplog):
    caplog.set_level(logging.INFO, logger="livedata.refresh")
    outcomes = refresher.refresh_all(concurrency=4)
    assert [o.outcome for o in outcomes] == ["ok"] * 4
    for user in two_traders:
        for account in schwab.state.users["trader1" if user.username == "ann" else "trader2"].accounts:
            assert reader.latest_positions(account.hash_value) is not None
    record = next(r for r in caplog.records if getattr(r, "event", "") == "livedata.refresh")
    assert record.outcome == "ok" and record.account.startswith("…") and float(record.duration_ms) >= 0
    numbers = [a.account_number for u in schwab.state.users.values() for a in u.accounts]
    for record in caplog.records:
        text = record.getMessage() + str(record.__dict__)
        assert not any(number in text for number in numbers)
        assert not any(token in text for token in schwab.state.tokens)


@threaded[0]
@threaded[1]
def test_one_traders_failure_never_stops_the_others_and_backs_off(two_traders, schwab, real_redis):
    alice, _ = two_traders
    alice_hash = schwab.state.users["trader1"].accounts[0].hash_value
    fault(schwab, kind="500", count=3, path_prefix=f"/trader/v1/accounts/{alice_hash}")
    outcomes = refresher.refresh_all(concurrency=2)
    by_code = sorted(o.outcome for o in outcomes)
    assert by_code == ["ok", "ok", "ok", "schwab_unavailable"]
    alice_connection = BrokerConnection.objects.get(user=alice).pk
    assert real_redis.exists(f"schwab:refresh:backoff:{alice_connection}")
    assert 0 < real_redis.ttl(f"schwab:refresh:backoff:{alice_connection}") <= 30

    again = refresher.refresh_all(concurrency=2)  # alice waits out her backoff; bob goes on
    assert sorted(o.outcome for o in again) == ["ok", "ok", "skipped:backing_off"]


@threaded[0]
@threaded[1]
def test_a_bug_met_by_one_account_is_logged_and_the_round_goes_on(
    two_traders, schwab, real_redis, caplog, monkeypatch
):
    alice, bob = two_traders
    alice_account = schwab.state.users["trader1"].accounts[0]
    build = snapshots.build

    def build_failing_for_alice(**kwargs):
        if kwargs["account_id"] == alice_account.hash_value:
            raise ZeroDivisionError(f"a bug quoting account {alice_account.account_number}")
        return build(**kwargs)

    monkeypatch.setattr(snapshots, "build", build_failing_for_alice)
    outcomes = refresher.refresh_all(concurrency=2)
    assert sorted(o.outcome for o in outcomes) == ["internal_error", "ok", "ok", "ok"]
    assert real_redis.exists(f"schwab:refresh:backoff:{BrokerConnection.objects.get(user=alice).pk}")
    assert not real_redis.exists(f"schwab:refresh:backoff:{BrokerConnection.objects.get(user=bob).pk}")
    # Where it failed is logged; not the message, which may quote the data it failed on.
    assert "ZeroDivisionError" in caplog.text and "build_failing_for_alice" in caplog.text
    assert alice_account.account_number not in caplog.text


@threaded[0]
@threaded[1]
def test_a_bug_in_one_connections_listing_leaves_the_others_refreshed(two_traders, schwab, monkeypatch):
    alice, _ = two_traders
    alice_connection = BrokerConnection.objects.get(user=alice).pk
    account_ids = accounts.account_ids

    def listing_failing_for_alice(*, session, login=None):
        if session.connection.pk == alice_connection:
            raise ZeroDivisionError("a bug")
        return account_ids(session=session, login=login)

    monkeypatch.setattr(accounts, "account_ids", listing_failing_for_alice)
    outcomes = refresher.refresh_all(concurrency=2)
    assert sorted((o.account == "-", o.outcome) for o in outcomes) == [
        (False, "ok"),
        (False, "ok"),
        (True, "internal_error"),
    ]


@threaded[0]
@threaded[1]
def test_reauth_required_connection_is_skipped(two_traders, schwab, thor_clock):
    alice, _ = two_traders
    BrokerConnection.objects.filter(user=alice).update(status="reauth_required")
    outcomes = refresher.refresh_all(concurrency=2)
    assert sorted(o.outcome for o in outcomes) == ["ok", "ok"]


@threaded[0]
@threaded[1]
def test_command_runs_once_and_reports(two_traders, capsys):
    call_command("livedata_refresh", "--concurrency", "2")
    assert "refreshed 4 account(s)" in capsys.readouterr().out


def test_shared_rate_limit_throttles_a_page_request(two_traders, settings, schwab, real_redis):
    settings.SCHWAB_RATE_LIMIT_PER_CONNECTION_PER_MINUTE = 2  # the account list and one refresh
    settings.SCHWAB_RATE_LIMIT_MAX_WAIT_SECONDS = 0
    alice, _ = two_traders
    from django.test import Client

    page = Client()
    page.force_login(alice)
    account = schwab.state.users["trader1"].accounts[0].hash_value
    first = page.get(f"/schwab/accounts/{account}/positions/")
    second = page.get(f"/schwab/accounts/{account}/positions/")
    assert first.status_code == 200
    assert (second.status_code, second.json()["error"]) == (503, "rate_limited")
    assert second.json()["retry_after"] > 0


def test_refresh_connection_is_the_celery_unit_of_work(two_traders, schwab):
    ann, _ = two_traders
    outcomes = refresher.refresh_connection(BrokerConnection.objects.get(user=ann).pk)
    assert [o.outcome for o in outcomes] == ["ok", "ok"]
    assert schwab.state.calls["accounts.get"] == 2


def test_health_reports_services_and_oldest_snapshot(two_traders, client, thor_clock, settings):
    for connection in BrokerConnection.objects.all():
        refresher.refresh_connection(connection.pk)
    thor_clock.advance(seconds=42)
    body = client.get("/schwab/health/").json()
    idle = {
        "workers": 0,
        "connections": 0,
        "streaming": 0,
        "last_heartbeat_age_seconds": None,
        "lag_ms": None,
    }
    assert body == {
        "success": True,
        "redis": "ok",
        "database": "ok",
        "oldest_snapshot_age_seconds": 42,
        "streaming": idle,
    }
    from LiveData.shared import redis_client

    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    redis_client.reset_client()
    down = client.get("/schwab/health/")
    assert (down.status_code, down.json()["redis"]) == (503, "unavailable")


def test_the_refresher_follows_open_orders_until_they_close(connected, schwab, settings, browser):
    from django.contrib.auth.models import Permission

    settings.SCHWAB_TRADING_ENABLED = True
    connected.user_permissions.add(Permission.objects.get(codename="trade", content_type__app_label="schwab"))
    account_id = browser.get("/schwab/accounts/").json()["accounts"][0]["account_id"]
    ticket = {
        "symbol": "AAPL",
        "instruction": "buy",
        "quantity": 1,
        "order_type": "limit",
        "limit_price": "1.00",
    }
    placed = browser.post(
        f"/schwab/accounts/{account_id}/orders/",
        ticket,
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="r1",
    )
    order_id = placed.json()["order_id"]
    assert reader.latest_orders(account_id)["orders"][0]["status"] == "WORKING"
    schwab.state.orders[int(order_id)]["status"] = "CANCELED"  # canceled at Schwab, outside Thor

    refresher.refresh_connection(BrokerConnection.objects.get(user=connected).pk)

    assert reader.latest_orders(account_id)["orders"][0]["status"] == "CANCELED"
