"""Publishing: atomic store + notification with changes, in one round trip; stale marking;
older snapshots never overwrite newer ones. Runs on fakeredis and, where it matters, on real Redis."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis

from LiveData.shared import contract, publisher, reader

T0 = datetime(2026, 11, 25, 15, 30, tzinfo=UTC)
ACCOUNT = "A" * 64


def snapshots(quantities: dict[str, str], *, at: datetime = T0, net_liq: str = "1000.00"):
    positions = [{"symbol": s, "quantity": q, "market_value": "1.00"} for s, q in quantities.items()]
    common: dict[str, Any] = {
        "account_id": ACCOUNT,
        "source": "test",
        "as_of": at,
        "published_at": at,
    }
    balances = {"net_liquidation_value": net_liq, "cash": "10.00"}
    return [
        publisher.Snapshot(
            contract.POSITIONS,
            ACCOUNT,
            contract.envelope(contract.POSITIONS, body={"positions": positions}, **common),
            dict(quantities),
        ),
        publisher.Snapshot(
            contract.BALANCES,
            ACCOUNT,
            contract.envelope(contract.BALANCES, body={"balances": balances}, **common),
            balances,
        ),
    ]


@pytest.fixture(params=["fake", "real"])
def store(request):
    """Both Redis flavours: the in-process stand-in must behave like the real thing."""
    return request.getfixturevalue("fake_redis" if request.param == "fake" else "real_redis")


def test_publish_stores_both_snapshots(store):
    stored = publisher.publish(snapshots=snapshots({"AAPL": "10"}))
    assert stored == {contract.positions_key(ACCOUNT): True, contract.balances_key(ACCOUNT): True}
    positions = reader.latest_positions(ACCOUNT, client=store)
    assert positions["positions"][0]["quantity"] == "10"
    assert positions["as_of"] == "2026-11-25T15:30:00.000000Z"
    assert reader.latest_balances(ACCOUNT, client=store)["balances"]["net_liquidation_value"] == "1000.00"
    assert not store.keys("live_data:accounts:*")  # ownership is recorded by listing, not publishing


def test_notifications_say_what_changed(store):
    with reader.subscribe(account_ids=[ACCOUNT], client=store) as subscription:
        publisher.publish(snapshots=snapshots({"AAPL": "10", "KO": "5"}))
        publisher.publish(
            snapshots=snapshots({"AAPL": "12", "MSFT": "1"}, at=T0 + timedelta(seconds=5), net_liq="1.00"),
        )
        notes = [subscription.get(timeout=2) for _ in range(4)]
    first_positions, first_balances, positions, balances = notes
    assert first_positions["changes"] == {
        "first": True,
        "opened": ["AAPL", "KO"],
        "closed": [],
        "quantity_changed": [],
    }
    assert first_positions["event"] == "snapshot" and first_positions["key"] == contract.positions_key(
        ACCOUNT
    )
    assert first_balances["kind"] == "balances"
    assert positions["changes"] == {
        "first": False,
        "opened": ["MSFT"],
        "closed": ["KO"],
        "quantity_changed": [{"symbol": "AAPL", "from": "10", "to": "12"}],
    }
    assert balances["changes"] == {"first": False, "changed_fields": ["net_liquidation_value"]}


def test_an_unchanged_map_announces_no_changes_and_the_next_change_is_seen(store):
    with reader.subscribe(account_ids=[ACCOUNT], kind=contract.POSITIONS, client=store) as subscription:
        for seconds, quantities in enumerate(
            [{"AAPL": "10", "KO": "5"}, {"AAPL": "10", "KO": "5"}, {"AAPL": "11"}]
        ):
            publisher.publish(snapshots=snapshots(quantities, at=T0 + timedelta(seconds=seconds)))
        notes = [subscription.get(timeout=2)["changes"] for _ in range(3)]
    assert notes[1] == {"first": False, "opened": [], "closed": [], "quantity_changed": []}
    assert notes[2] == {
        "first": False,
        "opened": [],
        "closed": ["KO"],
        "quantity_changed": [{"symbol": "AAPL", "from": "10", "to": "11"}],
    }
    positions = reader.latest_positions(ACCOUNT, client=store)
    assert positions["as_of"] == "2026-11-25T15:30:02.000000Z"


def test_an_older_snapshot_never_overwrites_a_newer_one(store):
    publisher.publish(snapshots=snapshots({"AAPL": "10"}, at=T0 + timedelta(minutes=1)))
    stored = publisher.publish(snapshots=snapshots({"AAPL": "99"}, at=T0))
    assert set(stored.values()) == {False}
    assert reader.latest_positions(ACCOUNT, client=store)["positions"][0]["quantity"] == "10"


def test_mark_stale_keeps_the_last_good_snapshot(store):
    publisher.publish(snapshots=snapshots({"AAPL": "10"}))
    with reader.subscribe(account_ids=[ACCOUNT], kind=contract.POSITIONS, client=store) as subscription:
        marked = publisher.mark_stale(
            account_id=ACCOUNT, reason="schwab_unavailable", at=T0 + timedelta(minutes=1)
        )
        note = subscription.get(timeout=2)
    assert set(marked) == {contract.positions_key(ACCOUNT), contract.balances_key(ACCOUNT)}
    positions = reader.latest_positions(ACCOUNT, client=store)
    assert positions["positions"][0]["quantity"] == "10"
    assert (positions["stale"], positions["stale_reason"]) == (True, "schwab_unavailable")
    assert positions["stale_since"] == "2026-11-25T15:31:00.000000Z"
    assert (note["event"], note["stale_reason"]) == ("stale", "schwab_unavailable")
    assert publisher.mark_stale(account_id="B" * 64, reason="x", at=T0) == []  # nothing to mark, nothing made


# A large positions envelope is SET under an incoming key and renamed; a small one is the script's argument.
BIG = {f"S{number:04d}": "10" for number in range(600)}


@pytest.mark.parametrize("holdings", [{"AAPL": "10"}, BIG], ids=["inline", "renamed"])
def test_the_incoming_key_never_outlives_the_publish(store, holdings):
    assert (len(publisher.encode(snapshots(holdings)[0].envelope)) > publisher._INLINE_BYTES) == (
        holdings is BIG
    )
    publisher.publish(snapshots=snapshots(holdings, at=T0 + timedelta(minutes=1)))
    stored = publisher.publish(snapshots=snapshots({"AAPL": "99"} | holdings, at=T0))  # older: dropped
    assert set(stored.values()) == {False}
    assert store.keys("live_data:incoming:*") == []
    assert store.ttl(contract.positions_key(ACCOUNT)) == -1  # no TTL configured: none carried over
    assert len(reader.latest_positions(ACCOUNT, client=store)["positions"]) == len(holdings)
    publisher.publish(snapshots=snapshots(holdings, at=T0 + timedelta(minutes=2)), ttl_seconds=120)
    assert 0 < store.ttl(contract.positions_key(ACCOUNT)) <= 120


@pytest.mark.parametrize("holdings", [{"AAPL": "10"}, BIG], ids=["inline", "renamed"])
def test_a_redis_that_forgot_the_script_gets_it_again(store, holdings):
    publisher.publish(snapshots=snapshots(holdings))
    store.script_flush()  # a restarted or new Redis: EVALSHA answers NOSCRIPT
    stored = publisher.publish(snapshots=snapshots({**holdings, "AAPL": "11"}, at=T0 + timedelta(seconds=1)))
    assert set(stored.values()) == {True}
    positions = reader.latest_positions(ACCOUNT, client=store)["positions"]
    assert {p["symbol"]: p["quantity"] for p in positions}["AAPL"] == "11"
    assert store.keys("live_data:incoming:*") == []


def test_ttl_is_applied_when_configured(store):
    publisher.publish(snapshots=snapshots({"AAPL": "10"}), ttl_seconds=120)
    assert 0 < store.ttl(contract.positions_key(ACCOUNT)) <= 120
    publisher.mark_stale(account_id=ACCOUNT, reason="x", at=T0)
    assert 0 < store.ttl(contract.positions_key(ACCOUNT)) <= 120  # stale marking keeps the TTL


def test_one_round_trip_per_account_publish(real_redis, monkeypatch):
    sent = []
    original = redis.connection.Connection.send_packed_command

    def counting(self, command, check_health=True):
        sent.append(command)
        return original(self, command, check_health)

    publisher.publish(snapshots=snapshots({"AAPL": "1"}))  # warm the pool
    monkeypatch.setattr(redis.connection.Connection, "send_packed_command", counting)
    publisher.publish(snapshots=snapshots({"AAPL": "2"}, at=T0 + timedelta(seconds=1)))
    assert len(sent) == 1


@pytest.mark.parametrize("version", [1, 3])  # 1: the envelope with a single user_id
def test_reader_refuses_other_schema_versions(fake_redis, version):
    fake_redis.set(
        contract.positions_key(ACCOUNT),
        json.dumps({"schema": "live_data.positions", "schema_version": version, "user_id": 7}),
    )
    with pytest.raises(reader.SnapshotSchemaError, match=f"version {version} is not 2"):
        reader.latest_positions(ACCOUNT)
    fake_redis.set(contract.balances_key(ACCOUNT), "{not json")
    with pytest.raises(reader.SnapshotSchemaError):
        reader.latest_balances(ACCOUNT)
    assert reader.latest_positions("C" * 64) is None


def test_contract_names():
    assert contract.positions_key("X") == "live_data:positions:X"
    assert contract.balances_key("X") == "live_data:balances:X"
    assert contract.user_accounts_key(3) == "live_data:accounts:3"
    with pytest.raises(ValueError):
        contract.timestamp(datetime(2026, 1, 1))


def _order(order_id: str, status: str, entered: str = "2026-11-25T15:30:00+0000") -> dict[str, Any]:
    return {"order_id": order_id, "status": status, "open": status == "WORKING", "entered_time": entered}


def test_orders_merge_and_an_older_listing_never_wins(store):
    listed_at = T0 + timedelta(seconds=1)
    envelope = contract.orders_envelope(
        account_id=ACCOUNT, source="test", as_of=T0, published_at=T0, orders=[_order("1", "WORKING")]
    )
    assert publisher.publish_orders(envelope=envelope, client=store) is True
    publisher.merge_orders(
        account_id=ACCOUNT, source="test", orders=[_order("1", "FILLED")], at=listed_at, client=store
    )
    assert reader.latest_orders(ACCOUNT, client=store)["orders"][0]["status"] == "FILLED"
    assert publisher.publish_orders(envelope=envelope, client=store) is False  # listed before the merge
    stored = reader.latest_orders(ACCOUNT, client=store)
    assert [order["status"] for order in stored["orders"]] == ["FILLED"]
    assert stored["as_of"] == contract.timestamp(listed_at)


def test_a_child_read_on_its_own_keeps_the_parent_its_listing_named(store):
    listed = [{**_order("2", "WORKING"), "parent_order_id": "1"}]
    publisher.merge_orders(account_id=ACCOUNT, source="test", orders=listed, at=T0, client=store)
    alone = [{**_order("2", "FILLED"), "parent_order_id": None}]  # Schwab's GET of one order names no parent
    publisher.merge_orders(account_id=ACCOUNT, source="test", orders=alone, at=T0, client=store)
    [order] = reader.latest_orders(ACCOUNT, client=store)["orders"]
    assert (order["status"], order["parent_order_id"]) == ("FILLED", "1")


def test_a_merge_into_another_versions_orders_begins_this_version_anew(store):
    old = {"schema": "live_data.orders", "schema_version": 1, "orders": [{"order_id": "9", "legs": 1}]}
    store.set(contract.orders_key(ACCOUNT), json.dumps(old))
    publisher.merge_orders(
        account_id=ACCOUNT, source="test", orders=[_order("1", "WORKING")], at=T0, client=store
    )
    stored = reader.latest_orders(ACCOUNT, client=store)
    assert stored["schema_version"] == contract.ORDERS_SCHEMA_VERSION == 2
    assert [order["order_id"] for order in stored["orders"]] == ["1"]
