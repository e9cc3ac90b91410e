"""The documents the pipeline publishes, pinned byte for byte, and held to the previous implementation.

Schwab's JSON goes in (the named fixtures, odd ones included, and the sandbox's accounts rendered at a fixed
moment, the 500-position one included); the exact text stored in Redis comes out. Two references:
- digests pinned in fixtures/published_digests.json (made by the implementation before issue 13);
- that implementation itself, frozen in devtools/previous_pipeline.py, run on the same input here, on
  the fixtures and on generated documents full of odd values.
After an intended change of the documents, regenerate the digests with THOR_UPDATE_PUBLISHED_DIGESTS=1 and
say why in the commit.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devtools import previous_pipeline
from devtools.sandbox.accounts import account_json
from devtools.sandbox.book import build_book
from LiveData.schwab.live_data import account_document, snapshots, transforms
from LiveData.shared import publisher

FIXTURES = Path(__file__).parents[1] / "fixtures"
DIGESTS = FIXTURES / "published_digests.json"
T0 = datetime(2026, 11, 25, 15, 30, tzinfo=UTC)
ACCOUNT_ID = "A" * 64
EDGE_FIXTURES = ("account_missing_fields", "account_positions_not_list", "account_no_securities_account")


def _inputs() -> dict[str, str]:
    """Schwab's account documents as text, by name."""
    names = ("account_margin", "account_cash", *EDGE_FIXTURES)
    texts = {name: (FIXTURES / f"{name}.json").read_text() for name in names}
    book = {user.username: user for user in build_book(1, T0.date())}
    for username in ("trader1", "bulk"):
        for account in book[username].accounts:
            document = account_json(account, T0, with_positions=True)
            texts[f"sandbox_{username}_{account.type.lower()}_{len(account.holdings)}"] = json.dumps(document)
    return texts


def published(data: bytes) -> dict[str, bytes]:
    """What the pipeline stores for one Schwab document, as the refresh computes it: each snapshot's text
    and its diff base. MalformedAccount when the document is refused."""
    account = transforms.parse_account(account_document.decode(data))
    built = snapshots.build(account_id=ACCOUNT_ID, account=account, as_of=T0, published_at=T0)
    texts: dict[str, bytes] = {}
    for snapshot in built:
        texts[snapshot.kind] = publisher.encode(snapshot.envelope)
        texts[f"{snapshot.kind}.diff"] = publisher.encode(snapshot.diff_map)
    return texts


def _outcome(produce: Any, data: bytes) -> dict[str, bytes] | str:
    """The texts, or the name of the refusal (the old and new MalformedAccount are different classes)."""
    try:
        return produce(data)  # type: ignore[no-any-return]
    except (account_document.MalformedAccount, previous_pipeline.MalformedAccount):
        return "refused"
    except ArithmeticError:  # the previous implementation's crash on numbers past exact arithmetic
        return "ArithmeticError"


def _previous(data: bytes) -> dict[str, bytes]:
    return previous_pipeline.published(data, account_id=ACCOUNT_ID, as_of=T0, published_at=T0)


def _digests() -> dict[str, str]:
    found = {}
    for name, source in _inputs().items():
        outcome = _outcome(published, source.encode())
        if isinstance(outcome, str):
            found[name] = outcome
            continue
        for part, text in outcome.items():
            found[f"{name}.{part}"] = f"{hashlib.sha256(text).hexdigest()} {len(text.decode())}"  # characters
    return found


def test_published_documents_are_byte_for_byte_what_they_were():
    found = _digests()
    if os.environ.get("THOR_UPDATE_PUBLISHED_DIGESTS") == "1":
        DIGESTS.write_text(json.dumps(found, indent=2, sort_keys=True) + "\n")
    pinned = json.loads(DIGESTS.read_text())
    assert any(name.startswith("sandbox_bulk_margin_500.") for name in pinned)  # the big one is pinned
    assert all(any(name.startswith(edge) for name in pinned) for edge in EDGE_FIXTURES)
    changed = sorted(name for name in pinned if found.get(name) != pinned[name])
    assert (changed, sorted(set(found) - set(pinned))) == ([], [])


@pytest.mark.parametrize("name", sorted(_inputs()))
def test_every_input_publishes_what_the_previous_implementation_published(name):
    data = _inputs()[name].encode()
    assert _outcome(published, data) == _outcome(_previous, data)


