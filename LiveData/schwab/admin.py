"""Admin for broker connections: status and expiries, never a token."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from LiveData.schwab import services
from LiveData.schwab.exceptions import SchwabError
from LiveData.schwab.models import BrokerConnection


@admin.register(BrokerConnection)
class BrokerConnectionAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = (
        "user",
        "broker",
        "state",
        "access_token_expires_at",
        "refresh_token_expires_at",
        "last_refreshed_at",
        "last_error_code",
    )
    list_filter = ("broker", "status")
    search_fields = ("user__username",)
    # The token fields are left out entirely: not shown, not editable, not in any form.
    fields = (
        "user",
        "broker",
        "status",
        "state",
        "logged_in_at",
        "access_token_expires_at",
        "refresh_token_expires_at",
        "last_refreshed_at",
        "last_error_code",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields
    actions = ("force_refresh", "disconnect")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # connections come from the OAuth flow only

    @admin.display(description="State")
    def state(self, connection: BrokerConnection) -> str:
        return connection.state

    @admin.display(description="Refresh token expires")
    def refresh_token_expires_at(self, connection: BrokerConnection) -> object:
        return connection.refresh_token_expires_at

    @admin.action(description="Force a token refresh")
    def force_refresh(self, request: HttpRequest, queryset: QuerySet[BrokerConnection]) -> None:
        for connection in queryset:
            try:
                services.connection_refresh(connection=connection, force=True)
            except SchwabError as error:
                self.message_user(request, f"{connection}: {error.code}", messages.WARNING)
            else:
                self.message_user(request, f"{connection}: refreshed", messages.SUCCESS)

    @admin.action(description="Disconnect (forget tokens)")
    def disconnect(self, request: HttpRequest, queryset: QuerySet[BrokerConnection]) -> None:
        for connection in queryset:
            services.connection_disconnect(connection=connection)
        self.message_user(request, f"Disconnected {queryset.count()} connection(s).", messages.SUCCESS)
