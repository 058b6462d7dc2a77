"""The inbox in headless Chromium: list, conversation, reply, close, shortcuts, phone width,
and a second tenant that sees none of it. Screenshots go to .data/artifacts/."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from inbox.models import Conversation, Message
from omnichannel.channels import Channel
from tests.inbox.webhook_helpers import receive

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parents[2] / ".data" / "artifacts"


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    # caret="initial": hiding the caret leaves style="" on inputs, which htmx then copies
    # onto swapped-in elements, and the CSP (rightly) reports.
    page.screenshot(path=str(path), caret="initial")
    print(f"screenshot: {path}")
    return path


def sign_in(page, asgi_server, user) -> None:
    from tests.conftest import PASSWORD

    page.goto(f"{asgi_server.url}/accounts/login/")
    page.fill('input[name="login"]', user.email)
    page.fill('input[name="password"]', PASSWORD)
    page.click('button[type="submit"]')
    page.wait_for_url(f"{asgi_server.url}/inbox/")


@pytest.fixture
def conversations(tenant, twilio_inbox):
    inbox = twilio_inbox(tenant, kind=Channel.SMS)
    whatsapp = twilio_inbox(tenant, kind=Channel.WHATSAPP)
    receive(inbox, "+14155550111", "Do you have a table for four tonight?", "Ana García")
    receive(whatsapp, "+5215512345678", "¿Llegó mi reserva?", "Luis")
    receive(inbox, "+14155550199", "Running 10 minutes late")
    return {c.contact.phone: c for c in Conversation.objects.select_related("contact")}


def test_an_agent_works_a_conversation_from_list_to_close(
    browser, asgi_server, owner, conversations, make_member, other_tenant
):
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.set_default_timeout(10_000)
    errors = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    sign_in(page, asgi_server, owner)

    rows = page.locator("#conversation-list > li.conv-row")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("(415) 555-0199")  # no name: the formatted phone
    expect(page.locator("#conversation-list")).to_contain_text("Ana García")
    expect(page.locator(".unread-count").first).to_have_text(re.compile(r"1"))

    # Open Ana's conversation: the URL, the thread and the contact panel follow; it is read.
    ana = conversations["+14155550111"]
    page.click(f"#conv-{ana.pk} a")
    page.wait_for_url(re.compile(rf"/inbox/c/{ana.pk}/"))
    expect(page.locator("#thread")).to_contain_text("Do you have a table for four tonight?")
    expect(page.locator("#contact-panel")).to_contain_text("(415) 555-0111")
    expect(page.locator(f"#conv-{ana.pk} .unread-count")).to_have_count(0)
    expect(page.locator(f"#conv-{ana.pk} a")).to_have_attribute("aria-current", "true")

    # Reply with Enter; the message appears at once with its "sending" tick.
    page.keyboard.press("r")
    expect(page.locator("#composer-body")).to_be_focused()
    page.keyboard.type("Yes, 8pm works")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("See you then!")
    page.keyboard.press("Enter")
    reply = page.locator("#thread .msg-out").last
    expect(reply).to_contain_text("Yes, 8pm works")
    expect(reply.locator(".msg-status")).to_have_class(re.compile(r"tick-(pending|sent)"))
    expect(page.locator("#composer-body")).to_have_value("")
    message = Message.objects.get(direction="out", sender_type="agent")
    assert message.body == "Yes, 8pm works\nSee you then!"
    assert message.author == owner

    # A private note looks different and is never sent.
    page.check('input[name="mode"][value="note"]')
    page.fill("#composer-body", "Regular guest, window table")
    page.click("#composer button[type=submit]")
    expect(page.locator("#thread .msg-note").last).to_contain_text("Regular guest")

    screenshot(page, "inbox-desktop.png")

    # j / k move through the list and open the conversation under the cursor. The reply made
    # Ana's conversation the most recent one: the list moved its row to the top, live.
    # Pushes may move a row twice before the list settles (a push never replaces a row whose
    # link is loading), so wait for the final order rather than read a passing one.
    rows = page.locator("#conversation-list > li.conv-row")
    below = conversations["+14155550199"].pk
    expect(rows).to_have_count(3)
    expect(rows.first).to_have_id(f"conv-{ana.pk}")
    expect(rows.nth(1)).to_have_id(f"conv-{below}")
    page.keyboard.press("Escape")
    page.locator("body").focus()
    page.keyboard.press("j")
    expect(page.locator("#detail .detail")).to_have_attribute("data-conversation-id", str(below))
    expect(page.locator(f"#conv-{below} a")).to_be_focused()
    page.keyboard.press("k")
    expect(page.locator("#detail .detail")).to_have_attribute("data-conversation-id", str(ana.pk))

    # Assign with "a", close with "e": the header and the thread's system lines update.
    page.keyboard.press("a")
    expect(page.locator("#conversation-header")).to_contain_text("Assigned to")
    expect(page.locator(f"#conv-{ana.pk} .avatar-sm")).to_have_count(1)
    page.keyboard.press("e")
    expect(page.locator("#conversation-header .status-badge")).to_have_text("Closed")
    expect(page.locator("#thread .msg-system").last).to_contain_text("Closed by")
    ana.refresh_from_db()
    assert (ana.status, ana.assignee) == ("closed", owner)

    # Closed, it leaves the list of open conversations once the agent moves on.
    page.keyboard.press("j")
    expect(page.locator("#detail .detail")).to_have_attribute("data-conversation-id", str(below))
    expect(page.locator(f"#conv-{ana.pk}")).to_have_count(0)

    # "?" shows the shortcuts; Escape closes them.
    page.keyboard.press("?")
    expect(page.locator("#shortcuts")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#shortcuts")).to_be_hidden()

    # Search by four digits of a phone, then by a word of a message.
    page.fill("#inbox-search", "0199")
    expect(page.locator("#conversation-list > li.conv-row")).to_have_count(1)
    expect(page.locator("#conversation-list mark")).to_have_text("0199")
    page.fill("#inbox-search", "reserva")
    expect(page.locator("#conversation-list > li.conv-row")).to_have_count(1)
    expect(page.locator("#conversation-list .conv-preview mark")).to_have_text("reserva")
    assert errors == [], errors
    page.context.close()

    # A phone-width screen shows one pane at a time, with a way back to the list.
    phone = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    phone.set_default_timeout(10_000)
    sign_in(phone, asgi_server, owner)
    expect(phone.locator("#list-pane")).to_be_visible()
    expect(phone.locator("#detail")).to_be_hidden()
    screenshot(phone, "inbox-phone-list.png")
    luis = conversations["+525512345678"]
    phone.click(f"#conv-{luis.pk} a")
    expect(phone.locator("#thread")).to_contain_text("¿Llegó mi reserva?")
    expect(phone.locator("#list-pane")).to_be_hidden()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(phone, "inbox-phone-conversation.png")
    phone.click(".back-link")
    expect(phone.locator("#list-pane")).to_be_visible()
    phone.context.close()

    # Another tenant's agent sees none of it.
    stranger = make_member(other_tenant, "agent", email="agent@globex.test")
    other = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    other.set_default_timeout(10_000)
    sign_in(other, asgi_server, stranger)
    expect(other.locator(".list-empty")).to_have_text("No conversations here.")
    assert "Ana" not in other.content()
    response = other.goto(f"{asgi_server.url}/inbox/c/{ana.pk}/")
    assert response.status == 404
    other.context.close()


def test_it_shows_why_a_reply_was_refused(browser, asgi_server, owner, tenant, twilio_inbox):
    inbox = twilio_inbox(tenant, kind=Channel.SMS)
    receive(inbox, "+14155550111", "STOP")
    conversation = Conversation.objects.get()
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.set_default_timeout(10_000)
    sign_in(page, asgi_server, owner)
    page.goto(f"{asgi_server.url}/inbox/c/{conversation.pk}/")

    page.fill("#composer-body", "Are you still there?")
    page.keyboard.press("Enter")

    expect(page.locator("#composer-error")).to_contain_text("They must send START")
    expect(page.locator("#composer-body")).to_have_value("Are you still there?")
    expect(page.locator("#contact-panel")).to_contain_text("Opted out")
    assert not Message.objects.filter(body="Are you still there?").exists()
    page.context.close()