def test_money_in_the_published_text_is_decimal_strings_never_floats():
    document = json.loads(published(_inputs()["sandbox_bulk_margin_500"].encode())["positions"])
    assert len(document["positions"]) == 500
    for position in document["positions"]:
        for name in ("quantity", "current_price", "market_value", "average_price_per_unit"):
            assert position[name] is None or isinstance(position[name], str), (position["symbol"], name)


# Generated documents: the sandbox's kinds of positions with their values swapped for odd ones.
ODD_NUMBERS = st.sampled_from(
    ["0", "0.0", "-0.0", "100", "100.00", "1e2", "1E-7", "0.0000001", "-12.5", "1e30", "3", "0.10",
     "12345678901234567890.123456789", "2.5e-3", "true", "false", "null", '"12.00"', '"x"', "[]", "{}"]
)  # fmt: skip
POSITION_FIELDS = (
    "longQuantity",
    "shortQuantity",
    "averagePrice",
    "marketValue",
    "longOpenProfitLoss",
    "shortOpenProfitLoss",
    "currentDayProfitLoss",
    "currentDayProfitLossPercentage",
    "maintenanceRequirement",
)
INSTRUMENTS = st.sampled_from(
    [
        '{"assetType": "EQUITY", "symbol": "AAPL", "cusip": "037833100", "description": "APPLE INC"}',
        '{"assetType": "OPTION", "symbol": "SPY   261218P00505000", "optionMultiplier": 100.0}',
        '{"assetType": "OPTION", "symbol": "WEIRD", "optionMultiplier": 0}',
        '{"assetType": "FIXED_INCOME", "symbol": "912828ZZ1", "maturityDate": "2027-05-27T00:00:00Z"}',
        '{"assetType": "COLLECTIVE_INVESTMENT", "type": "EXCHANGE_TRADED_FUND", "symbol": "SPY"}',
        '{"assetType": "PRODUCT", "symbol": "/XYZ", "description": 5}',
    ]
    * 3
    + ['{"symbol": ""}', '{"symbol": 7}', "[]", '"text"', "null"]
)


@st.composite
def positions(draw: Any) -> str:
    if draw(st.integers(0, 19)) == 0:
        return str(draw(st.sampled_from(['"not a position"', "3", "null", "[]"])))
    fields = [f'"instrument": {draw(INSTRUMENTS)}']
    for name in POSITION_FIELDS:
        if draw(st.integers(0, 4)):  # mostly present
            fields.append(f'"{name}": {draw(ODD_NUMBERS)}')
    return "{" + ", ".join(fields) + "}"


@st.composite
def documents(draw: Any) -> bytes:
    balances = ", ".join(
        f'"{name}": {draw(ODD_NUMBERS)}'
        for name in ("liquidationValue", "cashBalance", "buyingPower", "cashAvailableForTrading", "equity")
        if draw(st.booleans())
    )
    listed = ", ".join(draw(st.lists(positions(), max_size=8)))
    kind = draw(st.sampled_from(['"MARGIN"', '"CASH"', '"IRA"', "null", "3"]))
    positions_value = draw(st.sampled_from([f"[{listed}]"] * 8 + ["null", "{}"]))
    securities = f'"type": {kind}, "accountNumber": "12345678", "positions": {positions_value}'
    return (
        f'{{"securitiesAccount": {{{securities}, "currentBalances": {{{balances}}}}},'
        f' "aggregatedBalance": {{"currentLiquidationValue": 5.5}}}}'
    ).encode()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_odd_documents_publish_what_the_previous_implementation_published(data):
    previous = _outcome(_previous, data)
    if previous == "ArithmeticError":  # it crashed the refresh; today the position is skipped
        assert isinstance(_outcome(published, data), dict)
    else:
        assert _outcome(published, data) == previous


def test_a_document_that_is_not_json_is_refused_by_both():
    for data in (b"", b"{", b"not json"):
        with pytest.raises(msgspec.DecodeError):
            account_document.decode(data)
        with pytest.raises(msgspec.DecodeError):
            _previous(data)


def test_numbers_arrive_exact_from_their_own_text():
    document = account_document.decode(
        b'{"securitiesAccount": {"positions": [{"instrument": {"symbol": "X"}, "longQuantity": 0.10}]}}'
    )
    position = document.securitiesAccount.positions[0]
    assert position is not None and position.longQuantity == Decimal("0.10")
    assert str(position.longQuantity) == "0.10"  # the text as sent, not a float's nearest value
