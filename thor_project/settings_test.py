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

# Without DATABASE_URL the suite runs on SQLite. In a file, not Django's shared-cache in-memory test
# database: there, a table lock held by one thread fails another at once ("database table is locked")
# instead of waiting, and the stream worker's threads read orders and accounts side by side.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    import tempfile

    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": os.path.join(tempfile.gettempdir(), f"thor-tests-{os.getpid()}.sqlite3")
    }
