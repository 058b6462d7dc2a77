"""A realtime socket stays open while nothing happens, against the real ASGI server and Redis.

An idle socket's consumer waits on the Redis channel layer (a blocking pop that Redis answers
with "nothing" after a few seconds); the Redis client must wait at least that long for the
answer, or the consumer crashes and the server closes the socket (1011) every few seconds.
"""

import pytest
from playwright.sync_api import expect

from tests.browser.test_inbox import sign_in
from tests.browser.test_inbox_realtime import assert_not_reloaded, mark_loaded, new_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# More than twice the channel layer's 5 s blocking pop (and the Redis client's 5 s default):
# the crash it guards against closed the socket at the first empty answer.
IDLE_SECONDS = 12


def test_an_idle_inbox_tab_keeps_its_socket(browser, asgi_server, owner):
    page = new_page(browser)
    sockets: list[str] = []
    closed: list[str] = []

    def opened(socket) -> None:
        sockets.append(socket.url)
        socket.on("close", lambda socket: closed.append(socket.url))

    page.on("websocket", opened)  # the login page has none; the inbox opens one
    mark = asgi_server.log_mark()
    sign_in(page, asgi_server, owner)
    mark_loaded(page)

    page.wait_for_timeout(IDLE_SECONDS * 1000)

    expect(page.locator("html")).to_have_attribute("data-realtime", "connected")
    assert len(sockets) == 1, f"the page connected {len(sockets)} times"
    assert closed == [], "the server closed the idle socket"
    errors = [line for line in asgi_server.log_since(mark).splitlines() if "ERROR" in line]
    assert errors == [], errors
    assert_not_reloaded(page)
    assert page.errors == [], page.errors
