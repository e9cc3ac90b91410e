"""The Schwab dashboard: a small page built only on the public /schwab/ endpoints.

It polls (rather than streaming server-sent events): the summary endpoint is served from Redis and is
cheap, polling works behind any WSGI server and proxy without holding a worker per open page, and when
the summary's `as_of` moves the page fetches the newly published positions snapshot.
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
