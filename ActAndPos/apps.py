from django.apps import AppConfig


class ActAndPosConfig(AppConfig):
    name = "ActAndPos"
    label = "actandpos"
    verbose_name = "Accounts and positions"
    default_auto_field = "django.db.models.BigAutoField"
