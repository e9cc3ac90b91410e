from django.apps import AppConfig


class FutureTradingConfig(AppConfig):
    name = "FutureTrading"
    label = "futuretrading"
    verbose_name = "Future trading"
