from django.apps import AppConfig


class SchwabConfig(AppConfig):
    name = "LiveData.schwab"
    label = "schwab"
    verbose_name = "Schwab"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_delete

        from LiveData.schwab.connection import services
        from LiveData.schwab.models import BrokerConnection

        # In every process: however a connection row is deleted through Django, its ownership goes too.
        post_delete.connect(
            services.connection_deleted, sender=BrokerConnection, dispatch_uid="schwab_connection_deleted"
        )
