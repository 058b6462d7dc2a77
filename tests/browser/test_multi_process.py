"""The web server of `make run` in two processes: a realtime push made in one process reaches
the sockets the other holds (the channel layer is Redis), in headless Chromium.

The server is started as the supervisor starts it (``WEB_COMMAND``, ``WEB_CONCURRENCY=2``) on
the test database and Redis (tests/web_server.py). Which process holds a page's websocket is
read from the server's side (the address its log gives each accepted websocket, among the
connections each worker holds), not from anything the server tells the page.
"""

import json
import re
import time

import pytest
from playwright.sync_api import expect

from inbox.models import Conversation
from omnichannel.channels import Channel
from tests.browser.test_inbox import screenshot, sign_in
from tests.browser.test_inbox_realtime import inbound, mark_loaded, new_page
from tests.inbox.webhook_helpers import receive
from tests.web_server import WebServer, web_server

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

SETTLE_SECONDS = 15
# uvicorn logs each websocket it accepts with the client's address ("127.0.0.1:41200 - ...").
ACCEPTED = re.compile(r'^(?P<host>[\d.]+):(?P<port>\d+) - "WebSocket /ws/')


@pytest.fixture
def two_processes(tmp_path):
    with web_server(tmp_path, workers=2) as server:
        yield server


def accepted_websockets(server: WebServer) -> set[tuple[str, int]]:
    """The client addresses of every websocket the server has accepted so far."""
    accepted = set()
    for line in server.log_path.read_text().splitlines():
        try:
            message = json.loads(line).get("message", "")
        except ValueError:
            continue
        if match := ACCEPTED.match(message):
            accepted.add((match["host"], int(match["port"])))
    return accepted


def websocket_holder(server: WebServer, seen: set[tuple[str, int]]) -> int:
    """The worker holding the websocket accepted since ``seen``: its client address, from the
    server's log, among the connections each worker holds. (An open connection alone does not
    say: Chromium also keeps idle and preconnected HTTP sockets open.)"""
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        held = server.connections()
        new = [address for address in accepted_websockets(server) - seen if address in held]
        if len(new) == 1:
            return held[new[0]]
        assert time.monotonic() < deadline, f"websockets accepted and open: {new}"
        time.sleep(0.2)


def open_inbox(browser, server: WebServer, user, conversation) -> tuple:
    """A signed-in page on ``conversation``, live; and the worker holding its websocket."""
    seen = accepted_websockets(server)
    page = new_page(browser)
    sign_in(page, server, user)
    page.click(f"#conv-{conversation.pk} a")
    mark_loaded(page)
    return page, websocket_holder(server, seen)


def test_a_push_made_in_one_process_reaches_the_sockets_of_the_other(
    browser, two_processes, tenant, owner, make_member, twilio_inbox
):
    server = two_processes
    sms = twilio_inbox(tenant, kind=Channel.SMS)
    receive(sms, "+14155550111", "Do you have a table for four tonight?", "Ana García")
    ana = Conversation.objects.get(contact__phone="+14155550111")
    colleague = make_member(tenant, "agent", email="marta@acme.test")
    workers = {worker.pid for worker in server.workers()}
    assert len(workers) == 2

    owner_page, owner_worker = open_inbox(browser, server, owner, ana)
    # The kernel hands each new connection to whichever worker accepts first: the colleague
    # opens the inbox until their socket is held by the other worker.
    for _attempt in range(12):
        colleague_page, colleague_worker = open_inbox(browser, server, colleague, ana)
        if colleague_worker != owner_worker:
            break
        colleague_page.context.close()
    else:
        pytest.fail(f"every websocket went to worker {owner_worker} of {workers}")
    assert {owner_worker, colleague_worker} == workers

    # A signed inbound webhook, answered by one of the two: both pages show it live, so the
    # event reached a socket in the process that did not handle the webhook.
    inbound(server, sms, "+14155550111", "Could we sit on the terrace?")
    for page in (owner_page, colleague_page):
        expect(page.locator("#thread .msg-in").last).to_contain_text("terrace")

    # An agent's reply, made through the owner's page, reaches the colleague's socket; and
    # the colleague's reply reaches the owner's. Each process pushed to the other's socket
    # at least once whichever worker took each request.
    owner_page.click("#composer-body")
    owner_page.keyboard.type("Yes, the terrace is open")
    expect(colleague_page.locator("#presence")).to_have_text("owner is replying…")
    owner_page.keyboard.press("Enter")
    expect(colleague_page.locator("#thread .msg-out").last).to_contain_text("terrace is open")
    colleague_page.click("#composer-body")
    colleague_page.keyboard.type("See you at eight")
    colleague_page.keyboard.press("Enter")
    expect(owner_page.locator("#thread .msg-out").last).to_contain_text("See you at eight")

    # Both still on the workers they started on: no reconnect carried a page across.
    held = set(server.connections().values())
    assert held == workers, held
    screenshot(owner_page, "multi-process-owner.png")
    screenshot(colleague_page, "multi-process-colleague.png")
    for page in (owner_page, colleague_page):
        assert page.errors == [], page.errors
