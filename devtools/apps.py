from django.apps import AppConfig


class DevtoolsConfig(AppConfig):
    """Development tooling: the Schwab sandbox and the demo. Installed only with DEBUG on; the product
    never imports it."""

    name = "devtools"
    verbose_name = "Development tools"
