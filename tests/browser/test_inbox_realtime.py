"""The inbox live in headless Chromium against the real ASGI server (daphne, websockets).

Signed Twilio webhooks are POSTed over HTTP to the same server a provider would reach; what
they change must appear on the agents' pages without a reload. A page "reloads" only if its
``window.__loaded`` marker disappears.
"""

import re
import secrets
import threading
import time

import httpx
import pytest
from django.core.cache import cache
from playwright.sync_api import expect

from inbox.models import Conversation, Delivery, Message
from inbox.realtime import _viewing_key
from omnichannel.channels import Channel
from tests.browser.test_inbox import screenshot, sign_in
from tests.inbox.webhook_helpers import receive, signed_twilio_request

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# How many times a conversation is opened while messages arrive (alternating between two).
ROUNDS = 8


def post_webhook(server, inbox, fixture: str, **overrides) -> None:
    """A signed Twilio webhook over real HTTP, as Twilio would send it."""
    post_signed(server, signed_twilio_request(inbox, fixture, **overrides))


def signed_inbound(inbox, sender: str, body: str, name: str = "") -> tuple[str, dict, dict]:
    """An inbound SMS as Twilio would sign it: (path, form fields, headers)."""
    sid = "SM" + secrets.token_hex(16)
    extra = {"ProfileName": name} if name else {}
    return signed_twilio_request(
        inbox,
        "inbound_sms",
        MessageSid=sid,
        SmsSid=sid,
        SmsMessageSid=sid,
        From=sender,
        To=inbox.address,
        Body=body,
        **extra,
    )


def post_signed(server, request: tuple[str, dict, dict]) -> None:
    path, params, headers = request
    response = httpx.post(f"{server.url}{path}", data=params, headers=headers, timeout=10)
    assert response.status_code in (200, 204), response.text[:500]


def inbound(server, inbox, sender: str, body: str, name: str = "") -> None:
    post_signed(server, signed_inbound(inbox, sender, body, name))


def new_page(browser, *, width: int = 1280, height: int = 800):
    page = browser.new_context(viewport={"width": width, "height": height}).new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.errors = errors
    return page


def mark_loaded(page) -> None:
    page.evaluate("window.__loaded = true")
    expect(page.locator("html")).to_have_attribute("data-realtime", "connected")


def wait_until_viewed(conversation, seconds: float = 10) -> None:
    """Until a socket has told the server it shows ``conversation`` (pushes meant for its
    viewers, such as typing, reach only the sockets already there)."""
    key = _viewing_key(conversation.tenant_id, conversation.pk)
    deadline = time.monotonic() + seconds
    while not cache.get(key):
        assert time.monotonic() < deadline, "no page reported viewing the conversation"
        time.sleep(0.05)


def assert_not_reloaded(page) -> None:
    assert page.evaluate("window.__loaded === true"), "the page reloaded"


@pytest.fixture
def sms(tenant, twilio_inbox):
    inbox = twilio_inbox(tenant, kind=Channel.SMS)
    receive(inbox, "+14155550111", "Do you have a table for four tonight?", "Ana García")
    return inbox


