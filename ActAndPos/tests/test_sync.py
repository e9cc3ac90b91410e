"""The sync is idempotent and order-safe: duplicates change nothing, older snapshots never win; every owner
of a shared account has a live mirror, and one who loses the account keeps it detached."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ActAndPos import services
from ActAndPos.models import Account, Position
from ActAndPos.tests.factories import ACCOUNT, T0, balances_snapshot, own, positions_snapshot
from LiveData.shared import contract, ownership, publisher, reader

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    user = User.objects.create_user("dave")
    own(user.pk)
    return user


def held(user=None) -> dict[str, Decimal]:
    positions = Position.objects.filter(account__external_id=ACCOUNT)
    if user is not None:
        positions = positions.filter(account__user=user)
    return dict(positions.values_list("symbol", "quantity"))


def test_creates_updates_and_removes_positions(owner):
    first = services.sync_positions(positions_snapshot({"AAPL": "10", "KO": "5"}))
    assert (first.applied, first.created) == (True, 2)
    second = services.sync_positions(positions_snapshot({"AAPL": "12", "MSFT": "1"}, seconds=5))
    assert (second.created, second.updated, second.removed) == (1, 1, 1)
    assert held() == {"AAPL": Decimal("12"), "MSFT": Decimal("1")}
    account = Account.objects.get(external_id=ACCOUNT)
    assert account.user == owner and account.display_number == "…5678"
    assert Position.objects.get(symbol="MSFT").market_value == Decimal("11")


def test_a_duplicate_changes_nothing(owner):
    snapshot = positions_snapshot({"AAPL": "10"})
    services.sync_positions(snapshot)
    before = list(Position.objects.values())
    assert services.sync_positions(snapshot).applied is False
    assert list(Position.objects.values()) == before
    assert Position.objects.count() == 1


def test_an_older_snapshot_never_overwrites_a_newer_one(owner):
    services.sync_positions(positions_snapshot({"AAPL": "12"}, seconds=10))
    assert services.sync_positions(positions_snapshot({"AAPL": "10", "KO": "1"}, seconds=5)).applied is False
    assert held() == {"AAPL": Decimal("12")}


def test_a_stale_mark_on_the_same_data_is_recorded(owner):
    services.sync_positions(positions_snapshot({"AAPL": "12"}))
    services.sync_positions(positions_snapshot({"AAPL": "12"}, stale=True))
    assert Account.objects.get(external_id=ACCOUNT).stale is True
    assert held() == {"AAPL": Decimal("12")}


def test_balances_sync_and_order(owner):
    services.sync_balances(balances_snapshot("1000.50", seconds=10))
    services.sync_balances(balances_snapshot("1.00", seconds=1))
    assert Account.objects.get(external_id=ACCOUNT).net_liquidation_value == Decimal("1000.50")


def test_unknown_user_is_ignored(db):
    own(424242)
    assert services.sync_positions(positions_snapshot({"AAPL": "1"})).applied is False
    assert not Account.objects.exists()


def test_an_account_nobody_owns_is_not_mirrored(db):
    User.objects.create_user("nobody")
    assert services.sync_positions(positions_snapshot({"AAPL": "1"})).applied is False
    assert not Account.objects.exists()


def test_both_users_of_a_shared_account_have_a_live_mirror(owner):
    partner = User.objects.create_user("partner")
    own(partner.pk)
    services.sync_positions(positions_snapshot({"AAPL": "10"}))
    services.sync_positions(positions_snapshot({"AAPL": "11"}, seconds=5))
    mirrors = Account.objects.filter(external_id=ACCOUNT).order_by("user_id")
    assert [(mirror.user_id, mirror.is_live) for mirror in mirrors] == [(owner.pk, True), (partner.pk, True)]
    assert held(owner) == held(partner) == {"AAPL": Decimal("11")}


def _publish(quantities: dict[str, str], *, seconds: int) -> None:
    snapshot = positions_snapshot(quantities, seconds=seconds)
    publisher.publish(snapshots=[publisher.Snapshot(contract.POSITIONS, ACCOUNT, snapshot, quantities)])


def test_a_user_who_loses_the_account_keeps_it_detached(owner, thor_clock):
    partner = User.objects.create_user("partner")
    own(partner.pk)
    _publish({"AAPL": "10"}, seconds=0)
    services.sync_account(ACCOUNT)
    ownership.replace_user_accounts(user_id=partner.pk, account_ids=["OTHER"], at=T0)  # reconnected elsewhere
    services.sync_user(partner.pk)
    _publish({"AAPL": "12"}, seconds=5)
    services.sync_account(ACCOUNT)

    kept = Account.objects.get(user=partner, external_id=ACCOUNT)
    assert (kept.is_live, kept.detached_at) == (False, thor_clock.current)
    assert held(partner) == {"AAPL": Decimal("10")}  # as it was when detached, not deleted
    assert held(owner) == {"AAPL": Decimal("12")}  # the other owner stays live

    own(partner.pk)  # back on a login that lists it
    services.sync_user(partner.pk)
    assert Account.objects.get(user=partner, external_id=ACCOUNT).is_live
    assert held(partner) == {"AAPL": Decimal("12")}  # caught up from the stored snapshot


SYMBOLS = ["AAPL", "KO", "MSFT", "SPY", "TSLA"]
holdings = st.dictionaries(st.sampled_from(SYMBOLS), st.integers(-500, 500).filter(bool).map(str), max_size=5)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=st.lists(holdings, min_size=1, max_size=6), data=st.data())
def test_any_delivery_order_with_duplicates_ends_at_the_newest(owner, history, data):
    """Whatever order snapshots arrive in, and however often, the newest delivered one is what remains,
    for both users of a shared account."""
    Account.objects.all().delete()
    partner, _ = User.objects.get_or_create(username="partner")
    own(partner.pk)
    snapshots = [positions_snapshot(quantities, seconds=i) for i, quantities in enumerate(history)]
    deliveries = data.draw(st.lists(st.sampled_from(range(len(snapshots))), min_size=1, max_size=15))
    for index in deliveries:
        services.sync_positions(snapshots[index])
    newest = {symbol: Decimal(quantity) for symbol, quantity in history[max(deliveries)].items()}
    assert held(owner) == held(partner) == newest
    assert Position.objects.values("account", "symbol").distinct().count() == Position.objects.count()


EVENTS = st.one_of(
    st.tuples(st.just("publish"), st.integers(0, 5)),
    st.tuples(st.just("partner_owns"), st.booleans()),
    st.tuples(st.just("deliver_account"), st.just(0)),
    st.tuples(st.just("deliver_user"), st.sampled_from(["owner", "partner"])),
)


def _mirrors() -> dict[tuple[str, bool], dict[str, Decimal]]:
    """The live mirrors and what they hold (detached ones keep whatever they held when detached)."""
    return {
        (account.user.username, account.is_live): dict(account.positions.values_list("symbol", "quantity"))
        for account in Account.objects.filter(detached_at__isnull=True)
    }


@pytest.fixture(params=["fake", "real"])
def store(request):
    """Both Redis flavours: the in-process stand-in, and (where it runs) the real thing."""
    return request.getfixturevalue("fake_redis" if request.param == "fake" else "real_redis")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=st.lists(holdings, min_size=6, max_size=6), events=st.lists(EVENTS, max_size=20))
def test_listener_catch_up_and_sync_command_agree_in_any_order(owner, store, history, events):
    """Publishes and ownership changes of two users in any order, with notifications handled in any order
    (or not at all): the final catch-up (what the listener does on start and `actandpos_sync` does) lands
    in the one state that what Redis holds determines."""
    Account.objects.all().delete()
    for key in store.scan_iter("live_data:*"):  # only what this test wrote
        store.delete(key)
    partner, _ = User.objects.get_or_create(username="partner")
    users = {"owner": owner, "partner": partner}
    own(owner.pk)
    for kind, value in events:
        if kind == "publish":
            snapshot = positions_snapshot(history[value], seconds=value)
            publisher.publish(
                snapshots=[publisher.Snapshot(contract.POSITIONS, ACCOUNT, snapshot, history[value])]
            )
        elif kind == "partner_owns":
            ownership.replace_user_accounts(user_id=partner.pk, account_ids=[ACCOUNT] if value else [], at=T0)
        elif kind == "deliver_account":
            services.sync_account(ACCOUNT)
        else:
            services.sync_user(users[value].pk)
    for account_id in sorted(services.live_account_ids() | {ACCOUNT}):  # the catch-up
        services.sync_account(account_id)
    after_listener = _mirrors()

    Account.objects.all().delete()  # a fresh mirror built by the sync command from the same Redis
    for account_id in sorted(services.live_account_ids() | {ACCOUNT}):
        services.sync_account(account_id)
    assert _mirrors() == after_listener
    stored = reader.latest_positions(ACCOUNT)
    expected_owners = {owner.username} | (
        {partner.username} if reader.is_owner(partner.pk, ACCOUNT) else set()
    )
    if stored is None:
        assert after_listener == {}
    else:
        newest = {item["symbol"]: Decimal(item["quantity"]) for item in stored["positions"]}
        assert after_listener == {(name, True): newest for name in expected_owners}
