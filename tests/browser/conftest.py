import functools
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the ORM calls the tests make
    # between browser steps are still plain synchronous code.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail(
            "Debian's chromium is missing: `make test` installs it (apt-get install chromium)"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.fixture
def signed_in_page(page, asgi_server, owner):
    from tests.conftest import PASSWORD

    page.goto(f"{asgi_server.url}/accounts/login/")
    page.fill('input[name="login"]', owner.email)
    page.fill('input[name="password"]', PASSWORD)
    page.click('button[type="submit"]')
    page.wait_for_url(f"{asgi_server.url}/inbox/")
    return page


@pytest.fixture
def twilio_inbox(transactional_db):
    """Inboxes on the session's Twilio simulator (as tests/inbox/conftest.py makes them)."""
    from tests.fakes.twilio import make_twilio_inbox, simulator

    sim = simulator()
    sim.reset()
    sim.callbacks = False
    yield lambda tenant, **kwargs: make_twilio_inbox(tenant, sim=sim, **kwargs)
    sim.reset()


# --- an ASGI live server (daphne) for websockets ------------------------------------------------
# pytest-django's live_server is WSGI and cannot upgrade websockets. Daphne's own test process
# runs the real ASGI application (HTTP and /ws/) in a forked child: it shares the test database
# (tests must be transactional) and the Redis channel layer with this process, so events
# published here reach its consumers as in production.

_inherited_connections = []


def _forget_parent_connections() -> None:
    """In the child: open fresh database connections instead of the parent's sockets.

    The inherited connection objects are kept (never closed or collected): closing one would
    end the parent's session on the server."""
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        _inherited_connections.append(connection.connection)
        connection.connection = None


def _child_setup(log_path: Path) -> None:
    _forget_parent_connections()
    # What the server logs (daphne's "Exception inside application", our own errors) also
    # goes to a file the tests can read: its stderr is the test process's, captured away.
    handler = logging.FileHandler(log_path)
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    logging.getLogger().addHandler(handler)
    # The parent's channel layer holds Redis connections made on its own event loops: start
    # from a new layer instead of sharing those sockets.
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    # asgiref's executor for thread-sensitive calls (the consumers' database access) had its
    # thread in the parent: a forked copy believes it has one and never runs anything.
    from concurrent.futures import ThreadPoolExecutor

    from asgiref.sync import SyncToAsync

    SyncToAsync.single_thread_executor = ThreadPoolExecutor(max_workers=1)
    # Deliveries run where the reply is sent (no worker in this test process tree): the real
    # task code, executed eagerly.
    from omnichannel.celery import app

    app.conf.task_always_eager = True


def _application():
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    from omnichannel.asgi import application

    return ASGIStaticFilesHandler(application)


@dataclass
class AsgiServer:
    port: int
    log_path: Path
    process: object = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        from daphne.testing import DaphneProcess

        process = DaphneProcess(
            "127.0.0.1",
            _application,
            setup=functools.partial(_child_setup, self.log_path),
            port=self.port or None,
        )
        process.start()
        if not process.ready.wait(timeout=20):
            process.terminate()
            raise RuntimeError("daphne did not start")
        self.port = process.port.value
        self.process = process

    def stop(self) -> None:
        """Kill the server (open websockets drop as on a crash or a deploy)."""
        if self.process is not None:
            self.process.kill()
            self.process.join(timeout=10)
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_mark(self) -> int:
        """Where the server's log ends now: pass it to ``log_since``."""
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def log_since(self, mark: int) -> str:
        """What the server logged (warnings and errors) after ``mark``."""
        if not self.log_path.exists():
            return ""
        with self.log_path.open(encoding="utf-8", errors="replace") as log:
            log.seek(mark)
            return log.read()


@pytest.fixture(scope="session")
def asgi_server(django_db_setup, django_db_blocker, tmp_path_factory):
    server = AsgiServer(port=0, log_path=tmp_path_factory.mktemp("asgi") / "server.log")
    with django_db_blocker.unblock():
        server.start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _server_idle_before_flush(request):
    """Before a transactional test's tables are flushed, let the server finish what the
    closing pages left in flight (a TRUNCATE racing a request's reads can deadlock)."""
    yield
    if "asgi_server" not in request.fixturenames:
        return
    import time

    from django.db import connection

    # Idle for a few checks in a row: what the closing pages set off (a last request, the
    # rendering of a last event) may start a moment after the test's last step.
    deadline = time.monotonic() + 10
    quiet = 0
    with connection.cursor() as cursor:
        while time.monotonic() < deadline and quiet < 5:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND state <> 'idle'"
            )
            quiet = quiet + 1 if cursor.fetchone()[0] == 0 else 0
            time.sleep(0.05)
