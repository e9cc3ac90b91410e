"""The documented servers never log the OAuth callback's query (Schwab's authorization code)."""

from __future__ import annotations

import pytest
import requests

from LiveData.schwab.tests.servers import thor_server

pytestmark = pytest.mark.django_db(transaction=True)
CODE = "C0.b2FjZS1zZWNyZXQtY29kZQ%40"


def test_gunicorn_logs_the_callback_s_path_but_not_its_code(servers_environment, tmp_path):
    with thor_server(servers_environment, log=tmp_path / "gunicorn.log") as server:
        answer = requests.get(
            f"{server.url}/schwab/oauth/callback/?code={CODE}&session=s-1&state=st-1", timeout=30
        )
        assert answer.status_code == 401  # nobody is logged in: refused before anything is spent
    log = (tmp_path / "gunicorn.log").read_text()
    assert '"GET /schwab/oauth/callback/ HTTP/1.1" 401' in log  # the request is logged ...
    assert "C0.b2Fj" not in log and "code=" not in log and "st-1" not in log  # ... without its query
