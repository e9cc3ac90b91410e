"""The project's URLs plus two yardsticks for the summary endpoint: /bench/bare/ (a bare Django JSON view)
and /bench/bare-authenticated/ (the same, after Django's session login check, as every /schwab/ API does)."""

from django.http import HttpRequest, JsonResponse
from django.urls import path

from thor_project.urls import urlpatterns as project_urlpatterns

BARE = {
    "success": True,
    "account_hash": "0" * 64,
    "summary": {"net_liquidation_value": "208819.33", "buying_power": "331953.12", "cash": "52748.28"},
}


def bare(request: HttpRequest) -> JsonResponse:
    return JsonResponse(BARE)


def bare_authenticated(request: HttpRequest) -> JsonResponse:
    if not request.user.is_authenticated:
        return JsonResponse({"error": "not_authenticated"}, status=401)
    return JsonResponse(BARE)


urlpatterns = [
    *project_urlpatterns,
    path("bench/bare/", bare),
    path("bench/bare-authenticated/", bare_authenticated),
]
