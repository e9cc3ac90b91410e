"""The live-data endpoints: shapes, authorization and every error path, with what Redis holds afterwards."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from devtools.testing import connect, fault
from LiveData.schwab.connection import authorization, services
from LiveData.schwab.models import BrokerConnection
from LiveData.shared import clock, contract, reader

pytestmark = pytest.mark.django_db


@pytest.fixture
def account_id(connected, browser, fake_redis):
    return browser.get("/schwab/accounts/").json()["accounts"][0]["hashValue"]


def test_list_accounts_masks_numbers(browser, connected, schwab, fake_redis):
    body = browser.get("/schwab/accounts/").json()
    assert body["success"] is True
    numbers = {a.account_number for a in schwab.state.users["trader1"].accounts}
    for account in body["accounts"]:
        assert set(account) == {"hashValue", "account_id", "type", "display_number"}
        assert account["display_number"].startswith("…")
    assert not any(number in browser.get("/schwab/accounts/").content.decode() for number in numbers)
    assert [a["type"] for a in body["accounts"]] == ["MARGIN", "CASH"]


def test_positions_and_balances_come_from_one_upstream_call_each(browser, schwab, account_id, fake_redis):
    before = schwab.state.calls["accounts.get"]
    positions = browser.get(f"/schwab/accounts/{account_id}/positions/").json()
    assert positions["success"] is True and positions["message"].startswith("Positions published to Redis")
    assert schwab.state.calls["accounts.get"] == before + 1
    payload = positions["payload"]
    assert payload == reader.latest_positions(account_id)
    assert reader.latest_balances(account_id) is not None  # the same call published balances too
    balances = browser.get(f"/schwab/accounts/{account_id}/balances/").json()
    assert balances["payload"]["balances"]["net_liquidation_value"]
    assert schwab.state.calls["accounts.get"] == before + 2


def test_summary_is_served_from_redis_while_fresh(browser, schwab, account_id, thor_clock, settings):
    settings.SCHWAB_SUMMARY_MAX_AGE_SECONDS = 15
    first = browser.get("/schwab/account/summary/").json()
    assert first["account_hash"] == account_id
    summary = first["summary"]
    assert summary["display"]["net_liquidation_value"].startswith("$")
    assert summary["stale"] is False and summary["as_of"]
    calls = schwab.state.calls["accounts.get"]
    thor_clock.advance(seconds=10)
    assert (
        browser.get(f"/schwab/account/summary/?account_hash={account_id}").json()["summary"]["age_seconds"]
        == 10
    )
    assert schwab.state.calls["accounts.get"] == calls  # no upstream call
    thor_clock.advance(seconds=10)
    browser.get(f"/schwab/account/summary/?account_hash={account_id}")
    assert schwab.state.calls["accounts.get"] == calls + 1


def test_another_users_account_is_404_and_publishes_nothing(browser, schwab, account_id, fake_redis):
    other = schwab.state.users["trader2"].accounts[0].hash_value
    for path in (f"/schwab/accounts/{other}/positions/", f"/schwab/accounts/{other}/balances/"):
        response = browser.get(path)
        assert (response.status_code, response.json()["error"]) == (404, "account_not_found")
    summary = browser.get(f"/schwab/account/summary/?account_hash={other}")
    assert summary.status_code == 404
    assert fake_redis.keys("live_data:positions:*") == fake_redis.keys("live_data:balances:*") == []
    assert reader.account_owners(other) == []
    assert schwab.state.calls["accounts.get"] == 0


def test_no_connection_is_404_connected_false(browser, fake_redis):
    for path in ("/schwab/accounts/", "/schwab/account/summary/", "/schwab/accounts/X/positions/"):
        response = browser.get(path)
        assert response.status_code == 404
        assert response.json() == {
            "success": False,
            "error": "schwab_not_connected",
            "message": "No Schwab account connected",
            "connected": False,
        }


def test_reauth_required_is_401_and_keeps_snapshots(browser, schwab, account_id, thor_clock):
    browser.get(f"/schwab/accounts/{account_id}/positions/")
    thor_clock.advance(days=8)
    response = browser.get(f"/schwab/accounts/{account_id}/positions/")
    assert response.status_code == 401
    assert response.json()["error"] == "schwab_reauth_required" and response.json()["connected"] is False
    assert reader.latest_positions(account_id)["positions"]


def test_upstream_401_refreshes_and_retries(browser, schwab, account_id):
    fault(schwab, kind="401", path_prefix=f"/trader/v1/accounts/{account_id}")
    assert browser.get(f"/schwab/accounts/{account_id}/positions/").status_code == 200
    assert schwab.state.token_grants["refresh_token"] == 1


def _published(browser, account_id):
    assert browser.get(f"/schwab/accounts/{account_id}/positions/").status_code == 200
    return reader.latest_positions(account_id)


def test_rate_limited_after_bounded_retries_is_503_with_retry_after(browser, schwab, account_id):
    good = _published(browser, account_id)
    fault(schwab, kind="429", count=3, retry_after=0, path_prefix=f"/trader/v1/accounts/{account_id}")
    response = browser.get(f"/schwab/accounts/{account_id}/positions/")
    assert response.status_code == 503
    body = response.json()
    assert (body["error"], body["retry_after"]) == ("schwab_rate_limited", 0.0)
    assert response["Retry-After"] == "1"
    assert schwab.state.faults_injected["429"] == 3  # one try and two bounded retries
    kept = reader.latest_positions(account_id)
    assert kept["positions"] == good["positions"]
    assert (kept["stale"], kept["stale_reason"]) == (True, "schwab_rate_limited")


def test_a_429_that_clears_is_retried_transparently(browser, schwab, account_id):
    fault(schwab, kind="429", count=1, retry_after=0, path_prefix=f"/trader/v1/accounts/{account_id}")
    assert browser.get(f"/schwab/accounts/{account_id}/positions/").status_code == 200


@pytest.mark.parametrize("kind", ["500", "502", "503"])
def test_upstream_5xx_is_502_and_marks_the_snapshot_stale(browser, schwab, account_id, kind):
    good = _published(browser, account_id)
    fault(schwab, kind=kind, count=3, path_prefix=f"/trader/v1/accounts/{account_id}")
    response = browser.get(f"/schwab/accounts/{account_id}/balances/")
    assert (response.status_code, response.json()["error"]) == (502, "schwab_unavailable")
    assert "Traceback" not in response.content.decode()
    kept = reader.latest_positions(account_id)
    assert kept["positions"] == good["positions"] and kept["stale_reason"] == "schwab_unavailable"


def test_timeout_is_504(browser, schwab, account_id, settings):
    good = _published(browser, account_id)
    settings.SCHWAB_HTTP_TIMEOUT = 0.2
    fault(schwab, kind="hang", count=2, path_prefix=f"/trader/v1/accounts/{account_id}")
    response = browser.get(f"/schwab/accounts/{account_id}/positions/")
    assert (response.status_code, response.json()["error"]) == (504, "schwab_timeout")
    kept = reader.latest_positions(account_id)
    assert kept["positions"] == good["positions"] and kept["stale_reason"] == "schwab_timeout"


@pytest.mark.parametrize("kind", ["malformed", "truncated"])
def test_malformed_upstream_json_is_502_and_nothing_is_overwritten(browser, schwab, account_id, kind):
    good = _published(browser, account_id)
    fault(schwab, kind=kind, path_prefix=f"/trader/v1/accounts/{account_id}")
    response = browser.get(f"/schwab/accounts/{account_id}/positions/")
    assert (response.status_code, response.json()["error"]) == (502, "schwab_bad_response")
    kept = reader.latest_positions(account_id)
    assert kept["positions"] == good["positions"] and kept["stale_reason"] == "schwab_bad_response"


def test_summary_serves_the_stale_snapshot_when_schwab_is_down(browser, schwab, account_id, thor_clock):
    browser.get("/schwab/account/summary/")
    thor_clock.advance(minutes=5)
    fault(schwab, kind="503", count=3, path_prefix=f"/trader/v1/accounts/{account_id}")
    body = browser.get(f"/schwab/account/summary/?account_hash={account_id}").json()
    assert body["summary"]["stale"] is True and body["summary"]["stale_reason"] == "schwab_unavailable"


def test_redis_unavailable_is_503_and_half_publishes_nothing(
    browser, schwab, account_id, settings, real_redis
):
    good = _published(browser, account_id)
    from LiveData.shared import redis_client

    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    redis_client.reset_client()
    response = browser.get(f"/schwab/accounts/{account_id}/positions/")
    assert (response.status_code, response.json()["error"]) == (503, "redis_unavailable")
    stored = reader.latest_positions(account_id, client=real_redis)
    assert stored == good  # untouched: neither overwritten nor half-written
    assert reader.latest_balances(account_id, client=real_redis)["as_of"] == good["as_of"]


def test_the_summary_with_redis_down_is_503_without_the_error_text(
    browser, account_id, fake_redis, monkeypatch
):
    def down(*args, **kwargs):
        raise __import__("redis").ConnectionError("Error 111 connecting to 10.0.0.7:6379")

    for command in ("get", "mget", "evalsha"):
        monkeypatch.setattr(fake_redis, command, down)
    response = browser.get(f"/schwab/account/summary/?account_hash={account_id}")
    assert (response.status_code, response.json()["error"]) == (503, "redis_unavailable")
    assert "111" not in response.content.decode() and "10.0.0.7" not in response.content.decode()


def test_disconnected_user_gets_404(browser, connected, fake_redis):
    BrokerConnection.objects.filter(user=connected).update(status="disconnected")
    response = browser.get("/schwab/accounts/")
    assert (response.status_code, response.json()["connected"]) == (404, False)


def test_anonymous_gets_401_json(client, db):
    response = client.get("/schwab/accounts/")
    assert (response.status_code, response.json()["error"]) == (401, "not_authenticated")


@pytest.mark.parametrize("debug", [False, True])
def test_an_unknown_schwab_route_is_json_404_also_with_debug_on(browser, db, settings, debug):
    settings.DEBUG = debug  # with DEBUG on Django answers its HTML debug page, unless told otherwise
    response = browser.get("/schwab/nothing/here/")
    assert (response.status_code, response["Content-Type"]) == (404, "application/json")
    assert response.json()["error"] == "not_found"


def test_unknown_schwab_route_is_json_404(browser, db):
    response = browser.get("/schwab/nothing/here/")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_views_publish_under_the_contracts_keys(browser, schwab, account_id, fake_redis):
    browser.get(f"/schwab/accounts/{account_id}/positions/")
    listed = sorted(account.hash_value for account in schwab.state.users["trader1"].accounts)
    assert reader.user_account_ids(browser.session["_auth_user_id"]) == listed
    stored = set(fake_redis.keys("live_data:positions:*") + fake_redis.keys("live_data:balances:*"))
    assert stored == {contract.positions_key(account_id), contract.balances_key(account_id)}


def test_summary_without_a_hash_uses_the_known_account_list(browser, schwab, account_id):
    listings = schwab.state.calls["accounts.numbers"], schwab.state.calls["accounts.list"]
    for _ in range(3):
        assert browser.get("/schwab/account/summary/").json()["account_hash"] == account_id
    assert (schwab.state.calls["accounts.numbers"], schwab.state.calls["accounts.list"]) == listings


def test_summary_without_a_hash_serves_the_stale_snapshot_when_schwab_is_down(
    browser, schwab, account_id, thor_clock
):
    browser.get("/schwab/account/summary/")
    thor_clock.advance(minutes=5)  # the account list and the snapshot are both due again
    fault(schwab, kind="503", count=20, path_prefix="/trader/v1/")
    response = browser.get("/schwab/account/summary/")
    assert response.status_code == 200
    body = response.json()
    assert body["account_hash"] == account_id
    assert (body["summary"]["stale"], body["summary"]["stale_reason"]) == (True, "schwab_unavailable")


def test_reconnecting_as_another_login_authorizes_anew(browser, schwab, account_id, connected):
    assert browser.get(f"/schwab/accounts/{account_id}/positions/latest/").status_code == 200
    connect(browser, schwab, username="trader2")
    for path in (
        f"/schwab/accounts/{account_id}/positions/latest/",
        f"/schwab/account/summary/?account_hash={account_id}",
    ):
        assert browser.get(path).status_code == 404


def test_a_refusal_by_schwab_leaves_that_accounts_snapshot_alone(browser, schwab, account_id, connected):
    """Even if the user's known list named an account Schwab will not serve them, its data is not theirs to
    mark stale: only an outage (5xx, 429, timeout, unreadable answer) does that."""
    neighbour = User.objects.create_user("bob")
    neighbours_account = schwab.state.users["trader2"].accounts[0].hash_value
    as_neighbour = Client()
    as_neighbour.force_login(neighbour)
    connect(as_neighbour, schwab, username="trader2")
    published = as_neighbour.get(f"/schwab/accounts/{neighbours_account}/positions/").json()["payload"]
    login = BrokerConnection.objects.get(user=connected).login
    authorization.remember_accounts(login, [account_id, neighbours_account], listed_at=clock.now())

    response = browser.get(f"/schwab/accounts/{neighbours_account}/positions/")

    assert (response.status_code, response.json()["error"]) == (502, "schwab_bad_request")
    assert reader.latest_positions(neighbours_account) == published  # neither stale nor overwritten


@pytest.mark.parametrize("due", [False, True], ids=["fresh", "due"])
def test_a_summary_request_checks_the_login_once_and_authorizes_once(
    browser, schwab, account_id, thor_clock, settings, monkeypatch, due
):
    """One path per request: without a hash, the login is read once and the account authorized once, also
    when the summary is due and a refresh reads the tokens (of that same login) and publishes."""
    settings.SCHWAB_SUMMARY_MAX_AGE_SECONDS = 15
    browser.get("/schwab/account/summary/")
    thor_clock.advance(seconds=20 if due else 5)
    seen: dict[str, int] = {"login": 0, "authorize": 0}

    def counted(name, function):
        def call(*args, **kwargs):
            seen[name] += 1
            return function(*args, **kwargs)

        return call

    monkeypatch.setattr(services, "connection_check", counted("login", services.connection_check))
    monkeypatch.setattr(authorization, "known_accounts", counted("authorize", authorization.known_accounts))
    calls = schwab.state.calls["accounts.get"]
    response = browser.get("/schwab/account/summary/")
    assert response.status_code == 200
    assert schwab.state.calls["accounts.get"] == calls + (1 if due else 0)
    assert seen == {"login": 1, "authorize": 1}
