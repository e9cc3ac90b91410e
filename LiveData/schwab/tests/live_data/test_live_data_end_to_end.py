"""End to end on the running sandbox and real Redis: connect, list, publish, read back through the reader
and as a pub/sub subscriber, and check every number against the sandbox's own book to the cent."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest

from conftest import run_together
from devtools.sandbox.accounts import totals, value_holding
from LiveData.schwab.api import SchwabTraderAPI
from LiveData.shared import contract, reader

pytestmark = pytest.mark.django_db
SCHEMAS = Path(contract.__file__).parent / "schemas"


def schema(name: str):
    version = {"positions": 2, "balances": 2}.get(name, 1)
    return json.loads((SCHEMAS / f"{name}.v{version}.schema.json").read_text())


def test_publish_and_read_back_matches_the_book(browser, connected, schwab, real_redis):
    accounts = browser.get("/schwab/accounts/").json()["accounts"]
    book = {account.hash_value: account for account in schwab.state.users["trader1"].accounts}
    assert {a["hashValue"] for a in accounts} == set(book)

    with reader.subscribe(account_ids=list(book)) as subscription:
        for account in accounts:
            assert browser.get(f"/schwab/accounts/{account['hashValue']}/positions/").status_code == 200
        notes = [subscription.get(timeout=5) for _ in range(2 * len(accounts))]

    assert {(n["kind"], n["account_id"]) for n in notes} == {(k, a) for k in contract.KINDS for a in book}
    for note in notes:
        jsonschema.validate(note, schema("notification"))
        assert note["changes"]["first"] is True

    now = schwab.state.now()
    for account_id, account in book.items():
        positions = reader.latest_positions(account_id)
        balances = reader.latest_balances(account_id)
        jsonschema.validate(positions, schema("positions"))
        jsonschema.validate(balances, schema("balances"))
        valued = [value_holding(holding, account.type, now) for holding in account.holdings]
        published = {p["symbol"]: p for p in positions["positions"]}
        assert len(published) == len(valued)
        for item in valued:
            assert Decimal(published[item.holding.security.symbol]["market_value"]) == item.market_value
        net_liq = totals(account, valued).liquidation_value
        assert Decimal(balances["balances"]["net_liquidation_value"]) == net_liq
        total = sum((Decimal(p["market_value"]) for p in positions["positions"]), Decimal(0))
        assert Decimal(balances["balances"]["cash"]) + total == net_liq  # exact: no float ever summed
    assert reader.user_account_ids(connected.pk) == sorted(book)


def test_second_publish_reports_moves_and_prices(browser, connected, schwab, real_redis, thor_clock):
    account_id = browser.get("/schwab/accounts/").json()["accounts"][0]["hashValue"]
    browser.get(f"/schwab/accounts/{account_id}/positions/")
    first = reader.latest_positions(account_id)
    thor_clock.advance(seconds=30)  # the sandbox's prices move with its clock
    with reader.subscribe(account_ids=[account_id], kind=contract.POSITIONS) as subscription:
        browser.get(f"/schwab/accounts/{account_id}/positions/")
        note = subscription.get(timeout=5)
    second = reader.latest_positions(account_id)
    assert note["changes"] == {"first": False, "opened": [], "closed": [], "quantity_changed": []}
    assert second["as_of"] > first["as_of"]
    assert [p["market_value"] for p in second["positions"]] != [p["market_value"] for p in first["positions"]]


@pytest.mark.django_db(transaction=True)
def test_concurrent_summaries_share_one_upstream_call(postgres, connected, schwab, real_redis):
    api = SchwabTraderAPI(connected)
    account_id = api.fetch_accounts()[0]["hashValue"]
    schwab.state.config.latency_ms = 300  # keep the first call in flight while the others arrive
    workers = 8
    results = run_together(workers, lambda: api.get_account_summary(account_id))
    assert schwab.state.calls["accounts.get"] == 1
    assert len({r["net_liquidation_value"] for r in results}) == 1 and len(results) == workers


def test_bulk_account_of_500_positions(client, schwab, real_redis, django_user_model):
    from devtools.testing import connect

    user = django_user_model.objects.create_user("whale", password="x")
    client.force_login(user)
    connect(client, schwab, username="bulk")
    accounts = client.get("/schwab/accounts/").json()["accounts"]
    bulk, empty = accounts
    assert (
        len(client.get(f"/schwab/accounts/{bulk['hashValue']}/positions/").json()["payload"]["positions"])
        == 500
    )
    empty_payload = client.get(f"/schwab/accounts/{empty['hashValue']}/positions/").json()["payload"]
    assert empty_payload["positions"] == [] and empty_payload["skipped_positions"] == 0
    summary = client.get(f"/schwab/account/summary/?account_hash={empty['hashValue']}").json()["summary"]
    assert (
        summary["net_liquidation_value"] == "0.0" and summary["display"]["net_liquidation_value"] == "$0.00"
    )
