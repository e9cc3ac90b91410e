from django.apps import AppConfig


class ThorConfig(AppConfig):
    name = "thor_project"
    verbose_name = "Thor"
