"""Settings for the Thor project, read from the environment (and an optional .env) via django-environ.

With DEBUG off every secret must be set explicitly: see thor_project/checks.py and .env.example.
"""

from __future__ import annotations

import os
from pathlib import Path

import environ

from thor_project.checks import (
    DEV_APP_KEY,
    DEV_APP_SECRET,
    DEV_SECRET_KEY,
    DEV_TOKEN_ENCRYPTION_KEY,
    validate_production_environment,
)

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")  # optional; real environment variables win

DEBUG = env.bool("DEBUG", default=False)
if not DEBUG:
    validate_production_environment(os.environ)

SECRET_KEY = env.str("SECRET_KEY", default=DEV_SECRET_KEY)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "LiveData.shared",
    "LiveData.schwab",
    "ActAndPos",
    "FutureTrading",
    "thor_project",
]
if DEBUG:  # development tooling (the Schwab sandbox, the demo): never installed in production
    INSTALLED_APPS.append("devtools")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "LiveData.schwab.web.errors.SchwabErrorMiddleware",
]
CSRF_FAILURE_VIEW = "thor_project.errors.csrf_failure"

ROOT_URLCONF = "thor_project.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "thor_project" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "thor_project.wsgi.application"
ASGI_APPLICATION = "thor_project.asgi.application"

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/dashboard/"
LOGOUT_REDIRECT_URL = "/accounts/login/"
# Background refresh (Celery beat and `manage.py livedata_refresh`).
LIVEDATA_REFRESH_INTERVAL_SECONDS = env.int("LIVEDATA_REFRESH_INTERVAL_SECONDS", default=60)
LIVEDATA_REFRESH_RATE_LIMIT_WAIT_SECONDS = env.float(
    "LIVEDATA_REFRESH_RATE_LIMIT_WAIT_SECONDS", default=120.0
)
# A connection whose refresh keeps failing waits base x 2^(failures-1) seconds, at most the cap.
LIVEDATA_BACKOFF_BASE_SECONDS = env.int("LIVEDATA_BACKOFF_BASE_SECONDS", default=30)
LIVEDATA_BACKOFF_MAX_SECONDS = env.int("LIVEDATA_BACKOFF_MAX_SECONDS", default=1800)
# FutureTrading refuses to size trades on balances older than this.
FUTURETRADING_MAX_DATA_AGE_SECONDS = env.int("FUTURETRADING_MAX_DATA_AGE_SECONDS", default=60)
# How often the dashboard page polls the summary endpoint.
THOR_DASHBOARD_POLL_SECONDS = env.float("THOR_DASHBOARD_POLL_SECONDS", default=5.0)

# --- Security: strict by default with DEBUG off (manage.py check --deploy passes). -----------------------
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

# --- Redis: the live-data bus. Unset with DEBUG on means the in-process stand-in. ------------------------
REDIS_URL = env.str("REDIS_URL", default="")
REDIS_SOCKET_TIMEOUT = env.float("REDIS_SOCKET_TIMEOUT", default=2.0)
# After a Redis call times out (or cannot connect), a process fails its calls to that server at once for
# this long: a request waits on a hung Redis at most one REDIS_SOCKET_TIMEOUT in all (see redis_guard.py).
REDIS_OUTAGE_HOLD_SECONDS = env.float("REDIS_OUTAGE_HOLD_SECONDS", default=5.0)
# Snapshot keys expire after this many seconds (0: never; the last snapshot stays, marked stale on failure).
LIVE_DATA_SNAPSHOT_TTL_SECONDS = env.int("LIVE_DATA_SNAPSHOT_TTL_SECONDS", default=0)

