"""Login-free OAuth views for bootstrapping in development ONLY.

They answer 404 unless DEBUG and SCHWAB_ENABLE_TEST_VIEWS are both on. The tokens they obtain are bound
to the development user SCHWAB_TEST_VIEWS_USERNAME (default "schwab-dev"), created when missing, so a
developer can connect the sandbox or a personal Schwab app without a Thor login. Their callback is
SCHWAB_TEST_CALLBACK_URL, which must be registered with the Schwab app (the demo's sandbox registers it).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect

from LiveData.schwab.conf import schwab_settings
from LiveData.schwab.connection import flow, oauth, services
from LiveData.schwab.web.views import allow_methods, finish_connect, safe_next_url


def development_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not schwab_settings().test_views_enabled:
            raise Http404
        return view(request, *args, **kwargs)

    return wrapper


@development_only
@allow_methods("GET")
def oauth_start_test(request: HttpRequest) -> HttpResponse:
    conf = schwab_settings()
    next_url = safe_next_url(request, request.GET.get("next"))
    state = flow.begin(request.session, next_url=next_url, redirect_uri=conf.test_callback_url)
    return HttpResponseRedirect(oauth.authorization_url(state=state, redirect_uri=conf.test_callback_url))


@development_only
@allow_methods("GET")
def oauth_callback_test(request: HttpRequest) -> HttpResponse:
    return finish_connect(request, services.development_user(username=schwab_settings().test_views_username))
