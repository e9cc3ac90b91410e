"""Routes under /schwab/. Names and paths are part of the public contract (see the design notes)."""

from django.urls import path

from LiveData.schwab.web import test_views, views

app_name = "schwab"

urlpatterns = [
    # OAuth flow
    path("oauth/start/", views.oauth_start, name="oauth_start"),
    path("oauth/callback/", views.oauth_callback, name="oauth_callback"),
    path("oauth/status/", views.oauth_status, name="oauth_status"),
    path("oauth/disconnect/", views.oauth_disconnect, name="oauth_disconnect"),
    # Account management
    path("accounts/", views.list_accounts, name="list_accounts"),
    path("accounts/<str:account_id>/positions/", views.get_positions, name="get_positions"),
    path("accounts/<str:account_id>/balances/", views.get_balances, name="get_balances"),
    path("accounts/<str:account_id>/positions/latest/", views.latest_positions, name="latest_positions"),
    # Orders, and quotes for the order ticket
    path("quotes/", views.quotes_list, name="quotes"),
    path("orders/stream/", views.orders_stream, name="orders_stream"),
    path("accounts/<str:account_id>/orders/preview/", views.order_preview, name="order_preview"),
    path("accounts/<str:account_id>/orders/", views.account_orders, name="orders"),
    path("accounts/<str:account_id>/orders/<str:order_id>/", views.account_order, name="order"),
    # Account summary for the frontend
    path("account/summary/", views.account_summary, name="account_summary"),
    # Health and the API's contract
    path("health/", views.health, name="health"),
    path("openapi.json", views.openapi_document, name="openapi"),
    # Development only: 404 unless DEBUG and SCHWAB_ENABLE_TEST_VIEWS are both on (see test_views.py).
    path("test/oauth/start/", test_views.oauth_start_test, name="oauth_start_test"),
    path("test/oauth/callback/", test_views.oauth_callback_test, name="oauth_callback_test"),
]
