"""Loaded with ``-p tests.plugin`` before Django is set up: the test environment.

Uses DATABASE_URL / REDIS_URL when given, the embedded servers otherwise (started here and
stopped at the end if this run started them).

Under pytest-xdist each worker (``gw0``, ``gw1``, ...) gets its own test database (pytest-django
adds the suffix), its own Redis database (cache, channel layer and Celery broker), its own key
prefixes and its own media directory, so tests in one worker never see another's data.

``--clock-shift HOURS`` runs the session with the wall clock moved that far from the real one
(ticking on), in this process and in every Python process the tests start. ``make test`` runs
the tests marked ``clock`` a second time shifted by 12 hours, so a test that passes only at
some hours of the day fails in every run, whatever the hour.
"""

import os
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

os.environ["CENTRO_TESTING"] = "true"
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-" + "x" * 20)
os.environ.setdefault("CENTRO_ENCRYPTION_KEYS", "kqKqCk3j9ZC9cKjvGfXJ1uSb4B7gWn0j3p8p8m7Y1xU=")
os.environ.setdefault(
    "CENTRO_CACHE_PREFIX", "centro-test" + os.environ.get("PYTEST_XDIST_WORKER", "")
)
os.environ.setdefault(
    "CENTRO_CHANNELS_PREFIX", "centro-test" + os.environ.get("PYTEST_XDIST_WORKER", "")
)
os.environ.setdefault("PUBLIC_BASE_URL", "http://testserver")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")

from omnichannel import embedded

CLOCK_SITE = Path(__file__).resolve().parent / "clock"
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")  # gw0, gw1... under pytest-xdist
WORKER_INDEX = int(WORKER.removeprefix("gw")) if WORKER else 0

_redis_given = bool(os.environ.get("REDIS_URL"))
_uses_embedded = not (os.environ.get("DATABASE_URL") and _redis_given)
embedded.bootstrap(hold=_uses_embedded)
if not _redis_given or WORKER:
    # Keep test keys away from a `make run` sharing the same embedded Redis (database 0), and
    # each xdist worker's away from the others'.
    url = urlsplit(os.environ["REDIS_URL"])
    if url.scheme not in {"redis", "rediss"}:
        raise pytest.UsageError("Parallel tests (-n) need a redis:// or rediss:// REDIS_URL")
    first = int(url.path.strip("/") or 0) if _redis_given else 1
    os.environ["REDIS_URL"] = urlunsplit(url._replace(path=f"/{first + WORKER_INDEX}"))
if WORKER:
    os.environ["MEDIA_ROOT"] = str(embedded.DATA_DIR / "test-media" / WORKER)


def pytest_addoption(parser) -> None:
    parser.addoption(
        "--clock-shift",
        type=float,
        default=None,
        metavar="HOURS",
        help="Run with the wall clock moved HOURS from the real one (time-machine, ticking).",
    )


def pytest_configure(config) -> None:
    hours = config.getoption("--clock-shift")
    if not hours or os.environ.get("CENTRO_TEST_CLOCK_SHIFT_SECONDS"):
        # Not shifted, or an xdist worker: started by a shifted run, it was shifted at start-up
        # by tests/clock/sitecustomize.py like any child (shifting again would double it).
        return
    import time_machine

    seconds = hours * 3600
    time_machine.travel(time.time() + seconds, tick=True).start()
    # Child Python processes pick the same shift up in tests/clock/sitecustomize.py.
    os.environ["CENTRO_TEST_CLOCK_SHIFT_SECONDS"] = str(seconds)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(CLOCK_SITE), os.environ.get("PYTHONPATH")])
    )


@pytest.hookimpl(trylast=True)  # after pytest-django orders the tests by database use
def pytest_collection_modifyitems(config, items) -> None:
    # Playwright's sync API keeps an event loop running in the main thread for the session;
    # asyncio tests cannot run after it starts, so browser tests go last. Slow ones (real
    # processes) go first: pytest-xdist hands out whole files in this order, and the long
    # files started early keep the workers evenly busy to the end.
    items.sort(
        key=lambda item: (
            item.get_closest_marker("browser") is not None,
            item.get_closest_marker("slow") is None,
        )
    )


def pytest_report_header(config) -> str | None:
    hours = config.getoption("--clock-shift")
    if hours:
        from datetime import UTC, datetime

        return f"clock shifted by {hours:+g} h: it is {datetime.now(UTC):%Y-%m-%d %H:%M} UTC here"
    return None


def pytest_unconfigure(config) -> None:
    if _uses_embedded:
        embedded.release()
