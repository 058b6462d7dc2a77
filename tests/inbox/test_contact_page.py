"""The inbox's parts of the contacts app's pages (inbox.contact_page, inbox.selectors.senders_for),
reached as contacts reaches them: through contacts.hooks."""

import pytest

from contacts import hooks
from tests.inbox.api_factories import make_contact, make_conversation, make_inbox, make_message

pytestmark = pytest.mark.django_db


def test_the_tenants_inboxes_are_its_senders_by_name(tenant, other_tenant):
    support = make_inbox(tenant, name="Support", address="+14155550100")
    sales = make_inbox(tenant, kind="whatsapp", name="Sales", address="+14155550101")
    make_inbox(other_tenant, name="Theirs")
    assert hooks.senders(tenant) == [
        (sales.kind, sales.address, "Sales"),
        (support.kind, support.address, "Support"),
    ]
    assert hooks.senders(tenant)[0].channel == "whatsapp"


def test_the_erasure_page_says_how_many_messages_lose_their_text(tenant):
    contact = make_contact(tenant, name="Ana")
    conversation = make_conversation(make_inbox(tenant), contact)
    make_message(conversation, direction="in", body="Hola")
    make_message(conversation, direction="out", body="Hola Ana")
    lines = [line for hook in hooks.erase_previews for line in hook(contact)]
    assert "the text of the 2 messages in 1 conversation becomes “[erased]”" in lines[0]


def test_a_contact_with_conversations_shows_them_and_cannot_be_deleted(tenant, owner, login):
    kept = make_contact(tenant, name="Ana")
    conversation = make_conversation(make_inbox(tenant, name="Support"), kept)
    deletable = make_contact(tenant, name="Bea")
    client = login(owner)

    html = client.get(f"/contacts/{kept.pk}/").content.decode()
    assert 'id="contact-conversations"' in html
    assert f'href="/inbox/c/{conversation.pk}/"' in html
    assert f'action="/contacts/{kept.pk}/delete/"' not in html

    html = client.get(f"/contacts/{deletable.pk}/").content.decode()
    assert "No conversations yet." in html
    assert f'action="/contacts/{deletable.pk}/delete/"' in html