# --- Schwab. Every OAuth and Trader API URL is built from SCHWAB_API_BASE_URL. ----------------------------
SCHWAB_APP_KEY = env.str("SCHWAB_APP_KEY", default=DEV_APP_KEY)
SCHWAB_APP_SECRET = env.str("SCHWAB_APP_SECRET", default=DEV_APP_SECRET)
SCHWAB_CALLBACK_URL = env.str("SCHWAB_CALLBACK_URL", default="https://127.0.0.1:8000/schwab/oauth/callback/")
SCHWAB_API_BASE_URL = env.str("SCHWAB_API_BASE_URL", default="https://api.schwabapi.com")
SCHWAB_HTTP_TIMEOUT = env.float("SCHWAB_HTTP_TIMEOUT", default=10.0)
# Refresh the access token when it has less than this left (it lives 30 minutes).
SCHWAB_REFRESH_MARGIN_SECONDS = env.int("SCHWAB_REFRESH_MARGIN_SECONDS", default=120)
SCHWAB_OAUTH_STATE_TTL_SECONDS = env.int("SCHWAB_OAUTH_STATE_TTL_SECONDS", default=600)
# The summary endpoint serves a snapshot younger than this from Redis without calling Schwab.
SCHWAB_SUMMARY_MAX_AGE_SECONDS = env.int("SCHWAB_SUMMARY_MAX_AGE_SECONDS", default=15)
# How long a user's account list is trusted for authorizing account ids.
SCHWAB_ACCOUNTS_CACHE_SECONDS = env.int("SCHWAB_ACCOUNTS_CACHE_SECONDS", default=60)
# The order ticket's quotes: one symbol's is served from Redis while younger than this.
SCHWAB_QUOTE_CACHE_SECONDS = env.float("SCHWAB_QUOTE_CACHE_SECONDS", default=2.0)
# Schwab's limits, held across every worker through Redis (schwab-api.md: about 120/min per user token).
SCHWAB_RATE_LIMIT_PER_CONNECTION_PER_MINUTE = env.int(
    "SCHWAB_RATE_LIMIT_PER_CONNECTION_PER_MINUTE", default=120
)
SCHWAB_RATE_LIMIT_GLOBAL_PER_SECOND = env.int(
    "SCHWAB_RATE_LIMIT_GLOBAL_PER_SECOND", default=0
)  # 0: no fleet cap
# Of those, background work (the refresher, the stream worker, the settling task) leaves this many to the
# trader's own requests, so an order never waits behind background reads.
SCHWAB_RATE_LIMIT_FOREGROUND_RESERVE_PER_MINUTE = env.int(
    "SCHWAB_RATE_LIMIT_FOREGROUND_RESERVE_PER_MINUTE", default=20
)
# Slack between admitting a request and its arrival at Schwab (see ratelimit.acquire_for_connection).
SCHWAB_RATE_LIMIT_ARRIVAL_ALLOWANCE_SECONDS = env.float(
    "SCHWAB_RATE_LIMIT_ARRIVAL_ALLOWANCE_SECONDS", default=0.25
)
# How long a page request may wait for room under those limits before answering 503 rate_limited.
SCHWAB_RATE_LIMIT_MAX_WAIT_SECONDS = env.float("SCHWAB_RATE_LIMIT_MAX_WAIT_SECONDS", default=2.0)
# 429s: wait at most this long per Retry-After before retrying (GETs, bounded retries), else answer 503.
SCHWAB_MAX_RETRY_AFTER_SECONDS = env.float("SCHWAB_MAX_RETRY_AFTER_SECONDS", default=2.0)
# Where the browser goes after connecting when no `next` was given; the outcome is added as ?schwab=...
SCHWAB_FRONTEND_URL = env.str("SCHWAB_FRONTEND_URL", default="/dashboard/")
# Orders. Trading is off unless switched on here AND the user has the schwab.trade permission.
SCHWAB_TRADING_ENABLED = env.bool("SCHWAB_TRADING_ENABLED", default=False)
# Refuse, before Schwab is called, any order whose quantity x multiplier x the highest of its prices and the
# market price exceeds this (0: no cap). Without a market price under a cap the order is refused.
SCHWAB_ORDER_NOTIONAL_CAP = env.str("SCHWAB_ORDER_NOTIONAL_CAP", default="0")
# Order requests (place, replace, cancel) per account per minute, shared by every worker (Schwab: up to 120).
SCHWAB_ORDER_RATE_LIMIT_PER_ACCOUNT_PER_MINUTE = env.int(
    "SCHWAB_ORDER_RATE_LIMIT_PER_ACCOUNT_PER_MINUTE", default=120
)
# After an ambiguous failure, how long an order not found at Schwab stays "unknown" before "not placed".
SCHWAB_ORDER_RECONCILE_GRACE_SECONDS = env.int("SCHWAB_ORDER_RECONCILE_GRACE_SECONDS", default=120)
# Login-free OAuth bootstrap views (test_views.py): reachable only when DEBUG and this are both on.
# Order-status streaming (manage.py schwab_stream, and the SSE endpoint under ASGI).
# A worker holds each connection's stream under a lease this long; a dead worker's connections are taken
# over within lease + poll seconds. Silence (no heartbeat, no data) for this long means a dead socket.
SCHWAB_STREAM_LEASE_SECONDS = env.float("SCHWAB_STREAM_LEASE_SECONDS", default=30.0)
SCHWAB_STREAM_POLL_SECONDS = env.float("SCHWAB_STREAM_POLL_SECONDS", default=5.0)
SCHWAB_STREAM_SILENCE_SECONDS = env.float("SCHWAB_STREAM_SILENCE_SECONDS", default=60.0)
SCHWAB_STREAM_BACKOFF_MAX_SECONDS = env.float("SCHWAB_STREAM_BACKOFF_MAX_SECONDS", default=60.0)
SCHWAB_STREAM_MAX_CONNECTIONS = env.int("SCHWAB_STREAM_MAX_CONNECTIONS", default=500)
SCHWAB_STREAM_CATCH_UP_DAYS = env.int("SCHWAB_STREAM_CATCH_UP_DAYS", default=7)
# A healthy socket can still lose a message: each streamed connection's orders are re-read this often too.
SCHWAB_STREAM_RECONCILE_SECONDS = env.float("SCHWAB_STREAM_RECONCILE_SECONDS", default=60.0)
LIVE_DATA_ORDER_EVENTS_MAXLEN = env.int("LIVE_DATA_ORDER_EVENTS_MAXLEN", default=10000)
THOR_SSE_HEARTBEAT_SECONDS = env.float("THOR_SSE_HEARTBEAT_SECONDS", default=15.0)
THOR_SSE_MAX_SECONDS = env.float("THOR_SSE_MAX_SECONDS", default=1800.0)

