"""The development-only, login-free OAuth views (test_views.py): 404 unless DEBUG and opted in."""

from __future__ import annotations

import pytest

from devtools.testing import consent, local
from LiveData.schwab.models import BrokerConnection

pytestmark = pytest.mark.django_db


def test_test_views_are_404_unless_debug_and_opt_in(client, settings, schwab):
    for debug, opt_in in ((False, False), (True, False), (False, True)):
        settings.DEBUG, settings.SCHWAB_ENABLE_TEST_VIEWS = debug, opt_in
        assert client.get("/schwab/test/oauth/start/").status_code == 404
        assert client.get("/schwab/test/oauth/callback/?code=x&state=y").status_code == 404


def test_test_views_bind_tokens_to_the_development_user(client, settings, schwab):
    settings.DEBUG = settings.SCHWAB_ENABLE_TEST_VIEWS = True
    callback = "https://127.0.0.1:8000/schwab/test/oauth/callback/"
    settings.SCHWAB_TEST_CALLBACK_URL = callback
    schwab.state.config.callback_urls = (*schwab.state.config.callback_urls, callback)
    start = client.get("/schwab/test/oauth/start/")
    assert start.status_code == 302
    response = client.get(local(consent(schwab, start["Location"])))
    assert response.status_code == 302
    stored = BrokerConnection.objects.get(user__username="schwab-dev")
    assert stored.status == "active"
