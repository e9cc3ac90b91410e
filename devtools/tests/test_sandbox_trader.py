"""The sandbox's account endpoints give schwab-api.md's field names and types, with consistent numbers."""

from __future__ import annotations

from decimal import Decimal

import pytest
import requests

from devtools.sandbox.book import price_at
from devtools.sandbox.state import SandboxConfig, SandboxState
from devtools.testing import api, login

NUMBER = (int, float)

# schwab-api.md section 3
ACCOUNT_FIELDS = {"type", "accountNumber", "roundTrips", "isDayTrader", "isClosingOnlyRestricted", "pfcbFlag"}
COMMON_BALANCES = {
    "accruedInterest", "cashBalance", "cashReceipts", "longOptionMarketValue", "liquidationValue",
    "longMarketValue", "moneyMarketFund", "savings", "shortMarketValue", "pendingDeposits", "mutualFundValue",
    "bondValue", "shortOptionMarketValue",
}  # fmt: skip
MARGIN_BALANCES = COMMON_BALANCES | {
    "availableFunds", "availableFundsNonMarginableTrade", "buyingPower", "buyingPowerNonMarginableTrade",
    "dayTradingBuyingPower", "equity", "equityPercentage", "longMarginValue", "maintenanceCall",
    "maintenanceRequirement", "marginBalance", "regTCall", "shortBalance", "shortMarginValue", "sma",
}  # fmt: skip
CASH_BALANCES = COMMON_BALANCES | {
    "cashAvailableForTrading", "cashAvailableForWithdrawal", "cashCall", "longNonMarginableMarketValue",
    "totalCash", "cashDebitCallValue", "unsettledCash",
}  # fmt: skip
# schwab-api.md section 4 (the side-specific fields are checked separately)
POSITION_FIELDS = {
    "shortQuantity", "averagePrice", "currentDayProfitLoss", "currentDayProfitLossPercentage", "longQuantity",
    "settledLongQuantity", "settledShortQuantity", "instrument", "marketValue", "maintenanceRequirement",
    "previousSessionLongQuantity", "previousSessionShortQuantity", "currentDayCost",
}  # fmt: skip
INSTRUMENT_FIELDS = {"assetType", "cusip", "symbol", "description", "instrumentId", "netChange"}


@pytest.fixture
def token(sandbox):
    return login(sandbox)["access_token"]


def _hashes(sandbox, token):
    return [item["hashValue"] for item in api(sandbox, token, "/accounts/accountNumbers").json()]


def test_account_numbers_map_numbers_to_64_hex_hashes(sandbox, token):
    response = api(sandbox, token, "/accounts/accountNumbers")
    assert response.status_code == 200
    body = response.json()
    assert len(body) == 2
    for item in body:
        assert set(item) == {"accountNumber", "hashValue"}
        assert item["accountNumber"].isdigit()
        assert len(item["hashValue"]) == 64 and int(item["hashValue"], 16) >= 0


@pytest.mark.parametrize("with_positions", [False, True])
def test_accounts_list_has_schwab_shape(sandbox, token, with_positions):
    params = {"fields": "positions"} if with_positions else {}
    body = api(sandbox, token, "/accounts", params=params).json()
    assert {account["securitiesAccount"]["type"] for account in body} == {"MARGIN", "CASH"}
    for account in body:
        assert set(account) == {"securitiesAccount", "aggregatedBalance"}
        securities = account["securitiesAccount"]
        assert set(securities) >= ACCOUNT_FIELDS
        assert ("positions" in securities) is with_positions
        expected = MARGIN_BALANCES if securities["type"] == "MARGIN" else CASH_BALANCES
        assert set(securities["currentBalances"]) == expected
        assert all(isinstance(v, NUMBER) for v in securities["currentBalances"].values())
        assert {"accountValue", "isInCall"} <= set(securities["initialBalances"])
        assert set(account["aggregatedBalance"]) == {"currentLiquidationValue", "liquidationValue"}


def test_margin_projected_balances_fields(sandbox, token):
    margin = next(
        a["securitiesAccount"]
        for a in api(sandbox, token, "/accounts").json()
        if a["securitiesAccount"]["type"] == "MARGIN"
    )
    assert {"availableFunds", "buyingPower", "dayTradingBuyingPower", "stockBuyingPower", "isInCall"} <= set(
        margin["projectedBalances"]
    )


