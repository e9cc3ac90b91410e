"""Site-wide errors answer JSON in the one error shape, with no exception text."""

from __future__ import annotations

import pytest


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "extra", "status", "code"),
    [
        ("/schwab/health/", {"HTTP_HOST": "evil.example"}, 400, "bad_request"),  # Host not allowed
        ("/schwab/no-such-endpoint/", {}, 404, "not_found"),
    ],
)
def test_what_no_view_handles_is_json(client, path, extra, status, code):
    response = client.get(path, **extra)
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"success": False, "error": code, "message": response.json()["message"]}
    assert "evil.example" not in response.content.decode()


def test_an_unhandled_error_is_a_json_500_without_its_text(client, monkeypatch):
    from LiveData.shared import reader

    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(reader, "oldest_publish", broken)
    client.raise_request_exception = False
    response = client.get("/schwab/health/")
    assert (response.status_code, response.json()["error"]) == (500, "internal_error")
    assert "secret internals" not in response.content.decode()
