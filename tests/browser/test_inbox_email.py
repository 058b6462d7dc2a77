"""An email conversation in headless Chromium: the subject, sanitized HTML with the remote image
blocked, allowing it, and a reply with a CC that reaches a real SMTP server on 127.0.0.1."""

import re
import time

import pytest
from django.test import Client
from playwright.sync_api import expect

from inbox.models import Message
from tests.browser.test_inbox import screenshot, sign_in
from tests.fakes.smtp import SmtpServer
from tests.inbox.conftest import make_email_inbox
from tests.inbox.email_webhook_helpers import load, post_postmark, set_header

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


STYLED = """
<table style="width: 100%; border-collapse: collapse"><tr>
<td style="background-color: #ffeeaa; padding: 12px; text-align: center">
<p id="styled-title" style="color: rgb(204, 0, 0); font-weight: bold">Booking 4411</p>
<p style="font-family: Georgia, serif">Check-in after 23:00</p>
</td></tr></table>
<table width="300"><tr><td align="right">aligned by its attribute</td></tr></table>
<div style="position: fixed; top: 0; left: 0; width: 100%; height: 100%; margin-top: -500px">
overlay</div>
<img src="cid:logo@acme" alt="Acme logo">
<img src="{image}" alt="remote">
<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">data link</a>
<a href="javascript:alert(1)">script link</a>
<a href="https://acme.test/booking">booking link</a>
<div class="gmail_quote"><p style="font-style: italic">On Tuesday Acme wrote: confirmed</p></div>
"""
PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5Er"
    "kJggg=="
)
# CSP violations, as the page sees them (console errors alone depend on the browser's wording).
WATCH_CSP = """
window.__csp = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.__csp.push(`${e.effectiveDirective} ${e.blockedURI}`));
"""


def styled_payload(image: str, message_id: str) -> dict:
    payload = set_header(load("postmark", "inbound"), "Message-ID", message_id)
    payload["HtmlBody"] = STYLED.replace("{image}", image)
    payload["Attachments"] = [
        {
            "Name": "logo.png",
            "Content": PNG,
            "ContentType": "image/png",
            "ContentLength": 68,
            "ContentID": "logo@acme",
        }
    ]
    return payload


def test_an_emails_formatting_shows_inside_its_box_under_the_csp(
    browser, asgi_server, owner, tenant
):
    inbox = make_email_inbox(tenant, esp="postmark", server_token="pm")
    image = f"{asgi_server.url}/static/centro/favicon.svg"
    payload = styled_payload(image, "<styled-1@example.com>")
    assert post_postmark(inbox, "inbound", payload, client=Client()).status_code == 200
    first = Message.objects.get(inbox=inbox)

    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.set_default_timeout(10_000)
    page.add_init_script(WATCH_CSP)
    errors = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    sign_in(page, asgi_server, owner)
    page.goto(f"{asgi_server.url}/inbox/c/{first.conversation_id}/")
    expect(page.locator("html")).to_have_attribute("data-realtime", "connected")

    message = page.locator(f"#msg-{first.pk}")
    title = message.locator(".email-body p").first
    expect(title).to_have_text("Booking 4411")
    expect(title).to_have_css("color", "rgb(204, 0, 0)")
    expect(title).to_have_css("font-weight", "700")
    expect(message.locator(".email-body td").first).to_have_css("text-align", "center")
    expect(message.locator(".email-body td").first).to_have_css(
        "background-color", "rgb(255, 238, 170)"
    )
    # The app's own table styles stay out of the email's tables.
    aligned = message.get_by_text("aligned by its attribute")
    expect(aligned).to_have_css("text-align", re.compile("right"))
    expect(aligned).to_have_css("border-bottom-width", "0px")
    # The email sets colours: it sits on white in the (default) dark theme.
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    expect(message.locator("[data-email-body]")).to_have_css(
        "background-color", "rgb(255, 255, 255)"
    )
    # Nothing leaves the box: the overlay stays where it is in the flow.
    overlay = message.get_by_text("overlay")
    expect(overlay).to_have_css("position", "static")
    expect(overlay).to_have_css("margin-top", "0px")
    # The inline image is the stored part; the remote one waits for "Show images".
    page.wait_for_function(
        "sel => { const i = document.querySelector(sel); return i && i.naturalWidth > 0; }",
        arg=f"#msg-{first.pk} .email-body img[alt='Acme logo']",
    )
    expect(message.locator("img[alt='remote']")).not_to_have_attribute("src", image)

    # data: and javascript: links are text; the https one is a link.
    for text in ("data link", "script link"):
        expect(message.get_by_text(text)).to_be_visible()
        expect(message.get_by_role("link", name=text)).to_have_count(0)
        expect(message.get_by_text(text)).not_to_have_attribute("href", re.compile(".*"))
    message.get_by_text("data link").click()
    message.get_by_text("script link").click()
    assert len(page.context.pages) == 1
    expect(message.get_by_role("link", name="booking link")).to_have_attribute(
        "href", "https://acme.test/booking"
    )

    # Quoted history keeps its own formatting behind the toggle.
    quoted = message.locator(".email-quoted p")
    expect(quoted).not_to_be_visible()
    message.get_by_text("Show quoted text").click()
    expect(quoted).to_be_visible()
    expect(quoted).to_have_css("font-style", "italic")
    screenshot(page, "inbox-email-styled.png")

    # "Show images" swaps the message in again (htmx): still formatted.
    message.get_by_role("button", name="Show images").click()
    expect(message.locator("img[alt='remote']")).to_have_attribute("src", image)
    expect(message.locator(".email-body p").first).to_have_css("color", "rgb(204, 0, 0)")

    # A new email pushed over the websocket is formatted too.
    payload = styled_payload(image, "<styled-2@example.com>")
    assert post_postmark(inbox, "inbound", payload, client=Client()).status_code == 200
    second = Message.objects.filter(inbox=inbox).latest("pk")
    assert second.conversation_id == first.conversation_id
    pushed = page.locator(f"#msg-{second.pk} .email-body p").first
    expect(pushed).to_have_text("Booking 4411")
    expect(pushed).to_have_css("color", "rgb(204, 0, 0)")

    # The light theme keeps the email's own colours.
    page.locator("[data-theme-toggle]").click()
    expect(page.locator("html")).to_have_attribute("data-theme", "light")
    expect(pushed).to_have_css("color", "rgb(204, 0, 0)")

    assert page.evaluate("window.__csp") == []
    assert errors == []
