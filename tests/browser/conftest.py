import os
import shutil

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
def signed_in_page(page, live_server, owner):
    from tests.conftest import PASSWORD

    page.goto(f"{live_server.url}/accounts/login/")
    page.fill('input[name="login"]', owner.email)
    page.fill('input[name="password"]', PASSWORD)
    page.click('button[type="submit"]')
    page.wait_for_url(f"{live_server.url}/inbox/")
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
