"""Canned responses with /shortcut and labels, in headless Chromium."""

import re

import pytest
from playwright.sync_api import expect

from contacts.models import Contact
from inbox.actions.labels import do_create_canned_response
from inbox.models import ConversationLabel
from omnichannel.channels import Channel
from omnichannel.labels import do_create_label
from tests.browser.test_inbox import sign_in
from tests.inbox.webhook_helpers import receive

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_agent_inserts_a_canned_response_and_labels_the_conversation(
    browser, asgi_server, owner, tenant, twilio_inbox
):
    inbox = twilio_inbox(tenant, kind=Channel.SMS)
    conversation = receive(inbox, "+14155550111", "What time is check-in?", "Ana").conversation
    do_create_canned_response(
        tenant, shortcut="checkin", title="Check-in", body="Check-in starts at 3 pm."
    )
    do_create_canned_response(tenant, shortcut="thanks", title="Thanks", body="Thank you!")
    vip = do_create_label(tenant, name="VIP", color="green")

    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.set_default_timeout(10_000)
    errors = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    sign_in(page, asgi_server, owner)
    page.click(f"#conv-{conversation.pk} a")
    page.wait_for_url(re.compile(rf"/inbox/c/{conversation.pk}/"))

    # "/che" offers the check-in response; Enter inserts it instead of sending.
    body = page.locator("#composer-body")
    body.click()
    page.keyboard.type("Hi Ana! /che")
    options = page.locator("#canned-suggestions [role='option']")
    expect(options).to_have_count(1)
    expect(options.first).to_contain_text("/checkin")
    expect(body).to_have_attribute("aria-expanded", "true")
    page.keyboard.press("Enter")
    expect(body).to_have_value("Hi Ana! Check-in starts at 3 pm.")
    expect(page.locator("#canned-suggestions")).to_be_hidden()

    # Escape closes the list and keeps what was typed.
    page.keyboard.type(" /th")
    expect(options).to_have_count(1)
    page.keyboard.press("Escape")
    expect(page.locator("#canned-suggestions")).to_be_hidden()
    expect(body).to_have_value("Hi Ana! Check-in starts at 3 pm. /th")

    # Label the conversation: the chip appears in the header and on its row.
    page.locator("#conversation-header select[name='label']").select_option(str(vip.pk))
    expect(page.locator("#conversation-header")).to_contain_text("VIP")
    expect(page.locator(f"#conv-{conversation.pk}")).to_contain_text("VIP")
    assert ConversationLabel.objects.filter(conversation=conversation, label=vip).exists()
    assert errors == []


def test_an_inserted_canned_response_greets_the_contact_by_first_name(
    browser, asgi_server, owner, tenant, twilio_inbox
):
    inbox = twilio_inbox(tenant, kind=Channel.SMS)
    conversation = receive(inbox, "+14155550111", "Is the pool open?", "Ana López").conversation
    Contact.objects.filter(pk=conversation.contact_id).update(first_name="Ana")
    do_create_canned_response(
        tenant,
        shortcut="pool",
        title="Pool hours",
        body='Hi {{firstName|default:"there"}}, the pool opens at 8 am.',
    )

    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.set_default_timeout(10_000)
    errors = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    sign_in(page, asgi_server, owner)
    page.click(f"#conv-{conversation.pk} a")
    page.wait_for_url(re.compile(rf"/inbox/c/{conversation.pk}/"))

    body = page.locator("#composer-body")
    body.click()
    page.keyboard.type("/poo")
    expect(page.locator("#canned-suggestions [role='option']")).to_have_count(1)
    page.keyboard.press("Enter")

    expect(body).to_have_value("Hi Ana, the pool opens at 8 am.")
    assert errors == []
