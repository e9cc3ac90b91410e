"""Session-authenticated JSON views under /schwab/ for the Thor frontend."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET


@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """Answer that the service is up."""
    return JsonResponse({"success": True})
