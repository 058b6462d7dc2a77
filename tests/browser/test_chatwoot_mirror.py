"""A mirrored Chatwoot conversation in headless Chromium against the real ASGI server and the
fake Chatwoot server, which posts its signed webhooks over HTTP as Chatwoot does: a customer
writes in Chatwoot and the conversation appears live in Centro's inbox; a Centro agent's reply
reaches the Chatwoot conversation and its echo never comes back as a second message; a
Chatwoot agent's reply shows live as outbound."""

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from contacts.models import Contact
from inbox.models import Conversation
from tests.browser.test_inbox import sign_in
from tests.browser.test_inbox_realtime import mark_loaded, new_page
from tests.fakes import chatwoot
from tests.inbox.chatwoot_helpers import make_cw_inbox

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

JANE = "+14155550123"


@pytest.fixture
def cw_server():
    server = chatwoot.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def mirrored(tenant, cw_server, asgi_server):
    """A Chatwoot inbox mirroring into Centro, the fake Chatwoot posting to its webhook URL."""
    inbox = make_cw_inbox(tenant, cw_server, mirror=True)
    path = reverse("webhooks:receive", args=["chatwoot", inbox.webhook_token, "events"])
    cw_server.configure_webhook(asgi_server.url + path, inbox.get_credentials()["webhook_secret"])
    Contact.objects.create(tenant=tenant, name="Jane Doe", phone=JANE)
    return inbox


def test_a_mirrored_conversation_appears_live_and_an_agent_replies(
    browser, asgi_server, owner, mirrored, cw_server
):
    page = new_page(browser)
    sign_in(page, asgi_server, owner)
    mark_loaded(page)

    record = cw_server.incoming(JANE, "Hi, where is my order?", name="Jane Doe")
    cw_server.wait_for_webhooks()
    assert {status for *_, status in cw_server.deliveries} == {200}, cw_server.deliveries
    conversation = Conversation.objects.get(inbox=mirrored)
    assert conversation.external_thread_id == str(record["conversation_id"])
    row = page.locator(f"#conv-{conversation.pk}")
    expect(row).to_contain_text("Hi, where is my order?")
    expect(row.locator(".channel-badge")).to_have_class(re.compile("ch-chatwoot"))
    row.locator("a").click()
    expect(page.locator("#thread")).to_contain_text("Hi, where is my order?")
    mark_loaded(page)

    page.fill("#composer-body", "It ships today")
    page.keyboard.press("Enter")
    reply = page.locator("#thread .msg-out").last
    expect(reply).to_contain_text("It ships today")
    expect(reply.locator(".msg-status")).to_have_class(re.compile("tick-sent"))
    # In the Chatwoot conversation, marked as Centro's; its message_created echo came back.
    [posted] = [m for m in cw_server.messages if m["content"] == "It ships today"]
    assert posted["conversation_id"] == record["conversation_id"]
    assert posted["source_id"].startswith("centro:")
    cw_server.wait_for_webhooks()
    assert cw_server.event_names().count("message_created") == 2
    assert {status for *_, status in cw_server.deliveries} == {200}, cw_server.deliveries

    cw_server.agent_reply(record["conversation_id"], "Ann from Chatwoot here")
    cw_server.wait_for_webhooks()
    expect(page.locator("#thread .msg-out").last).to_contain_text("Ann from Chatwoot here")
    # Ours once, the Chatwoot agent's once: the echo was not stored again.
    expect(page.locator("#thread .msg-out")).to_have_count(2)
    assert conversation.messages.filter(body="It ships today").count() == 1
    assert page.errors == [], page.errors
