"""The sync is idempotent and order-safe: duplicates change nothing, older snapshots never win."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ActAndPos import services
from ActAndPos.models import Account, Position
from ActAndPos.tests.factories import ACCOUNT, balances_snapshot, positions_snapshot

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    return User.objects.create_user("dave")


def held() -> dict[str, Decimal]:
    return dict(Position.objects.filter(account__external_id=ACCOUNT).values_list("symbol", "quantity"))


def test_creates_updates_and_removes_positions(owner):
    first = services.sync_positions(positions_snapshot(owner.pk, {"AAPL": "10", "KO": "5"}))
    assert (first.applied, first.created) == (True, 2)
    second = services.sync_positions(positions_snapshot(owner.pk, {"AAPL": "12", "MSFT": "1"}, seconds=5))
    assert (second.created, second.updated, second.removed) == (1, 1, 1)
    assert held() == {"AAPL": Decimal("12"), "MSFT": Decimal("1")}
    account = Account.objects.get(external_id=ACCOUNT)
    assert account.user == owner and account.display_number == "…5678"
    assert Position.objects.get(symbol="MSFT").market_value == Decimal("11")


def test_a_duplicate_changes_nothing(owner):
    snapshot = positions_snapshot(owner.pk, {"AAPL": "10"})
    services.sync_positions(snapshot)
    before = list(Position.objects.values())
    assert services.sync_positions(snapshot).applied is False
    assert list(Position.objects.values()) == before
    assert Position.objects.count() == 1


def test_an_older_snapshot_never_overwrites_a_newer_one(owner):
    services.sync_positions(positions_snapshot(owner.pk, {"AAPL": "12"}, seconds=10))
    assert (
        services.sync_positions(positions_snapshot(owner.pk, {"AAPL": "10", "KO": "1"}, seconds=5)).applied
        is False
    )
    assert held() == {"AAPL": Decimal("12")}


def test_a_stale_mark_on_the_same_data_is_recorded(owner):
    services.sync_positions(positions_snapshot(owner.pk, {"AAPL": "12"}))
    services.sync_positions(positions_snapshot(owner.pk, {"AAPL": "12"}, stale=True))
    assert Account.objects.get(external_id=ACCOUNT).stale is True
    assert held() == {"AAPL": Decimal("12")}


def test_balances_sync_and_order(owner):
    services.sync_balances(balances_snapshot(owner.pk, "1000.50", seconds=10))
    services.sync_balances(balances_snapshot(owner.pk, "1.00", seconds=1))
    assert Account.objects.get(external_id=ACCOUNT).net_liquidation_value == Decimal("1000.50")


def test_unknown_user_is_ignored(db):
    assert services.sync_positions(positions_snapshot(424242, {"AAPL": "1"})).applied is False
    assert not Account.objects.exists()


SYMBOLS = ["AAPL", "KO", "MSFT", "SPY", "TSLA"]
holdings = st.dictionaries(st.sampled_from(SYMBOLS), st.integers(-500, 500).filter(bool).map(str), max_size=5)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=st.lists(holdings, min_size=1, max_size=6), data=st.data())
def test_any_delivery_order_with_duplicates_ends_at_the_newest(owner, history, data):
    """Whatever order snapshots arrive in, and however often, the newest delivered one is what remains."""
    Account.objects.all().delete()
    snapshots = [positions_snapshot(owner.pk, quantities, seconds=i) for i, quantities in enumerate(history)]
    deliveries = data.draw(st.lists(st.sampled_from(range(len(snapshots))), min_size=1, max_size=15))
    for index in deliveries:
        services.sync_positions(snapshots[index])
    newest = history[max(deliveries)]
    assert held() == {symbol: Decimal(quantity) for symbol, quantity in newest.items()}
    assert Position.objects.values("account", "symbol").distinct().count() == Position.objects.count()
