"""iMessage through BlueBubbles in headless Chromium against the real ASGI server: webhooks
POSTed over HTTP the way the server posts them (JSON, the token in the URL), sends going to
the fake BlueBubbles server, SMS fallback to the Twilio simulator."""

import json
import re

import httpx
import pytest
from django.core.cache import cache
from django.urls import reverse
from playwright.sync_api import expect

from inbox.models import Conversation, Message
from omnichannel.channels import Channel
from tests.browser.test_inbox import screenshot, sign_in
from tests.browser.test_inbox_realtime import mark_loaded, new_page, wait_until_viewed
from tests.fakes import bluebubbles
from tests.fakes.bluebubbles import fixture
from tests.inbox.bluebubbles_helpers import deliver_all, make_bb_inbox

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def bb_server():
    server = bluebubbles.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def imessage(tenant, bb_server, twilio_inbox):
    cache.clear()
    inbox = make_bb_inbox(tenant, bb_server)
    inbox.fallback_inbox = twilio_inbox(tenant, kind=Channel.SMS)
    inbox.save(update_fields=["fallback_inbox"])
    return inbox


def post(server, inbox, payload: dict) -> None:
    path = reverse("webhooks:receive", args=["bluebubbles", inbox.webhook_token, "events"])
    response = httpx.post(
        f"{server.url}{path}",
        content=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 200, response.text[:500]


def test_an_imessage_conversation_live(browser, asgi_server, tenant, owner, imessage, bb_server):
    page = new_page(browser)
    sign_in(page, asgi_server, owner)
    mark_loaded(page)

    post(asgi_server, imessage, fixture("new_message"))
    conversation = Conversation.objects.get(inbox=imessage)
    row = page.locator(f"#conv-{conversation.pk}")
    expect(row).to_contain_text("Hi, is my order ready?")
    expect(row.locator(".channel-badge")).to_have_class(re.compile("ch-imessage"))
    row.locator("a").click()
    expect(page.locator(".detail")).to_have_class(re.compile("ch-imessage"))
    mark_loaded(page)
    # Typing is not caught up later like messages: the page must be known to view it first.
    wait_until_viewed(conversation)

    post(asgi_server, imessage, fixture("typing_indicator"))
    expect(page.locator("#contact-typing")).to_contain_text("is typing…")

    page.fill("#composer-body", "Yes, it is ready")
    page.keyboard.press("Enter")
    reply = page.locator("#thread .msg-out").last
    expect(reply).to_contain_text("Yes, it is ready")
    expect(reply.locator(".msg-status")).to_have_class(re.compile("tick-sent"))
    [sent] = bb_server.sent
    post(asgi_server, imessage, bb_server.echo(sent))
    post(asgi_server, imessage, bb_server.updated(sent, dateDelivered=1767225662000))
    expect(reply.locator(".msg-status")).to_have_class(re.compile("tick-delivered"))
    post(asgi_server, imessage, bb_server.updated(sent, dateRead=1767225700000))
    expect(reply.locator(".msg-status")).to_have_class(re.compile("tick-read"))
    expect(page.locator("#thread .msg-out")).to_have_count(1)
    blue = reply.locator(".bubble").evaluate("e => getComputedStyle(e).backgroundColor")

    # One message by SMS on purpose: it goes through Twilio, green, the switch noted.
    page.check("#composer-force-fallback")
    page.fill("#composer-body", "Sending the code by SMS")
    page.keyboard.press("Enter")
    by_sms = page.locator("#thread .msg-out").last
    expect(by_sms).to_contain_text("Sending the code by SMS")
    expect(by_sms).to_have_class(re.compile("ch-sms"))
    expect(by_sms.locator(".msg-status")).to_have_class(re.compile("tick-sent"))
    expect(by_sms).to_contain_text("instead of iMessage")
    expect(page.locator("#composer-force-fallback")).not_to_be_checked()  # one message only
    green = by_sms.locator(".bubble").evaluate("e => getComputedStyle(e).backgroundColor")
    assert blue != green
    assert len(bb_server.sent) == 1
    message = Message.objects.get(body="Sending the code by SMS")
    assert message.deliveries.get().inbox == imessage.fallback_inbox
    assert page.errors == [], page.errors
    screenshot(page, "inbox-imessage-dark-1280.png")


def test_a_number_without_imessage_goes_green_by_sms(
    browser, asgi_server, tenant, owner, imessage, bb_server
):
    from inbox.actions.send import do_send_message

    bb_server.not_imessage.add("+14155550122")
    post(asgi_server, imessage, fixture("new_message"))
    page = new_page(browser)
    sign_in(page, asgi_server, owner)
    message = do_send_message(
        tenant, inbox=imessage, to="+14155550122", body="Your table is booked", acting_user=owner
    )
    deliver_all(message)  # whoever runs the queued delivery, it is claimed once
    page.goto(f"{asgi_server.url}/inbox/c/{message.conversation_id}/")
    bubble = page.locator(f"#msg-{message.pk}")
    expect(bubble).to_have_class(re.compile("ch-sms"))
    expect(bubble).to_contain_text("instead of iMessage")
    expect(bubble.locator(".msg-status")).to_have_class(re.compile("tick-sent"))
    assert not bb_server.sent
    assert page.errors == [], page.errors


@pytest.mark.parametrize(("theme", "width"), [("light", 1280), ("dark", 390), ("light", 390)])
def test_screenshots_of_an_imessage_thread(
    browser, asgi_server, tenant, owner, imessage, bb_server, theme, width
):
    post(asgi_server, imessage, fixture("new_message"))
    post(asgi_server, imessage, fixture("new_message_reaction"))
    post(asgi_server, imessage, fixture("new_message_group"))
    conversation = Conversation.objects.get(inbox=imessage, participants=[])
    page = new_page(browser, width=width)
    sign_in(page, asgi_server, owner)
    if theme == "light":
        page.click("[data-theme-toggle]")
        expect(page.locator("html")).to_have_attribute("data-theme", "light")
    page.goto(f"{asgi_server.url}/inbox/c/{conversation.pk}/")
    expect(page.locator("#thread .msg-reactions")).to_contain_text("❤️")
    screenshot(page, f"inbox-imessage-{theme}-{width}.png")
    group = Conversation.objects.exclude(participants=[]).get(inbox=imessage)
    page.goto(f"{asgi_server.url}/inbox/c/{group.pk}/")
    expect(page.locator(".conv-participants")).to_contain_text("With")
    screenshot(page, f"inbox-imessage-group-{theme}-{width}.png")
    assert page.errors == [], page.errors


@pytest.mark.parametrize(("theme", "width"), [("dark", 1280), ("light", 1280), ("dark", 390)])
def test_screenshots_of_a_bluebubbles_channel_settings_page(
    browser, asgi_server, tenant, owner, imessage, theme, width
):
    page = new_page(browser, width=width)
    sign_in(page, asgi_server, owner)
    if theme == "light":
        page.click("[data-theme-toggle]")
        expect(page.locator("html")).to_have_attribute("data-theme", "light")
    page.goto(f"{asgi_server.url}/settings/channels/{imessage.pk}/")
    expect(page.locator("#channel-mark-read")).to_be_checked()
    expect(page.locator("body")).to_contain_text("Webhooks carry the server password")
    screenshot(page, f"settings-channel-bluebubbles-{theme}-{width}.png")
    assert page.errors == [], page.errors
