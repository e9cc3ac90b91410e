"""FutureTrading proves the contract from a second consumer: LiveData.shared's reader, nothing else."""

from __future__ import annotations

import ast
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from ActAndPos.tests.factories import ACCOUNT, T0, balances_snapshot, own
from FutureTrading.buying_power import check_buying_power
from LiveData.shared import contract, ownership, publisher

USER = 1
pytestmark = pytest.mark.usefixtures("fake_redis")


@pytest.fixture(autouse=True)
def _owned():
    own(USER)


def publish(snapshot):
    publisher.publish(snapshots=[publisher.Snapshot(contract.BALANCES, ACCOUNT, snapshot, {})])


def test_allows_a_trade_within_buying_power():
    publish(balances_snapshot("1000.00"))
    decision = check_buying_power(
        user_id=USER, account_id=ACCOUNT, required=Decimal("4999.99"), now=T0 + timedelta(seconds=5)
    )
    assert decision.allowed and decision.buying_power == Decimal("5000.00")


def test_refuses_short_buying_power_with_the_numbers():
    publish(balances_snapshot("1000.00"))
    decision = check_buying_power(user_id=USER, account_id=ACCOUNT, required=Decimal("5000.01"), now=T0)
    assert not decision.allowed
    assert decision.reason == "Insufficient buying power: 5000.01 needed, 5000.00 available."


def test_refuses_old_missing_and_stale_data():
    assert check_buying_power(
        user_id=USER, account_id=ACCOUNT, required=Decimal(1), now=T0
    ).reason.startswith("No live balances")
    publish(balances_snapshot("1000.00"))
    old = check_buying_power(
        user_id=USER,
        account_id=ACCOUNT,
        required=Decimal(1),
        max_age=timedelta(seconds=30),
        now=T0 + timedelta(minutes=2),
    )
    assert (old.allowed, old.reason) == (False, "Balances are 120s old; at most 30s allowed.")
    publisher.mark_stale(account_id=ACCOUNT, reason="schwab_unavailable", at=T0)
    stale = check_buying_power(user_id=USER, account_id=ACCOUNT, required=Decimal(1), now=T0)
    assert not stale.allowed and "stale (schwab_unavailable)" in stale.reason


def test_answers_only_for_a_user_whose_login_lists_the_account():
    publish(balances_snapshot("1000.00"))
    stranger = check_buying_power(user_id=2, account_id=ACCOUNT, required=Decimal(1), now=T0)
    assert (stranger.allowed, stranger.buying_power) == (False, None)
    assert stranger.reason == "This account is not one of yours (your broker login does not list it)."
    ownership.mark_reauth_required(user_id=USER, at=T0)
    expired = check_buying_power(user_id=USER, account_id=ACCOUNT, required=Decimal(1), now=T0)
    assert (expired.allowed, expired.reason) == (
        False,
        "Your broker login has expired; reconnect it before trading.",
    )
    ownership.clear_user_accounts(user_id=USER, at=T0)
    gone = check_buying_power(user_id=USER, account_id=ACCOUNT, required=Decimal(1), now=T0)
    assert not gone.allowed and "not one of yours" in gone.reason


def test_uses_only_the_shared_contract():
    tree = ast.parse((Path(__file__).parents[1] / "buying_power.py").read_text())
    modules = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not any(module and module.startswith("LiveData.schwab") for module in modules)
