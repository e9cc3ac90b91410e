"""The documents the pipeline publishes, pinned byte for byte.

Schwab's JSON goes in (the named fixtures, and the sandbox's accounts rendered at a fixed moment, the
500-position one included); the exact text stored in Redis comes out. A faster pipeline (issue 13) must
publish the same bytes: this test fails on any difference. After an intended change of the documents,
regenerate the digests with THOR_UPDATE_PUBLISHED_DIGESTS=1 and say why in the commit.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path

from devtools.sandbox.accounts import account_json
from devtools.sandbox.book import build_book
from LiveData.schwab import client, snapshots, transforms
from LiveData.shared import publisher

FIXTURES = Path(__file__).parent / "fixtures"
DIGESTS = FIXTURES / "published_digests.json"
T0 = datetime(2026, 11, 25, 15, 30, tzinfo=UTC)


def _inputs() -> dict[str, str]:
    """Schwab's account documents as text, by name."""
    texts = {name: (FIXTURES / f"{name}.json").read_text() for name in ("account_margin", "account_cash")}
    book = {user.username: user for user in build_book(1, T0.date())}
    for username in ("trader1", "bulk"):
        for account in book[username].accounts:
            document = account_json(account, T0, with_positions=True)
            texts[f"sandbox_{username}_{account.type.lower()}_{len(account.holdings)}"] = json.dumps(document)
    return texts


def _published(text: str) -> dict[str, str]:
    """What the pipeline stores for one Schwab document: each snapshot's text and its diff base."""
    account = transforms.parse_account(client.parse_json(text.encode()))  # parsed as the client parses
    built = snapshots.build(account_id="A" * 64, account=account, as_of=T0, published_at=T0)
    stored: dict[str, str] = {}
    for snapshot in built:
        stored[snapshot.kind] = publisher._dumps(snapshot.envelope)
        stored[f"{snapshot.kind}.diff"] = publisher._dumps(snapshot.diff_map)
    return stored


def _digests() -> dict[str, str]:
    return {
        f"{name}.{part}": f"{hashlib.sha256(text.encode()).hexdigest()} {len(text)}"
        for name, source in _inputs().items()
        for part, text in _published(source).items()
    }


def test_published_documents_are_byte_for_byte_what_they_were():
    found = _digests()
    if os.environ.get("THOR_UPDATE_PUBLISHED_DIGESTS") == "1":
        DIGESTS.write_text(json.dumps(found, indent=2, sort_keys=True) + "\n")
    pinned = json.loads(DIGESTS.read_text())
    assert any(name.startswith("sandbox_bulk_margin_500.") for name in pinned)  # the big one is pinned
    changed = sorted(name for name in pinned if found.get(name) != pinned[name])
    assert (changed, sorted(set(found) - set(pinned))) == ([], [])


def test_money_in_the_published_text_is_decimal_strings_never_floats():
    document = json.loads(_published(_inputs()["sandbox_bulk_margin_500"])["positions"])
    assert len(document["positions"]) == 500
    for position in document["positions"]:
        for name in ("quantity", "current_price", "market_value", "average_price_per_unit"):
            assert position[name] is None or isinstance(position[name], str), (position["symbol"], name)
