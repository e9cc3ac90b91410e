from django.apps import AppConfig


class SchwabConfig(AppConfig):
    name = "LiveData.schwab"
    label = "schwab"
    verbose_name = "Schwab"
    default_auto_field = "django.db.models.BigAutoField"