def test_webhooks_replies_and_callbacks_show_up_live(
    browser, asgi_server, tenant, owner, sms, make_member, other_tenant, twilio_inbox
):
    ana = Conversation.objects.get(contact__phone="+14155550111")
    colleague = make_member(tenant, "agent", email="marta@acme.test")
    stranger = make_member(other_tenant, "agent", email="agent@globex.test")
    theirs = twilio_inbox(other_tenant, kind=Channel.SMS)

    page = new_page(browser)
    sign_in(page, asgi_server, owner)
    page.click(f"#conv-{ana.pk} a")
    expect(page.locator("#thread")).to_contain_text("Do you have a table for four tonight?")
    mark_loaded(page)

    watcher = new_page(browser)  # a colleague looking at "Unassigned"
    sign_in(watcher, asgi_server, colleague)
    watcher.goto(f"{asgi_server.url}/inbox/?view=unassigned")
    mark_loaded(watcher)

    outsider = new_page(browser)  # another tenant's agent
    sign_in(outsider, asgi_server, stranger)
    mark_loaded(outsider)

    # A signed inbound webhook: into the open thread, no reload; the colleague's list and
    # unread counter follow.
    inbound(asgi_server, sms, "+14155550111", "Could we sit on the terrace?")
    expect(page.locator("#thread .msg-in").last).to_contain_text("Could we sit on the terrace?")
    expect(watcher.locator(f"#conv-{ana.pk}")).to_contain_text("Could we sit on the terrace?")
    expect(watcher.locator("#nav-unread")).to_contain_text("1")

    # A new contact writes: their row appears at the top of both lists, unread.
    inbound(asgi_server, sms, "+14155550122", "Hola, ¿abren el domingo?", name="Luis")
    luis = Conversation.objects.get(contact__phone="+14155550122")
    expect(page.locator("#conversation-list > li.conv-row").first).to_have_id(f"conv-{luis.pk}")
    expect(page.locator(f"#conv-{luis.pk} .unread-count")).to_have_text(re.compile("1"))
    expect(watcher.locator("#conversation-list > li.conv-row").first).to_have_id(f"conv-{luis.pk}")
    expect(watcher.locator("#nav-unread")).to_contain_text("2")

    # The colleague opens Ana's conversation and sees the owner typing a reply.
    watcher.click(f"#conv-{ana.pk} a")
    expect(watcher.locator("#thread")).to_contain_text("terrace")
    page.click("#composer-body")
    page.keyboard.type("Yes, the terrace is open")
    expect(watcher.locator("#presence")).to_have_text(re.compile(r"owner is replying…"))

    # The reply goes out; its ticks advance as Twilio's callbacks arrive.
    page.keyboard.press("Enter")
    reply = page.locator("#thread .msg-out").last
    expect(reply).to_contain_text("Yes, the terrace is open")
    expect(reply.locator(".msg-status")).to_have_class(re.compile(r"tick-sent"))
    expect(watcher.locator("#thread .msg-out").last).to_contain_text("the terrace is open")
    expect(watcher.locator("#presence")).to_have_text("owner is viewing")
    message = Message.objects.get(body="Yes, the terrace is open")
    sid = Delivery.objects.get(message=message).provider_message_id
    post_webhook(asgi_server, sms, "status_delivered", MessageSid=sid, SmsSid=sid)
    expect(reply.locator(".msg-status")).to_have_class(re.compile(r"tick-delivered"))
    expect(watcher.locator(f"#msg-{message.pk}-status")).to_have_class(
        re.compile(r"tick-delivered")
    )

    # Search finds the message by a word and the contact by four digits of the phone.
    page.fill("#inbox-search", "terrace")
    expect(page.locator("#conversation-list > li.conv-row")).to_have_count(1)
    expect(page.locator(f"#conv-{ana.pk} .conv-preview mark")).to_have_text(
        re.compile("terrace", re.I)
    )
    page.fill("#inbox-search", "0122")
    expect(page.locator("#conversation-list > li.conv-row")).to_have_count(1)
    expect(page.locator(f"#conv-{luis.pk} mark")).to_have_text("0122")
    page.fill("#inbox-search", "")
    expect(page.locator("#conversation-list > li.conv-row")).to_have_count(2)

    # Assign and close: the colleague's page follows (Ana leaves "Unassigned" once they move
    # on; the header they are looking at updates at once).
    page.click("#action-assign")
    expect(page.locator("#conversation-header")).to_contain_text("Assigned to owner@acme.test")
    expect(watcher.locator("#conversation-header")).to_contain_text("Assigned to owner@acme.test")
    page.click("#action-close")
    expect(page.locator("#conversation-header .status-badge")).to_have_text("Closed")
    expect(watcher.locator("#conversation-header .status-badge")).to_have_text("Closed")
    expect(watcher.locator("#thread .msg-system").last).to_contain_text("Closed by")
    watcher.click(f"#conv-{luis.pk} a")
    inbound(asgi_server, sms, "+14155550122", "¿Hola?")
    expect(watcher.locator(f"#conv-{ana.pk}")).to_have_count(0)
    ana.refresh_from_db()
    assert (ana.status, ana.assignee) == ("closed", owner)

    # The other tenant saw none of it, live or on reload; their own webhook reaches only them.
    expect(outsider.locator(".list-empty")).to_have_text("No conversations here.")
    inbound(asgi_server, theirs, "+14155550177", "Globex only")
    expect(outsider.locator("#conversation-list")).to_contain_text("Globex only")
    outsider.reload()
    assert "terrace" not in outsider.content() and "Ana" not in outsider.content()
    assert "Globex only" not in page.content()

    for agent in (page, watcher):
        assert_not_reloaded(agent)
        assert agent.errors == [], agent.errors
    screenshot(page, "inbox-live-desktop.png")


