"""Bad order input, as an attacker sends it: every request is answered with a stable code (never a 500),
leaves one bounded audit row (the normalized ticket, never the raw body), and reaches nothing upstream."""

from __future__ import annotations

import json
import uuid

import pytest

from LiveData.schwab.models import OrderRequest

pytestmark = pytest.mark.django_db

LIMIT_BUY = '{"symbol": "AAPL", "instruction": "buy", "quantity": 10, "limit_price": "150.00"}'


def _post(browser, path: str, body: bytes | str, method: str = "post"):
    if method == "get":
        return browser.get(path)
    send = getattr(browser, method)
    return send(path, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex)


def _sent(schwab) -> int:
    calls = schwab.state.calls
    return int(calls["orders.place"] + calls["orders.replace"] + calls["orders.preview"])


def _largest_audit_row() -> int:
    """The size of the largest stored ticket and answer, in characters."""
    rows = OrderRequest.objects.values_list("ticket", "response")
    sizes = [len(json.dumps(ticket)) + len(json.dumps(response)) for ticket, response in rows]
    return int(max(sizes, default=0))


def test_a_large_body_is_413_before_any_check_and_stores_nothing_of_it(browser, schwab, connected, settings):
    """A user who may not trade sends 2.4 MB ten times: 413 each time, ten small audit rows."""
    settings.SCHWAB_TRADING_ENABLED = True  # the user lacks the permission
    body = json.dumps({"symbol": "AAPL", "padding": "x" * 2_400_000})
    answers = [_post(browser, "/schwab/accounts/any/orders/", body) for _ in range(10)]
    assert {(a.status_code, a.json()["error"]) for a in answers} == {(413, "request_too_large")}
    assert OrderRequest.objects.filter(error_code="request_too_large").count() == 10
    assert _largest_audit_row() < 1024
    assert _sent(schwab) == 0


def test_a_refused_ticket_is_audited_normalized_not_as_sent(browser, schwab, connected, settings):
    """No permission: the audit row holds the ticket as Thor reads it, not the client's extra fields."""
    settings.SCHWAB_TRADING_ENABLED = True
    ticket = {"symbol": "aapl", "instruction": "buy", "quantity": 10, "limit_price": "150.00"}
    answer = _post(browser, "/schwab/accounts/any/orders/", json.dumps(ticket))
    assert (answer.status_code, answer.json()["error"]) == (403, "trading_not_permitted")
    row = OrderRequest.objects.get()
    assert row.ticket["symbol"] == "AAPL" and row.ticket["order_type"] == "limit"


BAD_BODIES = {
    "a superscript two as the quantity": '{"symbol": "AAPL", "instruction": "buy", "quantity": "²",'
    ' "limit_price": "1.00"}',
    "a bare NaN": '{"symbol": "AAPL", "instruction": "buy", "quantity": 1, "limit_price": NaN}',
    "a bare Infinity": '{"symbol": "AAPL", "instruction": "buy", "quantity": Infinity, "limit_price": "1"}',
    "a NUL in the symbol": '{"symbol": "AA\\u0000PL", "instruction": "buy", "quantity": 1,'
    ' "limit_price": "1.00"}',
    "a NUL in a field's name": '{"symbol": "AAPL", "instruction": "buy", "quantity": 1,'
    ' "limit_price": "1.00", "x\\u0000": 1}',
    "nesting 5,000 deep": "[" * 5000 + "]" * 5000,
    "not UTF-8": b'{"symbol": "\xff"}',
    "an exponent price": '{"symbol": "AAPL", "instruction": "buy", "quantity": 1,'
    ' "limit_price": "1E-999999999"}',
    "an exponent number": '{"symbol": "AAPL", "instruction": "buy", "quantity": 1, "limit_price": 1e2}',
    "a price with too many digits": '{"symbol": "AAPL", "instruction": "buy", "quantity": 1,'
    ' "limit_price": "150.000000000000000000000000001"}',
}


@pytest.mark.parametrize("what", list(BAD_BODIES))
@pytest.mark.parametrize("path", ["orders/", "orders/preview/", "orders/1000000001/"])
def test_bad_input_is_400_and_audited(what, path, browser, schwab, trading):
    method = "put" if path[-2].isdigit() else "post"
    answer = _post(browser, f"/schwab/accounts/{trading}/{path}", BAD_BODIES[what], method)
    assert (answer.status_code, answer.json()["error"]) == (400, "invalid_ticket"), answer.content
    assert OrderRequest.objects.filter(state="refused", error_code="invalid_ticket").count() == 1
    assert _sent(schwab) == 0


def test_nesting_100000_deep_is_too_large(browser, schwab, trading):
    answer = _post(browser, f"/schwab/accounts/{trading}/orders/", "[" * 100_000 + "]" * 100_000)
    assert (answer.status_code, answer.json()["error"]) == (413, "request_too_large")
    assert OrderRequest.objects.filter(error_code="request_too_large").count() == 1


@pytest.mark.parametrize("order_id", ["1" * 33, "12345678901234567890123", "abc", "1%00"])
@pytest.mark.parametrize("method", ["put", "delete", "get"])
def test_a_malformed_order_id_is_400(order_id, method, browser, schwab, trading):
    answer = _post(browser, f"/schwab/accounts/{trading}/orders/{order_id}/", LIMIT_BUY, method)
    assert (answer.status_code, answer.json()["error"]) == (400, "invalid_order_id"), answer.content
    audited = OrderRequest.objects.filter(error_code="invalid_order_id").count()
    assert audited == (0 if method == "get" else 1)  # reads are not order requests
    assert schwab.state.calls["orders.get"] + _sent(schwab) + schwab.state.calls["orders.cancel"] == 0


def test_a_nul_in_the_account_id_is_answered_and_audited(browser, schwab, trading):
    answer = _post(browser, "/schwab/accounts/A%00B/orders/", LIMIT_BUY)
    assert (answer.status_code, answer.json()["error"]) == (404, "account_not_found")
    assert OrderRequest.objects.filter(error_code="account_not_found").count() == 1


@pytest.mark.parametrize("key", ["k" * 256, "tab\tinside", "é-unicode"])
def test_an_unusable_idempotency_key_is_400(key, browser, schwab, trading):
    answer = browser.post(
        f"/schwab/accounts/{trading}/orders/",
        LIMIT_BUY,
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY=key,
    )
    assert (answer.status_code, answer.json()["error"]) == (400, "idempotency_key_required")
    assert _sent(schwab) == 0
