from django.apps import AppConfig


class SchwabConfig(AppConfig):
    name = "LiveData.schwab"
    label = "schwab"
    verbose_name = "Schwab"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from LiveData.schwab import logins

        logins.connect_signals()  # in every process, so no change of a connection leaves a stale copy
