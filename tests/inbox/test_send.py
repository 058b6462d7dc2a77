"""do_send_message: validation, the one transaction, and the task enqueued after commit."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from contacts.actions import do_set_consent
from contacts.models import Consent, Contact
from inbox.actions.send import do_send_message
from inbox.models import Conversation, Delivery, Message
from omnichannel.actions import ActionError
from omnichannel.channels import Channel

pytestmark = [pytest.mark.django_db, pytest.mark.clock]


def test_it_stores_message_and_delivery_and_enqueues_after_commit(
    tenant, owner, sms_inbox, fake_twilio, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        message = do_send_message(
            tenant, inbox=sms_inbox, to="(415) 555-0111", body="Hi", acting_user=owner
        )

    contact = Contact.objects.get(tenant=tenant, phone="+14155550111")
    assert message.conversation.contact == contact
    assert message.conversation.status == Conversation.Status.OPEN
    assert (message.direction, message.status, message.author) == ("out", "queued", owner)
    delivery = Delivery.objects.get(message=message)
    assert (delivery.status, delivery.recipient, delivery.provider, delivery.attempts) == (
        "queued",
        "+14155550111",
        "twilio",
        0,
    )
    message.conversation.refresh_from_db()
    assert message.conversation.last_message_at == message.created_at
    # The delivery task and two realtime events (message, conversation); no HTTP before commit.
    assert len(callbacks) == 3
    assert fake_twilio.requests == []


def test_it_enqueues_nothing_when_the_transaction_rolls_back(
    tenant, sms_inbox, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks() as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        do_send_message(tenant, inbox=sms_inbox, to="+14155550111", body="Hi")
        raise RuntimeError("rolled back")

    assert callbacks == []
    assert not Message.objects.exists() and not Delivery.objects.exists()


def test_it_reuses_the_active_conversation_and_opens_a_new_one_after_close(
    tenant, sms_inbox, contact
):
    first = do_send_message(tenant, inbox=sms_inbox, to=contact.phone, body="1")
    second = do_send_message(tenant, inbox=sms_inbox, to=contact.phone, body="2")
    assert second.conversation_id == first.conversation_id

    Conversation.objects.filter(pk=first.conversation_id).update(status="closed")
    third = do_send_message(tenant, inbox=sms_inbox, to=contact.phone, body="3")
    assert third.conversation_id != first.conversation_id


def test_it_replies_in_a_given_conversation_and_records_the_first_response(
    tenant, sms_inbox, contact
):
    inbound_at = timezone.now() - timedelta(minutes=5)
    conversation = Conversation.objects.create(
        tenant=tenant, inbox=sms_inbox, contact=contact, last_inbound_at=inbound_at
    )

    message = do_send_message(tenant, conversation=conversation.pk, body="On it")

    conversation.refresh_from_db()
    assert message.conversation == conversation
    assert conversation.first_response_at == message.created_at
    later = do_send_message(tenant, conversation=conversation, body="Done")
    conversation.refresh_from_db()
    assert conversation.first_response_at == message.created_at != later.created_at


def test_it_refuses_an_opted_out_contact_before_any_http(tenant, sms_inbox, contact, fake_twilio):
    do_set_consent(
        contact,
        channel=Channel.SMS,
        sender=sms_inbox.address,
        status=Consent.Status.OPTED_OUT,
        source=Consent.Source.KEYWORD,
    )

    with pytest.raises(ActionError) as caught:
        do_send_message(tenant, inbox=sms_inbox, to=contact.phone, body="Hi")

    assert caught.value.code == "opted_out"
    assert "STOP" in caught.value.message and "START" in caught.value.message
    assert fake_twilio.requests == []
    assert not Message.objects.exists()


def test_it_refuses_whatsapp_free_form_outside_the_24_hour_window(tenant, whatsapp_inbox, contact):
    Conversation.objects.create(
        tenant=tenant,
        inbox=whatsapp_inbox,
        contact=contact,
        last_inbound_at=timezone.now() - timedelta(hours=25),
    )

    with pytest.raises(ActionError) as caught:
        do_send_message(tenant, inbox=whatsapp_inbox, to=contact.phone, body="Hi")

    assert caught.value.code == "outside_window"
    assert "template" in caught.value.message
    with pytest.raises(ActionError, match="template"):  # never wrote at all
        do_send_message(tenant, inbox=whatsapp_inbox, to="+14155550122", body="Hi")


def test_it_sends_whatsapp_templates_outside_the_window(tenant, whatsapp_inbox, contact):
    template = {"content_sid": "HX" + "b" * 32, "variables": {"1": "Ana"}}

    message = do_send_message(
        tenant, inbox=whatsapp_inbox, to=contact.phone, body="Hi Ana", template=template
    )

    assert message.metadata["template"] == template


def test_it_sends_whatsapp_free_form_within_the_window(tenant, whatsapp_inbox, contact):
    conversation = Conversation.objects.create(
        tenant=tenant,
        inbox=whatsapp_inbox,
        contact=contact,
        last_inbound_at=timezone.now() - timedelta(hours=23),
    )

    message = do_send_message(tenant, conversation=conversation, body="Hola")

    assert message.status == Message.Status.QUEUED


def test_it_limits_sends_per_contact_per_hour(tenant, sms_inbox, contact, settings):
    settings.INBOX_CONTACT_HOURLY_LIMIT = 10
    for n in range(10):
        do_send_message(tenant, inbox=sms_inbox, to=contact.phone, body=f"#{n}")

    with pytest.raises(ActionError) as caught:
        do_send_message(tenant, inbox=sms_inbox, to=contact.phone, body="#11")

    assert caught.value.code == "rate_limited"
    assert 3500 <= caught.value.retry_after <= 3600
    assert Message.objects.count() == 10
    # Another contact is not limited.
    do_send_message(tenant, inbox=sms_inbox, to="+14155550122", body="Hi")


def test_it_reads_the_contact_limit_from_the_inbox_settings(tenant, twilio_inbox, contact):
    inbox = twilio_inbox(tenant, contact_hourly_limit=2)
    do_send_message(tenant, inbox=inbox, to=contact.phone, body="1")
    do_send_message(tenant, inbox=inbox, to=contact.phone, body="2")
    with pytest.raises(ActionError, match="2 messages in the last hour"):
        do_send_message(tenant, inbox=inbox, to=contact.phone, body="3")


def test_it_stores_private_notes_without_sending_them(
    tenant, owner, sms_inbox, contact, fake_twilio, django_capture_on_commit_callbacks
):
    conversation = Conversation.objects.create(tenant=tenant, inbox=sms_inbox, contact=contact)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        note = do_send_message(
            tenant, conversation=conversation, body="VIP", is_private=True, acting_user=owner
        )

    assert note.is_private and note.status == Message.Status.SENT
    assert not Delivery.objects.exists()
    assert len(callbacks) == 1  # the realtime event only
    assert fake_twilio.requests == []


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"body": ""}, "Write a message"),
        ({"body": "x" * 1601}, "limit is 1600"),
        ({"body": "Hi", "media_urls": ["ftp://x/y"]}, "not an http"),
        ({"body": "Hi", "media_urls": [f"https://x/{n}" for n in range(11)]}, "at most 10"),
        ({"template": {"content_sid": "nope"}}, "content_sid"),
        ({"body": "Hi", "to": "12"}, "not a valid phone number"),
        ({"body": "Hi", "to": None}, "Say who to send to"),
    ],
)
def test_it_refuses_invalid_messages_clearly(tenant, sms_inbox, kwargs, words):
    kwargs = {"to": "+14155550111", **kwargs}
    with pytest.raises(ActionError, match=words):
        do_send_message(tenant, inbox=sms_inbox, **kwargs)
    assert not Message.objects.exists()


def test_it_refuses_a_disabled_inbox(tenant, sms_inbox):
    sms_inbox.is_active = False
    sms_inbox.save()
    with pytest.raises(ActionError, match="disabled"):
        do_send_message(tenant, inbox=sms_inbox, to="+14155550111", body="Hi")


def test_it_refuses_another_tenants_conversation_and_inbox(
    tenant, other_tenant, twilio_inbox, fake_twilio
):
    theirs = twilio_inbox(other_tenant)
    their_contact = Contact.objects.create(tenant=other_tenant, phone="+14155550199")
    their_conversation = Conversation.objects.create(
        tenant=other_tenant, inbox=theirs, contact=their_contact
    )

    for kwargs in (
        {"conversation": their_conversation},
        {"conversation": their_conversation.pk},
        {"inbox": theirs, "to": "+14155550111"},
    ):
        with pytest.raises(ActionError) as caught:
            do_send_message(tenant, body="Hi", **kwargs)
        assert caught.value.code == "not_found"
    assert not Message.objects.exists()
    assert fake_twilio.requests == []
