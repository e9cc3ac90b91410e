"""The page's live channel, GET /schwab/orders/stream/: besides order events, the states of the accounts the
user owns (positions, balances, the summary card) as they are published, and the connection's state.
A stream starts with the current states, so resuming never leaves it behind; another user's account is
never sent; a login needing renewal is pushed at once; a lost subscription loses nothing."""

from __future__ import annotations

import contextlib
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import fakeredis
import pytest
from asgiref.sync import async_to_sync
from django.db import OperationalError
from django.db import connection as db_connection

from LiveData.schwab.connection import services
from LiveData.schwab.exceptions import SchwabReauthRequired
from LiveData.schwab.live_data import account_document, selectors, snapshots, transforms
from LiveData.schwab.models import BrokerConnection
from LiveData.schwab.streaming import live_state
from LiveData.schwab.tests.conftest import MINE, THEIRS
from LiveData.schwab.tests.streaming.test_views_order_stream import read, refused_at_once
from LiveData.schwab.tests.web.test_openapi import _validator
from LiveData.schwab.web import openapi_schemas
from LiveData.shared import clock, publisher

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).parents[1] / "fixtures"

Frames = list[dict[str, str]]


def publish(account: str, quantity: str, *, seconds: int = 0) -> None:
    """Positions and balances of the account, as the refresh publishes them (one round trip), from a real
    Schwab account document whose first position holds `quantity` and whose net liquidation value is
    `quantity` thousand."""
    document = json.loads((FIXTURES / "account_margin.json").read_text())
    details = document["securitiesAccount"]
    details["positions"][0]["longQuantity"] = int(quantity)
    details["currentBalances"]["liquidationValue"] = int(quantity) * 1000
    parsed = transforms.parse_account(account_document.decode(json.dumps(document).encode()))
    at = clock.now() + timedelta(seconds=seconds)
    publisher.publish(
        snapshots=snapshots.build(account_id=account, account=parsed, as_of=at, published_at=at)
    )


def conform(seen: Frames) -> None:
    """Each event's data is what the OpenAPI document says that event carries."""
    for frame in seen:
        if "event" in frame:
            assert frame["event"] in openapi_schemas.LIVE_EVENTS
            frame_schema = f"/components/schemas/{openapi_schemas.frame_name(frame['event'])}"
            pointer = f"{frame_schema}/properties/data/contentSchema"
            _validator(pointer).validate(json.loads(frame["data"]))


def after_ready(seen: Frames) -> Frames:
    ready = next((index for index, frame in enumerate(seen) if frame.get("event") == "ready"), len(seen))
    return seen[ready + 1 :]


def quantities(seen: Frames) -> list[tuple[str, str]]:
    return [
        (json.loads(frame["data"])["account_id"], json.loads(frame["data"])["positions"][0]["long_quantity"])
        for frame in seen
        if frame.get("event") == "positions"
    ]


def ready_seen(seen: Frames) -> bool:
    return any(frame.get("event") == "ready" for frame in seen)


def test_a_stream_starts_with_the_current_states_of_the_users_accounts(owner):
    publish(MINE, "10")
    publish(THEIRS, "99")
    seen = async_to_sync(read)(owner, until=ready_seen)
    events = [frame.get("event") for frame in seen if "event" in frame]
    assert events == ["positions", "balances", "summary", "connection", "ready"]
    assert quantities(seen) == [(MINE, "10")]
    card = json.loads(next(frame["data"] for frame in seen if frame.get("event") == "summary"))
    assert card["account_id"] == MINE and card["summary"]["display"]["net_liquidation_value"] == "$10,000.00"
    connection = json.loads(next(frame["data"] for frame in seen if frame.get("event") == "connection"))
    assert connection == {"connected": False, "status": "not_connected"}
    assert THEIRS not in "".join(frame.get("data", "") + frame.get("id", "") for frame in seen)
    assert all("id" in frame for frame in seen if frame.get("event") in ("positions", "summary"))
    conform(seen)


def test_each_publish_of_an_owned_account_is_pushed_and_no_other(owner):
    def trade() -> None:
        publish(MINE, "12", seconds=1)
        publish(THEIRS, "98", seconds=1)
        publish(MINE, "13", seconds=2)

    def both_at_13(seen: Frames) -> bool:
        live = after_ready(seen)
        return (MINE, "13") in quantities(live) and '"13000"' in "".join(
            frame["data"] for frame in live if frame.get("event") == "summary"
        )

    seen = async_to_sync(read)(owner, until=both_at_13, during=trade)
    live = after_ready(seen)
    # Each state once, never an older after a newer; publishes faster than the hand-out skip to the newest.
    pushed = [quantity for _, quantity in quantities(live)]
    assert pushed in (["12", "13"], ["13"])
    cards = [json.loads(frame["data"]) for frame in live if frame.get("event") == "summary"]
    assert [card["summary"]["net_liquidation_value"] for card in cards] in (
        ["12000", "13000"],
        ["13000"],
    )
    assert THEIRS not in "".join(frame.get("data", "") for frame in live)
    conform(seen)