def test_positions_have_schwab_fields_and_every_asset_type(sandbox, token):
    margin_hash = _hashes(sandbox, token)[0]
    positions = api(sandbox, token, f"/accounts/{margin_hash}", params={"fields": "positions"}).json()[
        "securitiesAccount"
    ]["positions"]
    kinds = {p["instrument"]["assetType"] for p in positions}
    assert {
        "EQUITY",
        "COLLECTIVE_INVESTMENT",
        "OPTION",
        "MUTUAL_FUND",
        "FIXED_INCOME",
        "CASH_EQUIVALENT",
    } <= kinds
    assert kinds - {
        "EQUITY",
        "COLLECTIVE_INVESTMENT",
        "OPTION",
        "MUTUAL_FUND",
        "FIXED_INCOME",
        "CASH_EQUIVALENT",
    }
    for position in positions:
        assert set(position) >= POSITION_FIELDS
        assert set(position["instrument"]) >= INSTRUMENT_FIELDS
        long = position["longQuantity"] > 0
        assert (position["shortQuantity"] == 0) is long
        assert ("longOpenProfitLoss" in position) is long
        assert ("shortOpenProfitLoss" in position) is not long
        assert all(isinstance(position[f], NUMBER) for f in POSITION_FIELDS - {"instrument"})
    options = [p for p in positions if p["instrument"]["assetType"] == "OPTION"]
    assert {p["longQuantity"] > 0 for p in options} == {True, False}  # long and short options
    for option in options:
        instrument = option["instrument"]
        assert instrument["putCall"] in ("PUT", "CALL")
        assert instrument["optionMultiplier"] == 100
        symbol = instrument["symbol"]
        assert len(symbol) == 21 and symbol[:6].strip() == instrument["underlyingSymbol"]
        assert symbol[12] == instrument["putCall"][0]
    bond = next(p for p in positions if p["instrument"]["assetType"] == "FIXED_INCOME")
    assert {"maturityDate", "factor", "variableRate"} <= set(bond["instrument"])


def test_numbers_are_consistent(sandbox, token):
    for account in api(sandbox, token, "/accounts", params={"fields": "positions"}).json():
        securities = account["securitiesAccount"]
        balances = securities["currentBalances"]
        total = Decimal(0)
        for position in securities["positions"]:
            total += Decimal(str(position["marketValue"]))
            quantity = Decimal(str(position["longQuantity"])) - Decimal(str(position["shortQuantity"]))
            assert (quantity < 0) == (position["marketValue"] < 0)
        liquidation = Decimal(str(balances["liquidationValue"]))
        assert liquidation == Decimal(str(balances["cashBalance"])) + total
        assert liquidation == Decimal(str(account["aggregatedBalance"]["liquidationValue"]))


def test_market_value_is_quantity_times_price_times_multiplier(sandbox, token):
    user = sandbox.state.users["trader1"]

    positions = api(
        sandbox, token, f"/accounts/{user.accounts[0].hash_value}", params={"fields": "positions"}
    ).json()["securitiesAccount"]["positions"]
    now = sandbox.state.now()
    for holding, position in zip(user.accounts[0].holdings, positions, strict=True):
        expected = holding.quantity * price_at(holding.security, now) * holding.security.multiplier
        assert Decimal(str(position["marketValue"])) == expected.quantize(Decimal("0.01"))


def test_prices_move_deterministically_with_time(sandbox, token, sandbox_clock):
    margin_hash = _hashes(sandbox, token)[0]

    def values():
        account = api(sandbox, token, f"/accounts/{margin_hash}", params={"fields": "positions"}).json()
        return [p["marketValue"] for p in account["securitiesAccount"]["positions"]]

    first = values()
    assert values() == first
    sandbox_clock.advance(seconds=30)
    assert values() != first


def test_another_users_hash_and_unknown_hash_are_invalid_account_number(sandbox, token):
    other = sandbox.state.users["trader2"].accounts[0].hash_value
    for account_hash in (other, "12345678", "NOT-A-HASH"):
        response = api(sandbox, token, f"/accounts/{account_hash}")
        assert response.status_code == 400
        assert response.json()["message"] == "Invalid account number"


def test_missing_or_unknown_bearer_is_401_service_error(sandbox):
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}):
        response = requests.get(f"{sandbox.url}/trader/v1/accounts", headers=headers, timeout=5)
        assert response.status_code == 401
        body = response.json()
        assert isinstance(body["message"], str) and isinstance(body["errors"], list)


def test_bad_fields_parameter_is_400(sandbox, token):
    response = api(sandbox, token, "/accounts", params={"fields": "everything"})
    assert response.status_code == 400
    assert set(response.json()) == {"message", "errors"}


def test_bulk_account_has_500_positions_and_empty_account_has_none(sandbox):
    token = login(sandbox, "bulk")["access_token"]
    bulk_hash, empty_hash = _hashes(sandbox, token)
    bulk = api(sandbox, token, f"/accounts/{bulk_hash}", params={"fields": "positions"}).json()
    assert len(bulk["securitiesAccount"]["positions"]) == 500
    empty = api(sandbox, token, f"/accounts/{empty_hash}", params={"fields": "positions"}).json()
    assert "positions" not in empty["securitiesAccount"]
    assert empty["securitiesAccount"]["currentBalances"]["liquidationValue"] == 0


def test_user_preference_has_streamer_info(sandbox, token):
    body = api(sandbox, token, "/userPreference").json()
    assert set(body) == {"accounts", "streamerInfo", "offers"}
    assert set(body["streamerInfo"][0]) == {
        "streamerSocketUrl",
        "schwabClientCustomerId",
        "schwabClientCorrelId",
        "schwabClientChannel",
        "schwabClientFunctionId",
    }


def test_unknown_route_and_wrong_method(sandbox, token):
    assert api(sandbox, token, "/nothing/here").status_code == 404
    wrong = api(sandbox, token, "/accounts", method="POST")
    assert wrong.status_code == 405
    assert set(wrong.json()) == {"message", "errors"}


def test_same_seed_gives_same_book(sandbox):
    other = SandboxState(SandboxConfig(seed=1), clock=sandbox.state.clock)
    assert [a.hash_value for u in other.users.values() for a in u.accounts] == [
        a.hash_value for u in sandbox.state.users.values() for a in u.accounts
    ]
