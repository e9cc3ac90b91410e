"""Schwab account JSON → exact records; every odd shape has a decided, tested outcome.

A position record is already in its published form: amounts are exact decimal text, read back here with
`number()` to check the arithmetic."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from LiveData.schwab.live_data.account_document import MalformedAccount
from LiveData.schwab.live_data.transforms import parse_account, parse_occ_symbol, to_decimal

FIXTURES = Path(__file__).parents[1] / "fixtures"


def load(name: str):
    """Parse like the client does: every JSON number becomes a Decimal from its own text."""
    return json.loads((FIXTURES / f"{name}.json").read_text(), parse_float=Decimal, parse_int=Decimal)


def number(text):
    return None if text is None else Decimal(text)


def by_symbol(account):
    return {position.symbol: position for position in account.positions}


def test_margin_account_positions_every_asset_type():
    account = parse_account(load("account_margin"))
    assert account.account_type == "MARGIN"
    assert account.display_number == "…5678"
    assert account.skipped_positions == 0
    classes = {p.asset_class for p in account.positions}
    assert {"equity", "etf", "option", "mutual_fund", "fixed_income", "cash_equivalent", "other"} <= classes
    unknown = next(p for p in account.positions if p.asset_class == "other")
    assert unknown.asset_type == "PRODUCT"  # the raw type is kept


def test_quantities_prices_and_pnl_are_exact_and_consistent():
    raw = load("account_margin")
    account = parse_account(raw)
    for source, record in zip(raw["securitiesAccount"]["positions"], account.positions, strict=True):
        assert number(record.quantity) == source["longQuantity"] - source["shortQuantity"]
        assert record.market_value == str(source["marketValue"])  # never re-multiplied, the text as sent
        expected_cost = abs(number(record.quantity)) * source["averagePrice"] * number(record.multiplier)
        assert number(record.cost_basis_total) == expected_cost
        open_pl = source.get("longOpenProfitLoss", source.get("shortOpenProfitLoss"))
        assert number(record.unrealized_pnl) == open_pl
        assert number(record.day_pnl) == source["currentDayProfitLoss"]
        assert record.unavailable == []


def test_option_multiplier_is_applied_once_and_occ_symbol_parsed():
    account = parse_account(load("account_margin"))
    options = [p for p in account.positions if p.asset_class == "option"]
    short = next(p for p in options if number(p.quantity) < 0)
    market_value, quantity, price = (
        number(short.market_value),
        number(short.quantity),
        number(short.current_price),
    )
    assert number(short.multiplier) == 100
    assert market_value is not None and market_value < 0
    assert price is not None
    # price per contract unit: |market value| / (|quantity| x 100), not x 100 again
    assert price == (market_value / (quantity * 100)).quantize(Decimal("0.000001")).normalize()
    assert price < 50
    assert short.option is not None and short.option.underlying == "AAPL" and short.option.put_call == "CALL"
    assert number(short.option.strike) == Decimal("250")


def test_fixed_income_is_priced_per_hundred_of_face():
    bond = next(p for p in parse_account(load("account_margin")).positions if p.asset_class == "fixed_income")
    assert number(bond.multiplier) == Decimal("0.01")
    assert bond.current_price is not None and 90 < number(bond.current_price) < 110
    assert bond.maturity_date == "2027-05-27T00:00:00.000+00:00"


def test_occ_symbol_parsing():
    assert asdict(parse_occ_symbol("SPY   261218P00505000")) == {
        "underlying": "SPY",
        "put_call": "PUT",
        "strike": Decimal("505"),
        "expiration": date(2026, 12, 18),
    }
    assert parse_occ_symbol("SPXW  250502P05640500").strike == Decimal("5640.5")
    assert parse_occ_symbol("AAPL") is None
    assert parse_occ_symbol("SPY   261341P00505000") is None  # month 13


def test_margin_and_cash_balances_use_their_own_fields():
    margin = parse_account(load("account_margin")).balances
    raw = load("account_margin")["securitiesAccount"]["currentBalances"]
    assert margin.net_liquidation_value == raw["liquidationValue"]
    assert margin.buying_power == raw["buyingPower"]
    assert margin.day_trading_buying_power == raw["dayTradingBuyingPower"]
    assert margin.maintenance_requirement == raw["maintenanceRequirement"]
    assert margin.cash_available_for_withdrawal is None
    assert "cash_available_for_withdrawal" in margin.unavailable

    cash = parse_account(load("account_cash")).balances
    raw_cash = load("account_cash")["securitiesAccount"]["currentBalances"]
    assert cash.account_type == "CASH"
    assert cash.buying_power == raw_cash["cashAvailableForTrading"]
    assert cash.cash_available_for_withdrawal == raw_cash["cashAvailableForWithdrawal"]
    assert cash.day_trading_buying_power is None and cash.margin_balance is None
    assert {"day_trading_buying_power", "margin_balance", "equity"} <= set(cash.unavailable)


def test_missing_fields_are_null_never_zero_and_named():
    account = parse_account(load("account_missing_fields"))
    positions = by_symbol(account)
    ko = positions["KO"]
    assert ko.market_value is None and ko.average_price_per_unit is None and ko.cost_basis_total is None
    assert ko.unrealized_pnl is None and ko.current_price is None
    assert {"marketValue", "averagePrice", "maintenanceRequirement"} <= set(ko.unavailable)
    assert number(ko.day_pnl) == Decimal("12.5")


def test_option_without_multiplier_or_occ_symbol_keeps_what_is_known():
    option = by_symbol(parse_account(load("account_missing_fields")))["WEIRD-OPTION"]
    assert number(option.multiplier) == 100
    assert "instrument.optionMultiplier" in option.unavailable
    assert option.option is not None
    assert (option.option.underlying, option.option.put_call, option.option.strike) == ("AAPL", "CALL", None)
    assert number(option.cost_basis_total) == Decimal("620.0")  # 2 x 3.1 x 100


def test_unidentifiable_positions_are_skipped_and_counted():
    account = parse_account(load("account_missing_fields"))
    assert account.skipped_positions == 3  # no symbol, no quantity, not an object
    assert len(account.warnings) == 3
    assert set(by_symbol(account)) == {"KO", "WEIRD-OPTION", "/XYZ"}


def test_non_numbers_are_unavailable_and_unknown_types_kept():
    odd = by_symbol(parse_account(load("account_missing_fields")))["/XYZ"]
    assert odd.asset_type == "FUTURE_SPREAD" and odd.asset_class == "other"
    assert odd.market_value is None and odd.average_price_per_unit is None  # true and "12.00" are not numbers
    assert {"marketValue", "averagePrice"} <= set(odd.unavailable)


def test_missing_balance_fields_are_null():
    balances = parse_account(load("account_missing_fields")).balances
    assert balances.net_liquidation_value == Decimal("105000.25")
    assert balances.buying_power is None and "buying_power" in balances.unavailable


ONE = Decimal(1)


def test_numbers_past_exact_arithmetic_skip_their_position_not_the_account():
    """Before, a price of 1e30 raised InvalidOperation out of the refresh (a 500, and the end of a fleet
    refresh round); now that position is skipped and named, the others published."""
    document = {
        "securitiesAccount": {
            "type": "CASH",
            "accountNumber": "12345678",
            "positions": [
                {"instrument": {"symbol": "HUGE"}, "longQuantity": ONE, "marketValue": Decimal("1e30")},
                {"instrument": {"symbol": "KO"}, "longQuantity": ONE, "marketValue": Decimal("120.50"),
                 "currentDayProfitLoss": Decimal("9e999999")},
                {"instrument": {"symbol": "PEP"}, "longQuantity": ONE, "marketValue": Decimal("170.00"),
                 "currentDayProfitLoss": Decimal("9e999999")},
            ],
        }
    }  # fmt: skip
    account = parse_account(document)
    assert [p.symbol for p in account.positions] == ["KO", "PEP"]
    assert account.skipped_positions == 1 and "numbers out of range" in account.warnings[0]
    assert account.day_pnl is None  # their sum is past exact arithmetic too: unknown


@pytest.mark.parametrize("name", ["account_positions_not_list", "account_no_securities_account"])
def test_broken_documents_are_refused(name):
    with pytest.raises(MalformedAccount):
        parse_account(load(name))


@pytest.mark.parametrize("document", [None, [], "text", {"securitiesAccount": []}])
def test_non_account_documents_are_refused(document):
    with pytest.raises(MalformedAccount):
        parse_account(document)


def test_to_decimal_never_invents_numbers():
    assert to_decimal(Decimal("0.1")) + to_decimal(Decimal("0.2")) == Decimal("0.3")
    assert to_decimal(True) is None and to_decimal("1.5") is None and to_decimal(None) is None
    assert to_decimal(Decimal("NaN")) is None
    assert to_decimal(0.1) == Decimal("0.1")