def test_resuming_starts_with_what_was_published_while_away(owner):
    publish(MINE, "10")
    first = async_to_sync(read)(owner, until=ready_seen)
    ready = next(frame for frame in first if frame.get("event") == "ready")
    publish(MINE, "20", seconds=1)  # while the browser is away: its notification reached nobody
    resumed = async_to_sync(read)(owner, until=ready_seen, last_event_id=ready["id"])
    assert quantities(resumed) == [(MINE, "20")]


def test_a_stale_marking_is_pushed(owner):
    publish(MINE, "10")

    def schwab_fails() -> None:
        publisher.mark_stale(account_id=MINE, reason="schwab_unavailable", at=clock.now())

    seen = async_to_sync(read)(
        owner,
        until=lambda seen: any(frame.get("event") == "summary" for frame in after_ready(seen)),
        during=schwab_fails,
    )
    card = json.loads(next(frame["data"] for frame in after_ready(seen) if frame.get("event") == "summary"))
    assert card["summary"]["stale"] is True and card["summary"]["stale_reason"] == "schwab_unavailable"


def test_an_older_state_never_follows_a_newer_one():
    sent: dict[tuple[str, str], str] = {}
    newer = live_state.State("positions", MINE, "2026-12-06T10:00:01.000000Z", "{}")
    older = live_state.State("positions", MINE, "2026-12-06T10:00:00.000000Z", "{}")
    assert live_state.newer(newer, sent) and not live_state.newer(older, sent)
    assert not live_state.newer(newer, sent)  # the same one again: already sent
    marked = newer._replace(version=newer.version + "~stale")
    assert live_state.newer(marked, sent)  # the same snapshot, marked stale since


# The connection's state is read on the stream's own thread: the rows must be committed.
@pytest.mark.django_db(transaction=True)
def test_a_login_needing_renewal_is_pushed_at_once(real_redis, connected, thor_clock, settings):
    settings.THOR_SSE_HEARTBEAT_SECONDS = 3600  # only the ownership notification can explain a push

    def refresh_token_dies() -> None:
        thor_clock.advance(days=8)
        connection = BrokerConnection.objects.get(user=connected)
        with contextlib.suppress(SchwabReauthRequired):
            services.connection_refresh(connection=connection, force=True)
        db_connection.close()

    def elsewhere() -> None:  # the database work on a thread, as another request's would be
        with ThreadPoolExecutor(1) as other:
            other.submit(refresh_token_dies).result()

    def renewal_needed(seen: Frames) -> bool:
        return any(
            json.loads(frame["data"])["status"] == "reauth_required"
            for frame in after_ready(seen)
            if frame.get("event") == "connection"
        )

    seen = async_to_sync(read)(connected, until=renewal_needed, during=elsewhere)
    first = json.loads(next(frame["data"] for frame in seen if frame.get("event") == "connection"))
    assert first["status"] == "active" and first["refresh_token_expires_at"]
    assert renewal_needed(seen)
    conform(seen)


def test_after_losing_its_subscription_the_channel_sends_every_state_anew(owner, store):
    if isinstance(store, fakeredis.FakeRedis):
        pytest.skip("needs the real Redis (CLIENT KILL)")
    publish(MINE, "10")

    def subscription_lost_then_a_publish() -> None:
        store.client_kill_filter(_type="pubsub")
        publish(MINE, "11", seconds=1)  # while the hub is resubscribing: nobody hears its notification

    seen = async_to_sync(read)(
        owner,
        until=lambda seen: (MINE, "11") in quantities(after_ready(seen)),
        during=subscription_lost_then_a_publish,
    )
    assert (MINE, "11") in quantities(after_ready(seen))


def test_the_database_down_before_the_stream_starts_is_a_503_in_the_error_shape(owner, monkeypatch):
    def down(**_: Any) -> Any:
        raise OperationalError('connection to server at "127.0.0.1", port 5432 failed: Connection refused')

    monkeypatch.setattr(selectors, "connection_status", down)
    answer = refused_at_once(owner)
    assert answer.status_code == 503
    assert answer.json()["error"] == "database_unavailable" and "5432" not in answer.content.decode()
