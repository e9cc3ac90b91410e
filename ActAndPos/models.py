"""Thor's mirror of each user's broker accounts and positions, kept in step with live-data snapshots."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Account(models.Model):
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
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "external_id"], name="unique_broker_account")
        ]

    def __str__(self) -> str:
        return f"{self.source} {self.account_type} {self.display_number}"


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
