"""The UI-ready Account Summary card, built from the published snapshots (pure; no I/O)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from LiveData.shared.contract import decimal_text as text
from LiveData.shared.contract import parse_timestamp

CENT = Decimal("0.01")


def _money(text: str | None) -> Decimal | None:
    return Decimal(text) if text is not None else None


def format_money(value: Decimal | None, *, signed: bool = False) -> str:
    if value is None:
        return "—"
    rounded = value.quantize(CENT)
    sign = "-" if rounded < 0 else ("+" if signed and rounded > 0 else "")
    return f"{sign}${abs(rounded):,.2f}"


def format_percent(value: Decimal | None) -> str:
    if value is None:
        return "—"
    rounded = value.quantize(CENT)
    return f"{'+' if rounded > 0 else ''}{rounded}%"


def _age_seconds(published_at: str, now: datetime) -> int:
    return max(0, int((now - parse_timestamp(published_at)).total_seconds()))


def build(*, balances: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The card from the balances snapshot alone (it carries the positions' totals from the same fetch)."""
    values = balances["balances"]
    totals = balances.get("positions_totals") or {}
    net_liq = _money(values["net_liquidation_value"])
    buying_power = _money(values["buying_power"])
    cash = _money(values["cash"])
    day_pnl = _money(totals.get("day_pnl"))
    start_value = net_liq - day_pnl if net_liq is not None and day_pnl is not None else None
    day_pct = (day_pnl / start_value * 100).quantize(CENT) if day_pnl is not None and start_value else None
    stale = bool(balances.get("stale"))
    reason = balances.get("stale_reason")
    return {
        "account_type": balances.get("account_type"),
        "display_number": balances.get("display_number"),
        "net_liquidation_value": text(net_liq),
        "buying_power": text(buying_power),
        "cash": text(cash),
        "day_pnl": text(day_pnl),
        "day_pnl_percent": text(day_pct),
        "display": {
            "net_liquidation_value": format_money(net_liq),
            "buying_power": format_money(buying_power),
            "cash": format_money(cash),
            "day_pnl": format_money(day_pnl, signed=True),
            "day_pnl_percent": format_percent(day_pct),
        },
        "positions_count": totals.get("count"),
        "as_of": balances["as_of"],
        "age_seconds": _age_seconds(balances["published_at"], now),
        "stale": stale,
        "stale_reason": reason,
    }
