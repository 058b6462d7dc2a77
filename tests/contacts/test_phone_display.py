"""Phones where people read them: national for the tenant's own country, international for
others, never the raw E.164 the database keeps (links and form values keep it)."""

import re

import pytest

from contacts.models import Contact
from inbox.actions.contact_signals import do_note_contact_typing
from inbox.models import Conversation
from inbox.providers.base import TypingChanged
from omnichannel.events import conversation_group
from tests.inbox.api_factories import make_conversation, make_inbox, make_message

pytestmark = pytest.mark.django_db

MEXICAN = "+525512345678"
AMERICAN = "+14155550111"


def shown(html: str) -> str:
    """``html`` without what machines read: ``tel:`` links, form values, ids in URLs."""
    return re.sub(r'(href="tel:|value=")\+\d+', r"\1", html)


@pytest.fixture
def mexican_tenant(tenant):
    tenant.default_region = "MX"
    tenant.save(update_fields=["default_region"])
    return tenant


@pytest.fixture
def conversations(mexican_tenant):
    inbox = make_inbox(mexican_tenant, address="+525587654321")
    rows = {}
    for phone in (MEXICAN, AMERICAN):
        contact = Contact.objects.create(tenant=mexican_tenant, phone=phone)
        rows[phone] = make_conversation(inbox, contact)
        make_message(rows[phone], direction="in", body="Hola")
    return rows


def assert_formatted(html: str) -> None:
    text = shown(html)
    assert "55 1234 5678" in text and "+52 55 1234 5678" not in text
    assert "+1 415-555-0111" in text
    assert MEXICAN not in text and AMERICAN not in text


def test_the_inbox_list_shows_phones_for_people(owner, login, conversations):
    assert_formatted(login(owner).get("/inbox/").content.decode())


def test_a_conversation_header_and_contact_panel_show_phones_for_people(
    owner, login, conversations
):
    client = login(owner)
    for conversation in conversations.values():
        html = client.get(f"/inbox/c/{conversation.pk}/").content.decode()
        other = conversation.contact.phone
        text = shown(html)
        assert other not in text
        header = re.search(r'<header id="conversation-header".*?</header>', html, re.S).group(0)
        panel = re.search(r'<aside id="contact-panel".*?</aside>', html, re.S).group(0)
        expected = "55 1234 5678" if other == MEXICAN else "+1 415-555-0111"
        assert expected in header and expected in panel
        assert "+52 55 1234 5678" not in header + panel  # a Mexican tenant dials it nationally


def test_a_realtime_row_shows_phones_for_people(owner, login, conversations):
    # The fragment the websocket pushes is rendered by the same code as the HTMX list refresh.
    html = login(owner).get("/inbox/", headers={"HX-Request": "true"}).content.decode()
    assert_formatted(html)


def test_contacts_list_and_contact_page_show_phones_for_people(
    owner, login, conversations, mexican_tenant
):
    client = login(owner)
    assert_formatted(client.get("/contacts/").content.decode())
    contact = Contact.objects.get(tenant=mexican_tenant, phone=MEXICAN)
    html = client.get(f"/contacts/{contact.pk}/").content.decode()
    assert f'<a href="tel:{MEXICAN}">55 1234 5678</a>' in html
    assert MEXICAN not in shown(html)


def test_channel_settings_show_inbox_addresses_for_people(owner, login, conversations):
    client = login(owner)
    inbox = Conversation.objects.first().inbox
    for url in ("/settings/channels/", f"/settings/channels/{inbox.pk}/"):
        html = client.get(url).content.decode()
        assert "55 8765 4321" in html and "+525587654321" not in shown(html)


def test_the_notification_log_names_a_contact_without_a_name_by_their_phone(
    owner, login, conversations, mexican_tenant
):
    contact = Contact.objects.get(tenant=mexican_tenant, phone=AMERICAN)
    html = login(owner).get(f"/notifications/contacts/{contact.pk}/").content.decode()
    assert "Notifications for +1 415-555-0111" in html and AMERICAN not in shown(html)


def test_an_unnamed_inbox_is_named_after_its_channel_and_formatted_number(mexican_tenant):
    assert make_inbox(mexican_tenant, address="+525587654321").name == "SMS 55 8765 4321"
    assert make_inbox(mexican_tenant, address="+14155550123").name == "SMS +1 415-555-0123"
    # Named in words outside a page (the admin, messages): international.
    assert str(make_inbox(mexican_tenant, address="+525511112222", name="Desk")) == (
        "Desk (SMS +52 55 1111 2222)"
    )


def test_the_typing_indicator_names_a_contact_without_a_name_by_their_formatted_phone(
    conversations, group_events, django_capture_on_commit_callbacks
):
    conversation = conversations[MEXICAN]
    events = group_events(conversation_group(conversation.tenant_id, conversation.pk))
    with django_capture_on_commit_callbacks(execute=True):
        do_note_contact_typing(conversation.inbox, TypingChanged(sender=MEXICAN, typing=True))

    assert [event["payload"]["name"] for event in events()] == ["55 1234 5678"]
