"""The Schwab dashboard: a small page built only on the public /schwab/ endpoints.

It lives on one channel, the server-sent events of /schwab/orders/stream/ (order status, the accounts'
positions, balances and summary, the connection's state): while that is open the page makes no other
request of its own. Where the channel is not available (a WSGI-only server, an old browser) it polls
instead: the summary is served from Redis and is cheap, and when its `as_of` moves the page fetches the
newly published positions snapshot.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    config = {"poll_ms": int(settings.THOR_DASHBOARD_POLL_SECONDS * 1000), "next": request.path}
    return render(request, "dashboard.html", {"config": config})
