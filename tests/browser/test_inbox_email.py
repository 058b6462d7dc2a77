"""An email conversation in headless Chromium: the subject, sanitized HTML with the remote image
blocked, allowing it, and a reply with a CC that reaches a real SMTP server on 127.0.0.1."""

import time

import pytest
from django.test import Client
from playwright.sync_api import expect

from inbox.models import Message
from tests.browser.test_inbox import screenshot, sign_in
from tests.fakes.smtp import SmtpServer
from tests.inbox.conftest import make_email_inbox
from tests.inbox.email_webhook_helpers import load, post_postmark

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def smtp_server():
    server = SmtpServer().start()
    yield server
    server.stop()


def test_an_agent_reads_an_email_allows_its_images_and_replies_with_a_cc(
    browser, asgi_server, owner, tenant, smtp_server
):
    inbox = make_email_inbox(
        tenant, esp="smtp", host="127.0.0.1", port=smtp_server.port, webhook_esp="postmark"
    )
    payload = load("postmark", "inbound")
    # The "remote" image is served by the test server itself: nothing leaves 127.0.0.1.
    image = f"{asgi_server.url}/static/centro/favicon.svg"
    payload["HtmlBody"] = payload["HtmlBody"].replace(
        "https://tracker.example.net/pixel.gif?u=ana", image
    )
    assert post_postmark(inbox, "inbound", payload, client=Client()).status_code == 200
    inbound = Message.objects.get(inbox=inbox)

    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.set_default_timeout(10_000)
    errors = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    sign_in(page, asgi_server, owner)
    page.goto(f"{asgi_server.url}/inbox/c/{inbound.conversation_id}/")

    message = page.locator(f"#msg-{inbound.pk}")
    expect(message.locator(".msg-subject")).to_have_text("Booking 4411: late check-in")
    expect(message).to_contain_text("we will arrive around 23:00, is that ok?")
    expect(message.locator("script")).to_have_count(0)
    picture = message.locator(".email-body img")
    expect(picture).to_have_count(1)
    expect(picture).not_to_have_attribute("src", image)
    expect(message.locator(".images-blocked")).to_contain_text("1 remote image blocked")
    expect(message.locator(".email-quoted")).not_to_have_attribute("open", "")
    screenshot(page, "inbox-email-blocked.png")

    message.get_by_role("button", name="Show images").click()
    expect(picture).to_have_attribute("src", image)
    page.wait_for_function(
        "sel => { const i = document.querySelector(sel); return i && i.naturalWidth > 0; }",
        arg=f"#msg-{inbound.pk} .email-body img",
    )
    expect(message.locator(".images-blocked")).to_have_count(0)

    page.fill("#composer-cc", "boss@acme.test")
    page.fill("#composer-body", "Yes, the night desk will wait for you.")
    page.get_by_role("button", name="Send").click()
    reply = page.locator("#thread .msg-out").last
    expect(reply).to_contain_text("Yes, the night desk will wait for you.")
    expect(reply.locator(".msg-subject")).to_have_text("Re: Booking 4411: late check-in")
    expect(reply).to_contain_text("Cc: boss@acme.test")
    expect(reply.locator(".email-body p")).to_have_text("Yes, the night desk will wait for you.")
    expect(page.locator("#composer-cc")).to_have_value("")
    screenshot(page, "inbox-email-replied.png")

    deadline = time.monotonic() + 10
    while not smtp_server.messages and time.monotonic() < deadline:
        time.sleep(0.1)
    [received] = smtp_server.messages
    assert sorted(received.rcpt_tos) == ["ana.garcia@example.com", "boss@acme.test"]
    assert received.message["Cc"] == "boss@acme.test"
    assert received.message["In-Reply-To"].strip() == inbound.email_message_id
    assert errors == []
