"""Site-wide error answers in the one JSON error shape, rendered by the one renderer
(LiveData.schwab.web.errors.render_error): {"success": false, "error": code, "message": ...}.

Django calls these for what no view handled: a bad request (including a Host header not in
ALLOWED_HOSTS), a refused permission, a failed CSRF check, a missing page and an unhandled exception. No
exception text reaches the client; Django logs the 500s.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from LiveData.schwab.exceptions import BadRequest, CsrfFailed, InternalError, NotFound, PermissionDenied
from LiveData.schwab.web.errors import render_error


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render_error(request, BadRequest())


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render_error(request, PermissionDenied())


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return render_error(request, CsrfFailed())


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render_error(request, NotFound())


def server_error(request: HttpRequest) -> HttpResponse:
    return render_error(request, InternalError())
