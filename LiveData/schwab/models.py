"""BrokerConnection: one trader's link to Schwab, reachable as `user.schwab_token`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import models

from LiveData.schwab.conf import user_model
from LiveData.schwab.fields import EncryptedTextField
from LiveData.shared import clock

REFRESH_TOKEN_LIFETIME = timedelta(days=7)  # from the original login; refreshing does not extend it
EXPIRING_WINDOW = timedelta(hours=24)  # warn the trader this long before the forced re-login


@dataclass(frozen=True)
class Login:
    """One Schwab login of one connection: what a trader may address is decided per login."""

    connection_id: int
    generation: int


class BrokerConnection(models.Model):
    class Broker(models.TextChoices):
        SCHWAB = "schwab", "Charles Schwab"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        REAUTH_REQUIRED = "reauth_required", "Reconnect required"
        DISCONNECTED = "disconnected", "Disconnected"

    user = models.OneToOneField(user_model(), on_delete=models.CASCADE, related_name="schwab_token")
    broker = models.CharField(max_length=20, choices=Broker.choices, default=Broker.SCHWAB)
    access_token = EncryptedTextField(blank=True, default="")
    refresh_token = EncryptedTextField(blank=True, default="")
    access_token_expires_at = models.DateTimeField(null=True, blank=True)
    logged_in_at = models.DateTimeField(
        null=True, blank=True, help_text="The original login at Schwab; the refresh token dies 7 days after."
    )
    last_refreshed_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    generation = models.PositiveIntegerField(
        default=0,
        help_text="Counts logins and disconnects. What is cached about the accounts of one login is keyed by "
        "it, so a new login or a disconnect makes it unreachable in every process at once.",
    )
    last_error_code = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "broker connection"

    def __str__(self) -> str:
        return f"{self.get_broker_display()} connection of user {self.user_id} ({self.state})"

    @property
    def refresh_token_expires_at(self) -> datetime | None:
        return self.logged_in_at + REFRESH_TOKEN_LIFETIME if self.logged_in_at else None

    def is_access_token_fresh(self, *, margin: timedelta, now: datetime | None = None) -> bool:
        """True when the access token is usable for at least `margin` more."""
        moment = now or clock.now()
        return bool(
            self.access_token
            and self.access_token_expires_at
            and self.access_token_expires_at - margin > moment
        )

    def is_refresh_token_expired(self, now: datetime | None = None) -> bool:
        expires_at = self.refresh_token_expires_at
        return not self.refresh_token or expires_at is None or expires_at <= (now or clock.now())

    @property
    def state(self) -> str:
        """active, expiring (under 24 h of refresh-token life left), reauth_required or disconnected."""
        if self.status != self.Status.ACTIVE:
            return str(self.status)
        now = clock.now()
        if self.is_refresh_token_expired(now):
            return self.Status.REAUTH_REQUIRED.value
        expires_at = self.refresh_token_expires_at
        if expires_at is not None and expires_at - now < EXPIRING_WINDOW:
            return "expiring"
        return self.Status.ACTIVE.value

    @property
    def login(self) -> Login:
        return Login(connection_id=self.pk, generation=self.generation)


class OrderRequest(models.Model):
    """The audit trail of orders: one row per order request (preview, place, replace, cancel), who asked
    for what, what was sent to Schwab, and what came of it. It is also the idempotency record: a place or
    replace carries the client's Idempotency-Key, and the row moves through recovery points so a foreign
    call is never repeated blindly (created → sending → placed / rejected / unknown → ...)."""

    class Action(models.TextChoices):
        PREVIEW = "preview", "Preview"
        PLACE = "place", "Place"
        REPLACE = "replace", "Replace"
        CANCEL = "cancel", "Cancel"

    class State(models.TextChoices):
        CREATED = "created", "Created (nothing sent)"
        SENDING = "sending", "Sent, answer not recorded yet"
        PLACED = "placed", "Accepted by Schwab"
        UNKNOWN = "unknown", "Status unknown: do not resubmit"
        NOT_PLACED = "not_placed", "Not placed (reconciled)"
        REJECTED = "rejected", "Rejected by Schwab"
        REFUSED = "refused", "Refused by Thor (nothing sent)"
        FAILED = "failed", "Failed before Schwab accepted it"
        DONE = "done", "Done"

    user = models.ForeignKey(user_model(), on_delete=models.PROTECT, related_name="schwab_order_requests")
    connection = models.ForeignKey(BrokerConnection, on_delete=models.SET_NULL, null=True, blank=True)
    account_id = models.CharField(max_length=128, help_text="Schwab's opaque account hash (never a number).")
    action = models.CharField(max_length=10, choices=Action.choices)
    # NULL, not "", for requests without a key: the uniqueness of (user, key) holds only among keys.
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    fingerprint = models.CharField(max_length=64, help_text="sha256 of the normalized request, for key reuse")
    ticket = models.JSONField(null=True, blank=True, help_text="Thor's normalized ticket")
    schwab_order = models.JSONField(null=True, blank=True, help_text="the order JSON sent to Schwab")
    target_order_id = models.CharField(max_length=32, blank=True, help_text="the order replaced or canceled")
    order_id = models.CharField(max_length=32, blank=True, help_text="Schwab's id of the resulting order")
    state = models.CharField(max_length=12, choices=State.choices, default=State.CREATED)
    error_code = models.CharField(max_length=64, blank=True)
    last_status = models.CharField(max_length=32, blank=True, help_text="the order's status last seen")
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response = models.JSONField(
        null=True, blank=True, help_text="the answer given, replayed for the same key"
    )
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "idempotency_key"],
                condition=models.Q(idempotency_key__isnull=False),
                name="unique_order_idempotency_key",
            )
        ]
        indexes = [models.Index(fields=["account_id", "order_id"], name="order_request_account_order")]
        permissions = [("trade", "Can place, replace and cancel Schwab orders")]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.order_id or self.target_order_id or ''} ({self.state})"


class OrderStatusChange(models.Model):
    """A status of the order seen at Schwab, appended whenever it differs from the last one seen."""

    order_request = models.ForeignKey(OrderRequest, on_delete=models.CASCADE, related_name="status_changes")
    status = models.CharField(max_length=32)
    filled_quantity = models.DecimalField(max_digits=24, decimal_places=8, null=True, blank=True)
    seen_at = models.DateTimeField()

    class Meta:
        ordering = ["seen_at", "pk"]

    def __str__(self) -> str:
        return f"{self.status} at {self.seen_at:%Y-%m-%d %H:%M:%S}"


class RecordedOrderState(models.Model):
    """The last state of an order recorded in its account's event history (LiveData.shared.order_events),
    kept durably: Redis holds the history and these states for speed, and when Redis loses its data they
    come back from here before anything is recorded, so no change is recorded twice."""

    account_id = models.CharField(max_length=128)
    order_id = models.CharField(max_length=32)
    state = models.TextField(help_text="order_events.state_text: status, fills and terms")
    recorded_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account_id", "order_id"], name="unique_recorded_order_state")
        ]

    def __str__(self) -> str:
        return f"order {self.order_id} recorded at {self.recorded_at:%Y-%m-%d %H:%M:%S}"


class LoginReminder(models.Model):
    """A reminder sent before a Schwab login lapses (its refresh token dies 7 days after the login): one of
    each kind per login, so a reconnect (a new generation) starts them over."""

    class Kind(models.TextChoices):
        DAY = "24h", "About 24 hours left"
        HOURS = "2h", "About 2 hours left"

    connection = models.ForeignKey(BrokerConnection, on_delete=models.CASCADE, related_name="reminders")
    generation = models.PositiveIntegerField()
    kind = models.CharField(max_length=3, choices=Kind.choices)
    sent_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "generation", "kind"], name="unique_login_reminder")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} (connection {self.connection_id}, login {self.generation})"
