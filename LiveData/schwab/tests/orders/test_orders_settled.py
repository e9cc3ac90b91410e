"""Order requests whose process died mid-call are settled by a periodic task, by the reconciliation a retry
would do, never by sending again (a gunicorn server killed with SIGKILL while Schwab holds the answer)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections import Counter

import pytest
import requests
from django.contrib.auth.models import Permission, User

from devtools.testing import eventually, fault
from LiveData.schwab.models import OrderRequest
from LiveData.schwab.tests.servers import ROOT, connect, logged_in_session, thor_server

pytestmark = pytest.mark.django_db(transaction=True)
CSRF = "c" * 32
TICKET = '{"symbol": "KO", "instruction": "buy", "quantity": 1, "limit_price": "1.00"}'


def _settle(environment: dict[str, str]) -> str:
    """The periodic task, run as cron would: `manage.py schwab_settle_orders` in a process of its own."""
    result = subprocess.run(
        [sys.executable, "manage.py", "schwab_settle_orders"],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "thor_project.settings", **environment},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.parametrize(
    ("fault_kind", "settled_as"),
    [("accept_then_hang", "placed"), ("hang", "not_placed")],  # Schwab placed it / never got it
)
def test_a_request_left_sending_by_a_killed_server_is_settled_never_resent(
    fault_kind, settled_as, servers_environment, schwab, tmp_path
):
    environment = {
        **servers_environment,
        "SCHWAB_TRADING_ENABLED": "true",
        "SCHWAB_ORDER_RECONCILE_GRACE_SECONDS": "0",  # past the grace at once: nothing waits on a clock
    }
    tess = User.objects.create_user("tess")
    tess.user_permissions.add(Permission.objects.get(codename="trade", content_type__app_label="schwab"))
    session = logged_in_session(tess)
    session.cookies.set("csrftoken", CSRF)
    with thor_server(environment, log=tmp_path / "server.log") as server:
        connect(server, session, schwab)
        account_id = schwab.state.users["trader1"].accounts[0].hash_value
        fault(schwab, kind=fault_kind, count=1, path_prefix=f"/trader/v1/accounts/{account_id}/orders")

        def place() -> None:
            headers = {"X-CSRFToken": CSRF, "Idempotency-Key": "k1", "Content-Type": "application/json"}
            url = f"{server.url}/schwab/accounts/{account_id}/orders/"
            with contextlib.suppress(requests.ConnectionError):  # the server dies under it
                session.post(url, data=TICKET, headers=headers, timeout=60)

        client = threading.Thread(target=place)
        client.start()
        eventually(lambda: OrderRequest.objects.filter(idempotency_key="k1", state="sending").exists())
        eventually(lambda: schwab.state.calls["orders.place"] == 1)  # at Schwab, its answer held back
        eventually(lambda: len(schwab.state.orders) == (1 if settled_as == "placed" else 0))
        os.killpg(server.pid, signal.SIGKILL)  # master and worker, mid-call
        client.join(timeout=60)

    row = OrderRequest.objects.get(idempotency_key="k1")
    assert (row.state, row.order_id) == ("sending", "")  # what the dead process left
    assert _settle(environment) == f"settled 1 order request(s) ({settled_as}: 1)"
    row.refresh_from_db()
    assert row.state == settled_as
    placed = list(schwab.state.orders)
    assert row.order_id == (str(placed[0]) if settled_as == "placed" else "")
    assert schwab.state.calls["orders.place"] == 1  # reconciled, never sent again
    assert _settle(environment) == "settled 0 order request(s) (none due)"
    assert Counter(r.state for r in OrderRequest.objects.all()) == Counter({settled_as: 1})
