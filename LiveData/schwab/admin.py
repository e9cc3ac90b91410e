"""Admin for broker connections (status and expiries, never a token) and the order audit trail (read-only)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from LiveData.schwab.connection import services
from LiveData.schwab.exceptions import SchwabError
from LiveData.schwab.models import BrokerConnection, OrderRequest, OrderStatusChange


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


class OrderStatusChangeInline(admin.TabularInline):  # type: ignore[type-arg]
    model = OrderStatusChange
    fields = ("status", "filled_quantity", "seen_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(OrderRequest)
class OrderRequestAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """The order audit trail: read-only (it is evidence), with the statuses seen afterwards."""

    list_display = ("created_at", "user", "action", "state", "order_id", "target_order_id", "error_code")
    list_filter = ("action", "state")
    search_fields = ("user__username", "order_id", "target_order_id", "idempotency_key")
    inlines = [OrderStatusChangeInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in OrderRequest._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