SCHWAB_ENABLE_TEST_VIEWS = env.bool("SCHWAB_ENABLE_TEST_VIEWS", default=False)
SCHWAB_TEST_VIEWS_USERNAME = env.str("SCHWAB_TEST_VIEWS_USERNAME", default="schwab-dev")
SCHWAB_TEST_CALLBACK_URL = env.str(
    "SCHWAB_TEST_CALLBACK_URL", default="http://127.0.0.1:8000/schwab/test/oauth/callback/"
)

# Fernet keys, comma-separated, newest first: tokens are encrypted with the first, decrypted with any.
TOKEN_ENCRYPTION_KEYS = env.list("TOKEN_ENCRYPTION_KEYS", default=[DEV_TOKEN_ENCRYPTION_KEY])

# The cache is shared by every process through Redis: what one worker learns about a login's accounts holds
# in all of them. Only the in-process Redis stand-in (one process) keeps it in memory. It never holds
# sessions, users or anything else that decides who may do what (see README, "Who may do what").
CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "thor:cache",
            "OPTIONS": {
                "pool_class": "LiveData.shared.redis_guard.GuardedConnectionPool",
                "socket_timeout": REDIS_SOCKET_TIMEOUT,
                "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
            },
        }
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# Sessions and users come from the database on every request, the one source of truth: a logout, a
# password change or a deactivation (made any way, the ORM or raw SQL) holds in every process at once.
SESSION_ENGINE = "django.contrib.sessions.backends.db"
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {
            "()": "LiveData.shared.logs.KeyValueFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
        }
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # The websockets library logs every frame at DEBUG, and the streamer's LOGIN frame carries an access
    # token: never below WARNING, whatever LOG_LEVEL says (its INFO is one line per connection anyway).
    "loggers": {
        "websockets": {"level": "WARNING"},
        # Django gives its own logger a console handler with DEBUG on; every record also reaches the root
        # handler above, so with it each warning was printed twice.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
    },
}

# Email (the reminders before a Schwab login lapses): printed with DEBUG on, SMTP otherwise.
EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="thor@localhost")

# Celery: Redis as the broker (and for results), beat for the schedule.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=REDIS_URL or "cache+memory://")
CELERY_TASK_SERIALIZER = CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True  # a worker started while Redis is away waits for it
CELERY_TASK_IGNORE_RESULT = False
CELERY_RESULT_EXPIRES = 3600
CELERY_BEAT_SCHEDULE = {
    "refresh-live-data": {
        "task": "livedata.refresh_all_connections",
        "schedule": float(LIVEDATA_REFRESH_INTERVAL_SECONDS),
    },
    "refresh-expiring-tokens": {"task": "livedata.refresh_expiring_tokens", "schedule": 300.0},
    # Order requests whose outcome was never recorded (a worker killed mid-call) settle by reconciliation.
    "settle-order-requests": {"task": "livedata.settle_order_requests", "schedule": 60.0},
    # Emails about 24 h and 2 h before a Schwab login lapses (LiveData/schwab/reminders.py).
    "send-login-reminders": {"task": "livedata.send_login_reminders", "schedule": 600.0},
}
