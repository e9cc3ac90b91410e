"""The admin: connections listed with state and expiries, never a token; refresh and disconnect actions."""

from __future__ import annotations

import pytest

from devtools.testing import APP_SECRET, raw_tokens
from LiveData.schwab.models import BrokerConnection

pytestmark = pytest.mark.django_db


def test_admin_lists_and_shows_connections_without_tokens(connected, admin_client):
    stored = BrokerConnection.objects.get(user=connected)
    listing = admin_client.get("/admin/schwab/brokerconnection/")
    detail = admin_client.get(f"/admin/schwab/brokerconnection/{stored.pk}/change/")
    assert listing.status_code == detail.status_code == 200
    assert "active" in listing.content.decode()
    for page in (listing, detail):
        text = page.content.decode()
        for secret in (stored.access_token, stored.refresh_token, *raw_tokens(), APP_SECRET):
            assert secret not in text


def test_admin_actions_refresh_and_disconnect(connected, admin_client, schwab):
    stored = BrokerConnection.objects.get(user=connected)
    url = "/admin/schwab/brokerconnection/"
    admin_client.post(url, {"action": "force_refresh", "_selected_action": [stored.pk]})
    assert schwab.state.token_grants["refresh_token"] == 1
    admin_client.post(url, {"action": "disconnect", "_selected_action": [stored.pk]})
    assert BrokerConnection.objects.get(pk=stored.pk).status == "disconnected"


def test_the_order_audit_trail_is_read_only_in_the_admin(connected, admin_client, settings, browser):
    from LiveData.schwab.models import OrderRequest

    settings.SCHWAB_TRADING_ENABLED = False
    account = browser.get("/schwab/accounts/").json()["accounts"][0]["account_id"]
    browser.post(f"/schwab/accounts/{account}/orders/", "{}", content_type="application/json")
    row = OrderRequest.objects.get()
    listing = admin_client.get("/admin/schwab/orderrequest/")
    assert listing.status_code == 200 and "trading_disabled" in listing.content.decode()
    page = admin_client.get(f"/admin/schwab/orderrequest/{row.pk}/change/")
    assert page.status_code == 200 and 'name="state"' not in page.content.decode()  # nothing editable
    assert admin_client.post(f"/admin/schwab/orderrequest/{row.pk}/delete/").status_code == 403
    assert admin_client.get("/admin/schwab/orderrequest/add/").status_code == 403
    assert OrderRequest.objects.count() == 1
