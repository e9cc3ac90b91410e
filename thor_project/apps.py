from django.apps import AppConfig


class ThorConfig(AppConfig):
    name = "thor_project"
    verbose_name = "Thor"

    def ready(self) -> None:
        from thor_project import auth

        auth.connect_signals()  # in every process, so no save anywhere leaves a stale cached user