def test_a_dropped_socket_reconnects_and_catches_up(browser, asgi_server, tenant, owner, sms):
    ana = Conversation.objects.get(contact__phone="+14155550111")
    page = new_page(browser)
    sign_in(page, asgi_server, owner)
    page.click(f"#conv-{ana.pk} a")
    expect(page.locator("#thread")).to_contain_text("table for four")
    mark_loaded(page)

    # The server goes away (a deploy, a crash): the page notices.
    assert page.errors == []
    asgi_server.stop()
    expect(page.locator("html")).to_have_attribute("data-realtime", "disconnected")
    # Meanwhile Ana writes and a newcomer too (stored by another server process: here).
    receive(sms, "+14155550111", "Hello? Anyone there?")
    receive(sms, "+14155550188", "First time here")
    asgi_server.start()

    # Back: the socket reconnects by itself and the page catches up without a reload.
    expect(page.locator("html")).to_have_attribute("data-realtime", "connected", timeout=20_000)
    offline_errors = len(page.errors)  # the browser reporting its refused attempts
    expect(page.locator("#thread")).to_contain_text("Hello? Anyone there?")
    newcomer = Conversation.objects.get(contact__phone="+14155550188")
    expect(page.locator(f"#conv-{newcomer.pk}")).to_contain_text("First time here")
    assert_not_reloaded(page)
    assert page.errors[offline_errors:] == []


def test_a_row_moved_above_the_row_being_opened_stays_in_the_list(
    browser, asgi_server, tenant, owner, sms
):
    """While Luis's conversation loads, a message moves Ana's row above his. The push may not
    replace the row that is loading, but inserting next to it must go through: Ana's row moves,
    it is not lost."""
    receive(sms, "+14155550122", "Buenas tardes", "Luis")
    ana = Conversation.objects.get(contact__phone="+14155550111")
    luis = Conversation.objects.get(contact__phone="+14155550122")
    page = new_page(browser)
    sign_in(page, asgi_server, owner)
    mark_loaded(page)
    rows = page.locator("#conversation-list > li.conv-row")
    expect(rows).to_have_count(2)
    assert [rows.nth(i).get_attribute("id") for i in range(2)] == [
        f"conv-{luis.pk}",
        f"conv-{ana.pk}",
    ]

    def open_slowly(route) -> None:
        response = route.fetch()
        inbound(asgi_server, sms, "+14155550111", "Ana again, while Luis opens")
        # The push lands while Luis's row is still loading: Ana's old row leaves.
        old_row = page.locator(f"#conv-{ana.pk}", has_not_text="Ana again")
        expect(old_row).to_have_count(0)
        route.fulfill(response=response)

    page.route(re.compile(rf"/inbox/c/{luis.pk}/(\?.*)?$"), open_slowly)
    page.click(f"#conv-{luis.pk} [data-row-link]")
    expect(page.locator("#detail > .detail")).to_have_attribute(
        "data-conversation-id", str(luis.pk)
    )
    expect(rows).to_have_count(2)
    expect(rows.first).to_have_id(f"conv-{ana.pk}")
    expect(rows.first).to_contain_text("Ana again, while Luis opens")
    assert_not_reloaded(page)
    assert page.errors == [], page.errors


