"""Settings for the test suite: development defaults, DEBUG on at import so no production secret is needed.

Tests that need production behaviour override settings explicitly. DATABASE_URL and REDIS_URL still come
from the environment, so CI runs the same suite against real PostgreSQL and Redis.
"""

import os

os.environ.setdefault("DEBUG", "true")

from thor_project.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Tests run in one process and empty the cache between tests; the shared Redis cache that servers use is
# exercised by the multi-process tests, which start real servers on the production settings.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
