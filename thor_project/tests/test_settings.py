"""Start-up refuses missing secrets and development defaults with DEBUG off; check --deploy passes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from thor_project.checks import (
    DEV_APP_SECRET,
    DEV_SECRET_KEY,
    DEV_TOKEN_ENCRYPTION_KEY,
    validate_production_environment,
)

ROOT = Path(__file__).resolve().parents[2]


def production_env() -> dict[str, str]:
    return {
        "DEBUG": "false",
        "SECRET_KEY": "x" * 30 + Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "thor.example.com",
        "DATABASE_URL": "sqlite:////tmp/thor-deploy-check.sqlite3",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "SCHWAB_APP_KEY": "real-app-key",
        "SCHWAB_APP_SECRET": "real-app-secret",
        "SCHWAB_CALLBACK_URL": "https://thor.example.com/schwab/oauth/callback/",
        "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    }


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v for k, v in os.environ.items() if k not in production_env() and k != "DJANGO_SETTINGS_MODULE"
    }
    return subprocess.run(  # noqa: S603 - fixed arguments
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env, "DJANGO_SETTINGS_MODULE": "thor_project.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("missing", ["SECRET_KEY", "SCHWAB_APP_SECRET", "TOKEN_ENCRYPTION_KEYS", "REDIS_URL"])
def test_missing_secret_is_refused_by_name(missing):
    env = production_env()
    del env[missing]
    with pytest.raises(ImproperlyConfigured, match=missing):
        validate_production_environment(env)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SECRET_KEY", DEV_SECRET_KEY),
        ("SCHWAB_APP_SECRET", DEV_APP_SECRET),
        ("TOKEN_ENCRYPTION_KEYS", f"{Fernet.generate_key().decode()},{DEV_TOKEN_ENCRYPTION_KEY}"),
    ],
)
def test_development_default_is_refused_by_name(name, value):
    env = {**production_env(), name: value}
    with pytest.raises(ImproperlyConfigured, match=name):
        validate_production_environment(env)


def test_check_deploy_passes_with_production_settings():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=production_env())
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_start_up_without_a_secret_names_it():
    env = production_env()
    del env["SCHWAB_APP_KEY"]
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert "SCHWAB_APP_KEY must be set when DEBUG is off" in result.stderr


@pytest.mark.parametrize(
    ("redis_url", "backend"),
    [
        ("redis://127.0.0.1:6379/3", "django.core.cache.backends.redis.RedisCache"),
        ("", "django.core.cache.backends.locmem.LocMemCache"),  # the in-process stand-in: one process
    ],
)
def test_the_cache_is_shared_through_redis_whenever_redis_is(redis_url, backend):
    env = {**production_env(), "DEBUG": "true", "REDIS_URL": redis_url}
    script = (
        "from django.conf import settings as s; c = s.CACHES['default']; "
        "print(c['BACKEND'], c.get('LOCATION'))"
    )
    result = _manage("shell", "--no-imports", "-c", script, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-2:] == [backend, redis_url or "None"]


@pytest.mark.parametrize("debug", ["true", "false"])
def test_a_warning_is_printed_once(debug):
    """Django's own console handler (DEBUG on) and the root handler both printed Django's warnings."""
    env = {**production_env(), "DEBUG": debug}
    script = "import logging; logging.getLogger('django.request').warning('one-warning-marker')"
    result = _manage("shell", "-c", script, env=env)
    assert result.returncode == 0, result.stderr
    assert (result.stdout + result.stderr).count("one-warning-marker") == 1


def test_django_s_redis_cache_shares_the_hung_redis_guard():
    """The account lists' cache and the live-data client learn together that Redis is not answering."""
    env = {**production_env(), "DEBUG": "true", "REDIS_URL": "redis://127.0.0.1:6379/3"}
    script = (
        "from django.core.cache import cache; pool = cache._cache.get_client().connection_pool; "
        "print(type(pool).__name__, pool.connection_class.__name__)"
    )
    result = _manage("shell", "--no-imports", "-c", script, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-2:] == ["GuardedConnectionPool", "GuardedConnection"]
