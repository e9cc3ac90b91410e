from django.apps import AppConfig


class SharedConfig(AppConfig):
    name = "LiveData.shared"
    label = "livedata_shared"
    verbose_name = "Live data (shared contract)"

    def ready(self) -> None:
        from LiveData.shared import redis_client

        redis_client.check_configuration()
