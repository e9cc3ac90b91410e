"""The one place that renders the Schwab app's errors (SchwabError subclasses); the site-wide 400, 403,
404, 500 and CSRF answers, in the same JSON shape, are thor_project.errors'.

JSON for API callers; a small HTML page for browser navigations (the OAuth start and callback), so a
trader who declines at Schwab sees a sentence, not a JSON blob. No exception text ever reaches a client.
"""

from __future__ import annotations

import logging
from functools import cache

import redis
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.deprecation import MiddlewareMixin

from LiveData.schwab.exceptions import (
    DatabaseUnavailable,
    InternalError,
    MethodNotAllowed,
    NotFound,
    RedisUnavailable,
    SchwabError,
)
from LiveData.schwab.web.api_types import Error, respond

logger = logging.getLogger(__name__)

BROWSER_VIEWS = frozenset({"oauth_start", "oauth_callback", "oauth_start_test", "oauth_callback_test"})


@cache
def _api_prefix() -> str:
    """Where the app's routes start ("/schwab/")."""
    return reverse("schwab:openapi").removesuffix("openapi.json")


def _wants_page(request: HttpRequest) -> bool:
    match = request.resolver_match
    return bool(
        match and match.url_name in BROWSER_VIEWS and "text/html" in request.headers.get("Accept", "")
    )


def render_error(request: HttpRequest, error: SchwabError) -> HttpResponse:
    payload = error.payload()
    if _wants_page(request):
        html = render_to_string(
            "schwab/oauth_error.html",
            {"message": error.detail, "code": error.code, "retry_url": reverse("schwab:oauth_start")},
            request=request,
        )
        return HttpResponse(html, status=error.status)
    response = respond(Error, payload, status=error.status)
    retry_after = payload.get("retry_after")
    if retry_after is not None:
        response["Retry-After"] = str(max(1, round(float(retry_after))))
    if isinstance(error, MethodNotAllowed):
        response["Allow"] = ", ".join(error.allowed)
    return response


# Our own services gone (not a bug): under /schwab/, a 503 with a stable code rather than a 500.
SERVICES_GONE: tuple[tuple[tuple[type[Exception], ...], type[SchwabError]], ...] = (
    ((OperationalError, InterfaceError), DatabaseUnavailable),
    ((redis.RedisError,), RedisUnavailable),
)


class SchwabErrorMiddleware(MiddlewareMixin):
    """Turn a raised SchwabError into its response, and under /schwab/ the database or Redis gone into a
    503; anything else goes on to Django's 500 handling. Sync and async capable, so the ASGI order stream
    runs on the event loop, not on a thread."""

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, SchwabError):
            return render_error(request, exception)
        match = request.resolver_match
        if match is None or match.namespace != "schwab":
            return None
        for kinds, error in SERVICES_GONE:
            if isinstance(exception, kinds):
                logger.warning("%s %s: %s", request.method, match.url_name, type(exception).__name__)
                return render_error(request, error())
        return None

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        """With DEBUG on, Django answers a missing page or a crash with its HTML debug page, whatever the
        path; under /schwab/ the answer stays JSON, as it is with DEBUG off."""
        if response.status_code not in (404, 500) or not request.path.startswith(_api_prefix()):
            return response
        if not response.get("Content-Type", "").startswith("text/html") or _wants_page(request):
            return response
        return render_error(request, NotFound() if response.status_code == 404 else InternalError())
