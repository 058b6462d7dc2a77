import os
import shutil

import pytest

from tests.asgi_server import AsgiServer

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
    from playwright.sync_api import expect, sync_playwright

    # A loaded CI machine (two workers, a live server, webhooks posted by threads) can take
    # more than Playwright's 5 s for a page to reach what an assertion waits for; a passing
    # assertion returns as soon as it holds, so only a failure waits the whole 15 s.
    expect.set_options(timeout=15_000)
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


# --- an ASGI live server (daphne) for websockets (see tests/asgi_server.py) -------------------


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
