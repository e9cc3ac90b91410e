"""Schwab's Account document (`accounts/{hash}?fields=positions`) as typed structures, decoded in one pass.

msgspec decodes the bytes straight into these structures, in C, and skips every field the transforms do
not read (about half of a position's numbers). Numbers arrive as Decimal from their own text, so money is
exact. The leaves are typed `Any` on purpose: an odd value (a string where a number belongs, a boolean)
reaches the transforms as it was sent and gets their decided outcome instead of failing the decoding.

Only a broken structure fails the typed decoding: a document, account, position or instrument that is
not an object, or `positions` that is not a list. Such a document is parsed again generically and
converted leniently (`from_json`), so one broken position is skipped, not the whole account refused.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec


class Instrument(msgspec.Struct, gc=False):
    symbol: Any = None
    assetType: Any = None  # noqa: N815 - Schwab's field names, so the decoder maps them one to one
    type: Any = None
    description: Any = None
    cusip: Any = None
    optionMultiplier: Any = None  # noqa: N815
    putCall: Any = None  # noqa: N815
    underlyingSymbol: Any = None  # noqa: N815
    maturityDate: Any = None  # noqa: N815


class Position(msgspec.Struct, gc=False):
    instrument: Instrument | None = None
    longQuantity: Any = None  # noqa: N815
    shortQuantity: Any = None  # noqa: N815
    averagePrice: Any = None  # noqa: N815
    marketValue: Any = None  # noqa: N815
    longOpenProfitLoss: Any = None  # noqa: N815
    shortOpenProfitLoss: Any = None  # noqa: N815
    currentDayProfitLoss: Any = None  # noqa: N815
    currentDayProfitLossPercentage: Any = None  # noqa: N815
    maintenanceRequirement: Any = None  # noqa: N815


class SecuritiesAccount(msgspec.Struct):
    type: Any = None
    accountNumber: Any = None  # noqa: N815
    # None stands for an entry that is not an object (the transforms skip it).
    positions: list[Position | None] = msgspec.field(default_factory=list)
    currentBalances: Any = None  # noqa: N815


class Account(msgspec.Struct):
    securitiesAccount: SecuritiesAccount  # noqa: N815
    aggregatedBalance: Any = None  # noqa: N815


class MalformedAccount(ValueError):
    """The account document's shape is too broken to publish anything from it."""


_TYPED = msgspec.json.Decoder(Account, float_hook=Decimal)
_GENERIC = msgspec.json.Decoder(float_hook=Decimal)


def decode(data: bytes) -> Account:
    """The document, typed; MalformedAccount when its shape is broken, msgspec.DecodeError when it is not
    JSON at all."""
    try:
        return _TYPED.decode(data)
    except msgspec.ValidationError:  # valid JSON of an unexpected shape: read it the lenient way
        return from_json(_GENERIC.decode(data))


def from_json(data: Any) -> Account:
    """The document from already-parsed JSON (numbers Decimal or int), position by position."""
    securities = data.get("securitiesAccount") if isinstance(data, dict) else None
    if not isinstance(securities, dict):
        raise MalformedAccount("no securitiesAccount object")
    raw_positions = securities.get("positions", [])
    if not isinstance(raw_positions, list):
        raise MalformedAccount("positions is not a list")
    return Account(
        securitiesAccount=SecuritiesAccount(
            type=securities.get("type"),
            accountNumber=securities.get("accountNumber"),
            positions=[_position(raw) for raw in raw_positions],
            currentBalances=securities.get("currentBalances"),
        ),
        aggregatedBalance=data.get("aggregatedBalance"),
    )


def _position(raw: Any) -> Position | None:
    if not isinstance(raw, dict):
        return None
    instrument = raw.get("instrument")
    # Every leaf is Any, so only a non-object instrument could fail the conversion: it identifies nothing.
    return msgspec.convert(
        {**raw, "instrument": instrument if isinstance(instrument, dict) else None}, Position
    )
