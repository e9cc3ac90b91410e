"""Start-up validation of settings that must never take a development default in production."""

from __future__ import annotations

from collections.abc import Mapping

from django.core.exceptions import ImproperlyConfigured

# Values that only ever belong on a developer's machine. Seeing one with DEBUG off is a deploy mistake.
# They are public on purpose (S105): validate_production_environment refuses every one of them.
DEV_SECRET_KEY = "dev-insecure-secret-key-do-not-use-in-production"  # noqa: S105
DEV_TOKEN_ENCRYPTION_KEY = "ZGV2LWluc2VjdXJlLWZlcm5ldC1rZXktZG8tbm90LXU="  # noqa: S105
DEV_APP_KEY = "thor-dev-app-key"
DEV_APP_SECRET = "thor-dev-app-secret"  # noqa: S105

REQUIRED_IN_PRODUCTION = (
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "DATABASE_URL",
    "REDIS_URL",
    "SCHWAB_APP_KEY",
    "SCHWAB_APP_SECRET",
    "SCHWAB_CALLBACK_URL",
    "TOKEN_ENCRYPTION_KEYS",
)

_DEV_DEFAULTS = {
    "SECRET_KEY": DEV_SECRET_KEY,
    "SCHWAB_APP_KEY": DEV_APP_KEY,
    "SCHWAB_APP_SECRET": DEV_APP_SECRET,
}


def validate_production_environment(environ: Mapping[str, str]) -> None:
    """Refuse to start with DEBUG off when a secret is missing or still a development default."""
    for name in REQUIRED_IN_PRODUCTION:
        if not environ.get(name, "").strip():
            raise ImproperlyConfigured(f"{name} must be set when DEBUG is off (see .env.example).")
    for name, dev_value in _DEV_DEFAULTS.items():
        if environ[name].strip() == dev_value:
            raise ImproperlyConfigured(
                f"{name} is the development default; set a real value when DEBUG is off."
            )
    keys = [key.strip() for key in environ["TOKEN_ENCRYPTION_KEYS"].split(",") if key.strip()]
    if DEV_TOKEN_ENCRYPTION_KEY in keys:
        raise ImproperlyConfigured(
            "TOKEN_ENCRYPTION_KEYS contains the development key; generate real keys when DEBUG is off."
        )
    if len(environ["SECRET_KEY"]) < 50:
        raise ImproperlyConfigured("SECRET_KEY must be at least 50 characters when DEBUG is off.")