def test_messages_arriving_as_a_conversation_opens_show_in_it_once(
    browser, asgi_server, tenant, owner, sms
):
    """The server renders the conversation; before the page has told its socket that it shows
    it, messages arrive: the page still gets each of them, once."""
    receive(sms, "+14155550122", "Buenas tardes", "Luis")
    contacts = {
        "+14155550111": Conversation.objects.get(contact__phone="+14155550111"),
        "+14155550122": Conversation.objects.get(contact__phone="+14155550122"),
    }
    page = new_page(browser)
    sign_in(page, asgi_server, owner)
    mark_loaded(page)

    def opening(early: tuple[str, dict, dict], late: threading.Thread):
        def handle(route) -> None:
            # The server has rendered the conversation; the page has not got it yet.
            response = route.fetch()
            post_signed(asgi_server, early)  # stored and published before the page shows anything
            route.fulfill(response=response)
            late.start()  # lands as the page swaps it in and reports its view

        return handle

    sent: dict[str, int] = {}  # body -> conversation id
    for round_ in range(ROUNDS):
        phone = list(contacts)[round_ % 2]
        conversation = contacts[phone]
        rendered = f"Round {round_}: while the page receives the conversation"
        settling = f"Round {round_}: while the page settles"
        requests = {body: signed_inbound(sms, phone, body) for body in (rendered, settling)}
        late = threading.Thread(target=post_signed, args=(asgi_server, requests[settling]))
        pattern = re.compile(rf"/inbox/c/{conversation.pk}/(\?.*)?$")
        page.route(pattern, opening(requests[rendered], late))
        page.click(f"#conv-{conversation.pk} [data-row-link]")
        expect(page.locator("#detail > .detail")).to_have_attribute(
            "data-conversation-id", str(conversation.pk)
        )
        late.join()
        page.unroute(pattern)
        sent.update(dict.fromkeys(requests, conversation.pk))

        thread = page.locator("#thread > li.msg")
        for body, conversation_id in sent.items():
            expected = 1 if conversation_id == conversation.pk else 0
            expect(thread.filter(has_text=body)).to_have_count(expected)

    stored = Message.objects.filter(body__startswith="Round ")
    assert sorted(stored.values_list("body", flat=True)) == sorted(sent)
    assert_not_reloaded(page)
    assert page.errors == [], page.errors


def test_two_agents_see_each_other_viewing_and_replying(
    browser, asgi_server, tenant, owner, sms, make_member
):
    """Ana (dark, desktop) and Luis (light, 390 px) on the same conversation: each sees the
    other viewing, then replying; replying at once warns both; leaving clears it."""
    receive(sms, "+14155550122", "¿Abren el domingo?", "Pedro")
    table = Conversation.objects.get(contact__phone="+14155550111")
    sunday = Conversation.objects.get(contact__phone="+14155550122")
    owner.first_name = "Ana"
    owner.save()
    luis = make_member(tenant, "agent", email="luis@acme.test")
    luis.first_name = "Luis"
    luis.save()

    ana_page = new_page(browser)
    sign_in(ana_page, asgi_server, owner)
    ana_page.click(f"#conv-{table.pk} a")
    expect(ana_page.locator("#thread")).to_contain_text("table for four")
    mark_loaded(ana_page)

    luis_page = new_page(browser, width=390, height=844)
    sign_in(luis_page, asgi_server, luis)
    luis_page.click("[data-theme-toggle]")
    expect(luis_page.locator("html")).to_have_attribute("data-theme", "light")
    luis_page.click(f"#conv-{table.pk} a")
    expect(luis_page.locator("#thread")).to_contain_text("table for four")
    mark_loaded(luis_page)

    # Luis finds Ana already there; Ana sees him arrive.
    expect(luis_page.locator("#presence")).to_have_text("Ana is viewing")
    expect(ana_page.locator("#presence")).to_have_text("Luis is viewing")

    # Each sees the other replying (replying replaces viewing for that person).
    ana_page.click("#composer-body")
    ana_page.keyboard.type("Yes, at eight")
    expect(luis_page.locator("#presence")).to_have_text("Ana is replying…")
    luis_page.click("#composer-body")
    luis_page.keyboard.type("We are full tonight")
    expect(ana_page.locator("#presence")).to_have_text("Luis is replying…")

    # Ana sends while Luis is still writing: both are warned.
    ana_page.keyboard.press("Enter")
    expect(ana_page.locator("#composer-warning")).to_have_text("Luis is replying too")
    expect(luis_page.locator("#composer-warning")).to_have_text("Ana also replied just now")
    expect(luis_page.locator("#thread .msg-out").last).to_contain_text("Yes, at eight")
    screenshot(ana_page, "inbox-collision-dark-desktop.png")
    screenshot(luis_page, "inbox-collision-light-390.png")

    # Luis moves to another conversation: Ana no longer sees him.
    luis_page.goto(f"{asgi_server.url}/inbox/c/{sunday.pk}/")
    expect(luis_page.locator("#thread")).to_contain_text("domingo")
    expect(ana_page.locator("#presence")).to_have_text("")
    # He comes back, then closes his tab.
    luis_page.goto(f"{asgi_server.url}/inbox/c/{table.pk}/")
    expect(ana_page.locator("#presence")).to_have_text("Luis is viewing")
    assert luis_page.errors == [], luis_page.errors
    luis_page.context.close()
    expect(ana_page.locator("#presence")).to_have_text("")

    assert_not_reloaded(ana_page)
    assert ana_page.errors == [], ana_page.errors
