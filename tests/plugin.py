"""Loaded with ``-p tests.plugin`` before Django is set up: the test environment.

Uses DATABASE_URL / REDIS_URL when given, the embedded servers otherwise (started here and
stopped at the end if this run started them).
"""

import os

os.environ["CENTRO_TESTING"] = "true"
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-" + "x" * 20)
os.environ.setdefault("CENTRO_ENCRYPTION_KEYS", "kqKqCk3j9ZC9cKjvGfXJ1uSb4B7gWn0j3p8p8m7Y1xU=")
os.environ.setdefault("CENTRO_CACHE_PREFIX", "centro-test")
os.environ.setdefault("CENTRO_CHANNELS_PREFIX", "centro-test")
os.environ.setdefault("PUBLIC_BASE_URL", "http://testserver")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")

from omnichannel import embedded

_redis_given = bool(os.environ.get("REDIS_URL"))
_uses_embedded = not (os.environ.get("DATABASE_URL") and _redis_given)
embedded.bootstrap(hold=_uses_embedded)
if not _redis_given:
    # Keep test keys away from a `make run` sharing the same embedded Redis.
    os.environ["REDIS_URL"] = os.environ["REDIS_URL"].rsplit("/", 1)[0] + "/1"


def pytest_unconfigure(config) -> None:
    if _uses_embedded:
        embedded.release()
