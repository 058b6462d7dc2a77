"""Writing first, in headless Chromium: an approved WhatsApp template sent from the composer
once the 24-hour window has closed, and a new outbound conversation started from the inbox
(pick a contact, an inbox that reaches them, write, send), on a desktop and a 390 px phone,
with the inbox's contrast and label checks."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from campaigns.services import do_save_template
from contacts.actions import do_set_consent
from contacts.models import Consent, Contact
from inbox.models import Conversation, Message
from omnichannel.channels import Channel
from tests.browser.test_inbox import screenshot, sign_in
from tests.browser.test_inbox_accessibility import CONTRAST, UNLABELLED
from tests.browser.test_inbox_realtime import inbound
from tests.fakes.twilio import simulator
from tests.inbox.webhook_helpers import receive

pytestmark = [pytest.mark.browser, pytest.mark.clock, pytest.mark.django_db(transaction=True)]

SID = "HX" + "0123456789abcdef" * 2


def new_page(browser, *, width: int = 1280):
    page = browser.new_context(viewport={"width": width, "height": 844}).new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    return page, errors


def light(page) -> None:
    page.click("[data-theme-toggle]")
    expect(page.locator("html")).to_have_attribute("data-theme", "light")


@pytest.fixture
def closed_window(tenant, twilio_inbox):
    """Luis wrote on WhatsApp 30 hours ago; the tenant has an approved template."""
    whatsapp = twilio_inbox(tenant, kind=Channel.WHATSAPP)
    receive(whatsapp, "+5215512345678", "¿Llegó mi reserva?", "Luis")
    Contact.objects.update(first_name="Luis")  # the only contact yet
    Conversation.objects.update(last_inbound_at=timezone.now() - timedelta(hours=30))
    do_save_template(
        tenant,
        name="Booking confirmed",
        channel=Channel.WHATSAPP,
        body='Hola {{firstName|default:"amigo"}}, tu reserva está confirmada.',
        content_sid=SID,
        variables={"1": "firstName"},
    )
    return Conversation.objects.get()


def test_a_whatsapp_template_is_sent_from_the_composer_outside_the_window(
    browser, asgi_server, owner, closed_window
):
    page, errors = new_page(browser)
    sign_in(page, asgi_server, owner)
    page.goto(f"{asgi_server.url}/inbox/c/{closed_window.pk}/")

    picker = page.locator("#composer-template-picker")
    expect(picker).to_contain_text(re.compile(r"The 24-hour WhatsApp window closed at \w{3} \d+"))
    expect(picker).to_contain_text("WhatsApp delivers only an approved template")
    expect(page.locator("#composer-body")).to_be_hidden()  # no free text to be refused

    page.get_by_label("Approved template").select_option(label="Booking confirmed")
    preview = picker.locator("[data-template-preview]")
    expect(preview).to_contain_text("Hola Luis, tu reserva está confirmada.")
    page.locator("#composer button[type=submit]").click()

    bubble = page.locator("#thread .msg-out").last
    expect(bubble).to_contain_text("Hola Luis, tu reserva está confirmada.")
    expect(bubble.locator(".msg-status")).to_have_class(re.compile(r"tick-sent"))
    (sent,) = simulator().sent
    assert (sent.params["ContentSid"], sent.params["ContentVariables"]) == (SID, '{"1": "Luis"}')
    assert Message.objects.get(direction="out").metadata["template"]["content_sid"] == SID
    expect(page.get_by_label("Approved template")).to_have_value("")  # ready for the next
    expect(preview).to_be_hidden()

    # A private note is text, as always.
    page.get_by_label("Private note").check()
    expect(picker).to_be_hidden()
    expect(page.locator("#composer-body")).to_be_visible()
    page.get_by_label("Reply", exact=True).check()
    expect(picker).to_be_visible()

    # Luis answers: the window is open again, and the reply is free text, without a reload.
    expect(page.locator("html")).to_have_attribute("data-realtime", "connected")
    inbound(asgi_server, closed_window.inbox, "whatsapp:+5215512345678", "¡Gracias!")
    expect(page.locator("#thread .msg-in").last).to_contain_text("¡Gracias!")
    expect(picker).to_have_count(0)
    page.locator("#composer-body").fill("De nada, Luis")
    page.locator("#composer-body").press("Enter")
    expect(page.locator("#thread .msg-out").last).to_contain_text("De nada, Luis")
    assert errors == [], errors


def test_a_new_outbound_conversation_is_started_from_the_inbox(
    browser, asgi_server, tenant, owner, twilio_inbox
):
    sms = twilio_inbox(tenant, kind=Channel.SMS, name="Bookings")
    ana = Contact.objects.create(tenant=tenant, name="Ana García", phone="+14155550111")
    eva = Contact.objects.create(tenant=tenant, name="Eva Stop", phone="+14155550122")
    do_set_consent(
        eva,
        channel=Channel.SMS,
        sender=sms.address,
        status=Consent.Status.OPTED_OUT,
        source=Consent.Source.KEYWORD,
    )
    page, errors = new_page(browser)
    sign_in(page, asgi_server, owner)

    # An opted-out contact is refused in words, in the dialog.
    page.click("#new-conversation-open")
    dialog = page.locator("#new-conversation-dialog")
    expect(dialog).to_be_visible()
    search = page.get_by_label("Find a contact by name, phone or email")
    expect(search).to_be_focused()
    search.press_sequentially("eva")
    dialog.get_by_text("Eva Stop").click()
    expect(dialog.locator(".new-option").filter(has_text="Bookings")).to_contain_text("Opted out")
    dialog.get_by_label("Message to Eva Stop").fill("Hola Eva")
    dialog.get_by_role("button", name="Send").click()
    expect(dialog.locator("#new-conversation-error")).to_contain_text(
        "opted out of SMS messages from"
    )
    assert not Message.objects.exists()

    # Another contact: found by part of the phone, written to, sent; the conversation opens.
    page.click("#new-contact-change")
    search = page.get_by_label("Find a contact by name, phone or email")
    expect(search).to_have_value("eva")  # the search is kept
    expect(search).to_be_focused()  # settled: it searches as one types
    search.fill("0111")
    dialog.get_by_text("Ana García").click()
    expect(dialog.get_by_label(re.compile("Bookings"))).to_be_checked()  # the one inbox
    body = dialog.get_by_label("Message to Ana García")
    expect(body).to_be_focused()
    body.fill("Hola Ana, ¿confirmamos la mesa para las 21:00?")
    dialog.get_by_role("button", name="Send").click()

    expect(dialog).to_be_hidden()
    conversation = Conversation.objects.get(contact=ana)
    expect(page).to_have_url(re.compile(rf"/inbox/c/{conversation.pk}/"))
    bubble = page.locator("#thread .msg-out").last
    expect(bubble).to_contain_text("¿confirmamos la mesa")
    expect(bubble.locator(".msg-status")).to_have_class(re.compile(r"tick-sent"))
    expect(page.locator(f"#conv-{conversation.pk}")).to_contain_text("Ana García")
    (sent,) = simulator().sent
    assert sent.params["To"] == "+14155550111" and "confirmamos" in sent.params["Body"]
    # The browser logs the refusal's status (400); nothing else.
    assert [e for e in errors if "status of 400" not in e] == [], errors


@pytest.mark.parametrize(("theme", "width"), [("dark", 1280), ("light", 1280), ("dark", 390)])
def test_screenshots_of_writing_first(
    browser, asgi_server, tenant, owner, closed_window, twilio_inbox, theme, width
):
    twilio_inbox(tenant, kind=Channel.SMS, name="Bookings")
    Contact.objects.create(
        tenant=tenant, name="Luisa Álvarez", phone="+14155550111", email="luisa@example.com"
    )
    page, errors = new_page(browser, width=width)
    sign_in(page, asgi_server, owner)
    if theme == "light":
        light(page)

    page.goto(f"{asgi_server.url}/inbox/c/{closed_window.pk}/")
    page.get_by_label("Approved template").select_option(label="Booking confirmed")
    expect(page.locator("[data-template-preview]")).to_be_visible()
    screenshot(page, f"inbox-template-picker-{theme}-{width}.png")
    assert page.evaluate(CONTRAST) == [] and page.evaluate(UNLABELLED) == []

    page.goto(f"{asgi_server.url}/inbox/")
    page.click("#new-conversation-open")
    dialog = page.locator("#new-conversation-dialog")
    search = page.get_by_label("Find a contact by name, phone or email")
    expect(search).to_be_focused()
    search.press_sequentially("lu")
    expect(dialog.locator("#new-contacts .new-option")).to_have_count(2)
    screenshot(page, f"inbox-new-conversation-search-{theme}-{width}.png")
    dialog.get_by_text("Luis", exact=True).click()
    dialog.locator(".new-option").filter(has_text="WhatsApp").click()
    expect(dialog.locator("#new-template-picker")).to_be_visible()
    dialog.get_by_label("Approved template", exact=True).select_option(label="Booking confirmed")
    screenshot(page, f"inbox-new-conversation-template-{theme}-{width}.png")
    assert page.evaluate(CONTRAST) == [] and page.evaluate(UNLABELLED) == []
    box = dialog.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= width, box  # fits the screen

    # The same form as a page of its own (where the dialog's link leads without JavaScript).
    page.goto(f"{asgi_server.url}/inbox/new/?q=lu")
    expect(page.locator("#new-contacts .new-option")).to_have_count(2)
    screenshot(page, f"inbox-new-conversation-page-{theme}-{width}.png")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert errors == [], errors
