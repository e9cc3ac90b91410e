"""Thor's mirror of each user's broker accounts and positions, kept in step with live-data snapshots."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Account(models.Model):
    """One user's mirror of one broker account. Users who share an account (a household, an advisor) each
    have their own; one whose login stops listing it keeps theirs, detached, as it was then."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="broker_accounts"
    )
    source = models.CharField(max_length=20, help_text="The broker integration, e.g. schwab.")
    external_id = models.CharField(
        max_length=128, help_text="The broker's opaque account id (never a number)."
    )
    account_type = models.CharField(max_length=20, blank=True)
    display_number = models.CharField(max_length=16, blank=True)
    net_liquidation_value = models.DecimalField(max_digits=24, decimal_places=8, null=True, blank=True)
    buying_power = models.DecimalField(max_digits=24, decimal_places=8, null=True, blank=True)
    cash = models.DecimalField(max_digits=24, decimal_places=8, null=True, blank=True)
    positions_as_of = models.DateTimeField(null=True, blank=True)
    balances_as_of = models.DateTimeField(null=True, blank=True)
    stale = models.BooleanField(default=False)
    detached_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the user's broker login stopped listing the account. The rows are kept as they "
        "were then and no longer follow live data; empty while the mirror is live.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "source", "external_id"], name="unique_user_broker_account"
            )
        ]

    def __str__(self) -> str:
        state = "detached" if self.detached_at else "live"
        return f"{self.source} {self.account_type} {self.display_number} ({state})"

    @property
    def is_live(self) -> bool:
        return self.detached_at is None


class Position(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="positions")
    symbol = models.CharField(max_length=64)
    asset_class = models.CharField(max_length=20)
    description = models.CharField(max_length=255, blank=True)
    quantity = models.DecimalField(max_digits=24, decimal_places=8)
    average_price_per_unit = models.DecimalField(max_digits=24, decimal_places=8, null=True, blank=True)
    market_value = models.DecimalField(max_digits=24, decimal_places=8, null=True, blank=True)
    day_pnl = models.DecimalField(max_digits=24, decimal_places=8, null=True, blank=True)
    unrealized_pnl = models.DecimalField(max_digits=24, decimal_places=8, null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "symbol"], name="unique_account_symbol")]
        ordering = ["symbol"]

    def __str__(self) -> str:
        return f"{self.symbol} x {self.quantity}"
