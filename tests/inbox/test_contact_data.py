"""The inbox's part of a GDPR erasure (inbox.actions.contact_data, through contacts.hooks)."""

import pytest
from django.core.cache import cache

from contacts.gdpr import do_erase_contact
from contacts.services import do_create_contact
from inbox.models import Conversation, Delivery, Message
from omnichannel.api import idempotency_cache_key
from omnichannel.webhooks import journal
from tests.inbox.api_factories import bearer, make_conversation, make_inbox, make_message
from tests.inbox.conftest import make_email_inbox

pytestmark = pytest.mark.django_db


@pytest.fixture
def ana(tenant):
    return do_create_contact(
        tenant,
        fields={"first_name": "Ana", "last_name": "García"},
        phones=["+14155550111"],
        emails=["ana@example.com"],
    )


@pytest.fixture
def bob(tenant):
    return do_create_contact(tenant, fields={"name": "Bob"}, phones=["+14155550199"])


def test_every_journaled_request_that_carried_them_loses_its_body(tenant, ana):
    sms, email = make_inbox(tenant), make_email_inbox(tenant)
    form = journal.record(
        sms, kind="status", url="/w", content_type="x", body="To=%2B14155550111&MessageSid=SMx"
    )
    journal.mark_processed(form, "Delivery 4 is delivered.")
    # Multipart email with a binary attachment is journaled as base64.
    binary = journal.record(
        email,
        kind="inbound",
        url="/w",
        content_type="multipart/form-data; boundary=b",
        body=b"--b\r\nfrom: ANA@example.com\r\n--b\r\n\x00\xff\xfe binary",
    )
    journal.mark_processed(binary, "Stored as message 9.")
    deferred = journal.record(
        sms, kind="status", url="/w", content_type="x", body="To=%2B14155550111&MessageSid=SMy"
    )
    noted = journal.record(email, kind="status", url="/w", content_type="x", body="{}")
    journal.mark_processed(noted, "ana@example.com opted out of email from support@acme.test.")
    bobs = journal.record(
        sms, kind="inbound", url="/w", content_type="x", body="From=%2B14155550199&Body=hi"
    )
    assert binary.body_encoding == "base64" and deferred.state == "pending"

    do_erase_contact(ana)

    for event in (form, binary, deferred, noted, bobs):
        event.refresh_from_db()
    assert [e.body for e in (form, binary, deferred, noted)] == ["", "", "", ""]
    assert (form.state, form.error) == ("processed", "Delivery 4 is delivered.")
    assert binary.body_encoding == ""
    # A deferred callback can no longer be processed: closed, saying why.
    assert (deferred.state, deferred.error) == (
        "invalid",
        "Emptied by a GDPR erasure before it was processed.",
    )
    assert noted.error == "[erased] opted out of email from support@acme.test."
    assert bobs.body == "From=%2B14155550199&Body=hi"


def test_timeline_lines_stay_masked_and_campaign_messages_keep_their_links(tenant, ana, bob):
    conversation = make_conversation(make_inbox(tenant), ana)
    line = make_message(
        conversation,
        sender_type="system",
        is_private=True,
        body="Closed because this contact was merged into Ana García (+14155550111).",
        metadata={"event": "contact_merged", "continued_in": 7},
    )
    closed = make_message(
        conversation, sender_type="system", is_private=True, body="Closed by Owner."
    )
    campaign = make_message(
        conversation,
        sender_type="system",
        body="Hi Ana, 20% off!",
        metadata={"campaign_id": 5, "campaign_recipient_id": 9, "template": {"1": "Ana"}},
    )
    bobs = make_message(make_conversation(make_inbox(tenant), bob), body="Hi Bob")

    do_erase_contact(ana)

    for message in (line, closed, campaign, bobs):
        message.refresh_from_db()
    assert line.body == "Closed because this contact was merged into [erased] ([erased])."
    assert line.metadata == {"event": "contact_merged", "continued_in": 7}
    assert closed.body == "Closed by Owner."
    assert campaign.body == "[erased]"
    assert campaign.metadata == {"erased": True, "campaign_id": 5, "campaign_recipient_id": 9}
    assert Delivery.objects.get(message=campaign).recipient == ""
    assert (bobs.body, Delivery.objects.get(message=bobs).recipient) == ("Hi Bob", "+14155550199")


def test_email_threads_lose_their_subject_and_stay_apart(tenant, ana):
    inbox = make_email_inbox(tenant)
    threads = [
        make_conversation(inbox, ana, subject=subject) for subject in ("Ana's trip", "Invoice")
    ]
    make_message(threads[0], direction="in", subject="Ana's trip", body="Hola")

    do_erase_contact(ana)

    subjects = {c.pk: c.subject for c in Conversation.objects.filter(contact=ana)}
    assert subjects == {c.pk: f"[erased #{c.pk}]" for c in threads}
    assert Message.objects.get(conversation=threads[0]).subject == "[erased]"


def test_it_forgets_the_idempotency_keys_that_led_to_their_messages_only(
    client, tenant, api_token, ana, bob, sms_inbox, django_capture_on_commit_callbacks
):
    def send(to: str, key: str):
        return client.post(
            "/api/v1/messages",
            data={"channel": "sms", "to": to, "body": "Your table is ready"},
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY=key,
            **bearer(api_token),
        )

    assert send(ana.phone, "ana-1").status_code == 201
    assert send(bob.phone, "bob-1").status_code == 201
    ana_key = idempotency_cache_key(tenant.pk, "inbox", "ana-1")
    assert cache.get(ana_key) is not None

    with django_capture_on_commit_callbacks(execute=True):
        do_erase_contact(ana)

    assert cache.get(ana_key) is None
    assert send(bob.phone, "bob-1").status_code == 200  # Bob's retry is still a repeat
