"""Routes under /schwab/. Names and paths are part of the public contract (see the design notes)."""

from django.urls import path

from LiveData.schwab import test_views, views

app_name = "schwab"

urlpatterns = [
    # OAuth flow
    path("oauth/start/", views.oauth_start, name="oauth_start"),
    path("oauth/callback/", views.oauth_callback, name="oauth_callback"),
    path("oauth/status/", views.oauth_status, name="oauth_status"),
    path("oauth/disconnect/", views.oauth_disconnect, name="oauth_disconnect"),
    # Health
    path("health/", views.health, name="health"),
    # Development only: 404 unless DEBUG and SCHWAB_ENABLE_TEST_VIEWS are both on (see test_views.py).
    path("test/oauth/start/", test_views.oauth_start_test, name="oauth_start_test"),
    path("test/oauth/callback/", test_views.oauth_callback_test, name="oauth_callback_test"),
]
