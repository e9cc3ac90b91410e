"""Render the seeded book as Schwab's Account and Position JSON (schwab-api.md sections 3 and 4)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from devtools.sandbox.book import CENT, Account, Holding, previous_close, price_at

ZERO = Decimal(0)
OPTION_TYPES = {"OPTION"}


def _num(value: Decimal) -> float:
    """Schwab sends JSON numbers; the sandbox computes in Decimal and converts only here."""
    return float(value)


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_HALF_UP)


@dataclass(frozen=True)
class Valued:
    holding: Holding
    price: Decimal
    market_value: Decimal
    previous_value: Decimal
    maintenance: Decimal


def value_holding(holding: Holding, account_type: str, when: datetime) -> Valued:
    security = holding.security
    price = price_at(security, when)
    market_value = _money(holding.quantity * price * security.multiplier)
    previous = _money(holding.quantity * previous_close(security, when) * security.multiplier)
    if account_type == "CASH" or security.asset_type == "CASH_EQUIVALENT":
        maintenance = ZERO
    elif holding.quantity < 0:
        maintenance = _money(abs(market_value) * Decimal("0.30"))
    elif security.asset_type in OPTION_TYPES:
        maintenance = market_value
    else:
        maintenance = _money(market_value * Decimal("0.25"))
    return Valued(holding, price, market_value, previous, maintenance)


def instrument_json(holding: Holding, price: Decimal, previous: Decimal) -> dict[str, Any]:
    security = holding.security
    data: dict[str, Any] = {
        "assetType": security.asset_type,
        "cusip": security.cusip,
        "symbol": security.symbol,
        "description": security.description,
        "instrumentId": int(security.cusip[:6], 36) % 10**9,
        "netChange": _num(price - previous),
    }
    if security.instrument_type:
        data["type"] = security.instrument_type
    if security.asset_type == "OPTION":
        data.update(
            {
                "putCall": security.put_call,
                "underlyingSymbol": security.underlying,
                "optionMultiplier": _num(security.multiplier),
                "optionDeliverables": [
                    {
                        "symbol": security.underlying,
                        "deliverableUnits": _num(security.multiplier),
                        "assetType": "EQUITY",
                    }
                ],
            }
        )
    if security.asset_type == "FIXED_INCOME":
        data.update({"maturityDate": security.maturity_date, "factor": 1.0, "variableRate": 0.0})
    return data


def position_json(valued: Valued, when: datetime) -> dict[str, Any]:
    holding = valued.holding
    security = holding.security
    long = holding.quantity > 0
    quantity = abs(holding.quantity)
    cost = _money(quantity * holding.average_price * security.multiplier)
    day_pl = valued.market_value - valued.previous_value
    day_pct = (day_pl / abs(valued.previous_value) * 100) if valued.previous_value else ZERO
    previous_price = previous_close(security, when)
    data: dict[str, Any] = {
        "shortQuantity": _num(ZERO if long else quantity),
        "averagePrice": _num(holding.average_price),
        "currentDayProfitLoss": _num(day_pl),
        "currentDayProfitLossPercentage": round(float(day_pct), 2),
        "longQuantity": _num(quantity if long else ZERO),
        "settledLongQuantity": _num(quantity if long else ZERO),
        "settledShortQuantity": _num(ZERO if long else quantity),
        "instrument": instrument_json(holding, valued.price, previous_price),
        "marketValue": _num(valued.market_value),
        "maintenanceRequirement": _num(valued.maintenance),
        "previousSessionLongQuantity": _num(quantity if long else ZERO),
        "previousSessionShortQuantity": _num(ZERO if long else quantity),
        "currentDayCost": 0.0,
    }
    if long:
        data["averageLongPrice"] = _num(holding.average_price)
        data["taxLotAverageLongPrice"] = _num(holding.average_price)
        data["longOpenProfitLoss"] = _num(valued.market_value - cost)
    else:
        data["averageShortPrice"] = _num(holding.average_price)
        data["taxLotAverageShortPrice"] = _num(holding.average_price)
        data["shortOpenProfitLoss"] = _num(valued.market_value + cost)
    if security.asset_type != "CASH_EQUIVALENT":
        data["agedQuantity"] = 0.0
    return data


@dataclass(frozen=True)
class Totals:
    cash: Decimal
    long_market_value: Decimal
    short_market_value: Decimal
    long_option_value: Decimal
    short_option_value: Decimal
    mutual_fund_value: Decimal
    bond_value: Decimal
    money_market: Decimal
    maintenance: Decimal

    @property
    def liquidation_value(self) -> Decimal:
        return (
            self.cash
            + self.money_market
            + self.long_market_value
            + self.short_market_value
            + self.long_option_value
            + self.short_option_value
        )


def totals(account: Account, valued: list[Valued], values: str = "current") -> Totals:
    sums = dict.fromkeys(("long", "short", "long_opt", "short_opt", "fund", "bond", "mmf", "maint"), ZERO)
    for item in valued:
        value = item.market_value if values == "current" else item.previous_value
        kind = item.holding.security.asset_type
        sums["maint"] += item.maintenance
        if kind == "CASH_EQUIVALENT":
            sums["mmf"] += value
        elif kind in OPTION_TYPES:
            sums["long_opt" if value >= 0 else "short_opt"] += value
        else:
            sums["long" if value >= 0 else "short"] += value
            if kind == "MUTUAL_FUND":
                sums["fund"] += value
            elif kind == "FIXED_INCOME":
                sums["bond"] += value
    return Totals(
        account.cash,
        sums["long"],
        sums["short"],
        sums["long_opt"],
        sums["short_opt"],
        sums["fund"],
        sums["bond"],
        sums["mmf"],
        sums["maint"],
    )


def _common_balances(t: Totals) -> dict[str, Any]:
    return {
        "accruedInterest": 0.0,
        "cashBalance": _num(t.cash),
        "cashReceipts": 0.0,
        "longOptionMarketValue": _num(t.long_option_value),
        "liquidationValue": _num(t.liquidation_value),
        "longMarketValue": _num(t.long_market_value),
        "moneyMarketFund": _num(t.money_market),
        "savings": 0.0,
        "shortMarketValue": _num(t.short_market_value),
        "pendingDeposits": 0.0,
        "mutualFundValue": _num(t.mutual_fund_value),
        "bondValue": _num(t.bond_value),
        "shortOptionMarketValue": _num(t.short_option_value),
    }


def current_balances(account_type: str, t: Totals) -> dict[str, Any]:
    data = _common_balances(t)
    if account_type == "MARGIN":
        equity = t.liquidation_value
        available = _money(equity - t.maintenance)
        long_margin = t.long_market_value + t.long_option_value
        data.update(
            {
                "availableFunds": _num(available),
                "availableFundsNonMarginableTrade": _num(available),
                "buyingPower": _num(available * 2),
                "buyingPowerNonMarginableTrade": _num(available),
                "dayTradingBuyingPower": _num(available * 4),
                "equity": _num(equity),
                "equityPercentage": round(float(equity / long_margin * 100), 2) if long_margin else 100.0,
                "longMarginValue": _num(long_margin),
                "maintenanceCall": 0.0,
                "maintenanceRequirement": _num(t.maintenance),
                "marginBalance": _num(min(t.cash, ZERO)),
                "regTCall": 0.0,
                "shortBalance": _num(-t.short_market_value),
                "shortMarginValue": _num(t.short_market_value),
                "sma": _num(available),
            }
        )
    else:
        data.update(
            {
                "cashAvailableForTrading": _num(t.cash),
                "cashAvailableForWithdrawal": _num(t.cash),
                "cashCall": 0.0,
                "longNonMarginableMarketValue": _num(t.long_market_value),
                "totalCash": _num(t.cash),
                "cashDebitCallValue": 0.0,
                "unsettledCash": 0.0,
            }
        )
    return data


def projected_balances(account_type: str, t: Totals) -> dict[str, Any]:
    if account_type == "MARGIN":
        available = _money(t.liquidation_value - t.maintenance)
        return {
            "availableFunds": _num(available),
            "availableFundsNonMarginableTrade": _num(available),
            "buyingPower": _num(available * 2),
            "dayTradingBuyingPower": _num(available * 4),
            "dayTradingBuyingPowerCall": 0.0,
            "maintenanceCall": 0.0,
            "regTCall": 0.0,
            "isInCall": False,
            "stockBuyingPower": _num(available * 2),
        }
    return {"cashAvailableForTrading": _num(t.cash), "cashAvailableForWithdrawal": _num(t.cash)}


def account_json(account: Account, when: datetime, *, with_positions: bool) -> dict[str, Any]:
    """Schwab's Account object for `account` priced at `when`."""
    valued = [value_holding(holding, account.type, when) for holding in account.holdings]
    now, start = totals(account, valued), totals(account, valued, values="previous")
    initial = _common_balances(start)
    initial.update({"accountValue": _num(start.liquidation_value), "isInCall": False})
    securities: dict[str, Any] = {
        "type": account.type,
        "accountNumber": account.account_number,
        "roundTrips": 0,
        "isDayTrader": False,
        "isClosingOnlyRestricted": False,
        "pfcbFlag": False,
    }
    if with_positions and valued:  # Schwab leaves the key out when an account holds nothing
        securities["positions"] = [position_json(item, when) for item in valued]
    securities["initialBalances"] = initial
    securities["currentBalances"] = current_balances(account.type, now)
    securities["projectedBalances"] = projected_balances(account.type, now)
    liquidation = _num(now.liquidation_value)
    return {
        "securitiesAccount": securities,
        "aggregatedBalance": {"currentLiquidationValue": liquidation, "liquidationValue": liquidation},
    }
