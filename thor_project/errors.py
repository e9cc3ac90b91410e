"""Site-wide error answers in the one JSON error shape: {"success": false, "error": code, "message": ...}.

Django calls these for what no view handled: a bad request (including a Host header not in
ALLOWED_HOSTS), a refused permission, a failed CSRF check, a missing page and an unhandled exception. No
exception text reaches the client; Django logs the 500s.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse


def _json_error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"success": False, "error": code, "message": message}, status=status)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _json_error(400, "bad_request", "The request could not be understood.")


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _json_error(403, "permission_denied", "You are not allowed to do this.")


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return _json_error(403, "csrf_failed", "The request was missing a valid CSRF token.")


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _json_error(404, "not_found", "Nothing is here.")


def server_error(request: HttpRequest) -> HttpResponse:
    return _json_error(500, "internal_error", "Something went wrong on our side. It has been logged.")
