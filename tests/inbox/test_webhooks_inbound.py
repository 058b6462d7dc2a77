"""Inbound Twilio messages through the real URL routing: verify, journal, parse, act."""

import json
import threading
import uuid
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from contacts.models import Contact
from inbox.models import Conversation, Message
from omnichannel.events import tenant_group
from omnichannel.models import WebhookEvent
from tests.inbox.webhook_helpers import (
    DROP,
    assert_empty_twiml,
    post_twilio,
    twilio_params,
    twilio_signature,
)

pytestmark = [pytest.mark.django_db, pytest.mark.clock]

SMS_SID = "SM0123456789abcdef0123456789abcdef"


def test_it_creates_the_contact_conversation_and_message_from_an_inbound_sms(sms_inbox):
    response = post_twilio(sms_inbox, "inbound_sms")

    assert_empty_twiml(response)
    contact = Contact.objects.get(tenant=sms_inbox.tenant)
    assert contact.phone == "+14155550111"
    conversation = Conversation.objects.get(inbox=sms_inbox)
    assert conversation.contact == contact
    assert conversation.status == Conversation.Status.OPEN
    message = Message.objects.get(inbox=sms_inbox)
    assert message.conversation == conversation
    assert (message.direction, message.sender_type, message.status) == ("in", "contact", "received")
    assert message.body == "Hello"
    assert message.external_id == SMS_SID
    assert conversation.last_message_at == message.created_at
    assert conversation.last_inbound_at == message.created_at


def test_it_journals_every_authenticated_request_before_processing(sms_inbox):
    post_twilio(sms_inbox, "inbound_sms")
    post_twilio(sms_inbox, "inbound_sms")  # Twilio retried: journaled again, stored once

    events = list(WebhookEvent.objects.filter(inbox=sms_inbox).order_by("id"))
    assert [e.state for e in events] == ["processed", "processed"]
    first = events[0]
    assert first.tenant_id == sms_inbox.tenant_id
    assert first.kind == "inbound"
    assert first.provider == "twilio"
    assert first.external_id == SMS_SID
    assert first.url == "http://testserver" + reverse(
        "webhooks:receive", args=["twilio", sms_inbox.webhook_token, "inbound"]
    )
    assert first.content_type == "application/x-www-form-urlencoded"
    assert "Body=Hello" in first.body and f"MessageSid={SMS_SID}" in first.body
    assert first.attempts == 1 and first.processed_at is not None
    assert "Duplicate" in events[1].error


def test_it_stores_a_duplicate_message_sid_once(sms_inbox):
    for _ in range(3):
        assert_empty_twiml(post_twilio(sms_inbox, "inbound_sms"))

    assert Message.objects.filter(inbox=sms_inbox).count() == 1
    assert Conversation.objects.filter(inbox=sms_inbox).count() == 1


def test_it_uses_the_whatsapp_profile_name_for_a_contact_without_one(whatsapp_inbox):
    assert_empty_twiml(post_twilio(whatsapp_inbox, "inbound_whatsapp_media", NumMedia="0"))

    contact = Contact.objects.get(tenant=whatsapp_inbox.tenant)
    assert contact.phone == "+14155550111"  # the whatsapp: prefix is gone
    assert contact.name == "Jane Doe"
    message = Message.objects.get(inbox=whatsapp_inbox)
    assert message.metadata["profile_name"] == "Jane Doe"
    assert message.metadata["WaId"] == "14155550111"


def test_it_names_a_known_nameless_contact_from_the_profile_name(whatsapp_inbox):
    Contact.objects.create(tenant=whatsapp_inbox.tenant, phone="+14155550111")

    post_twilio(whatsapp_inbox, "inbound_whatsapp_media", NumMedia="0")

    assert Contact.objects.get(tenant=whatsapp_inbox.tenant).name == "Jane Doe"


def test_it_keeps_the_name_a_contact_already_has(whatsapp_inbox):
    Contact.objects.create(tenant=whatsapp_inbox.tenant, phone="+14155550111", name="Dr. Jane")

    post_twilio(whatsapp_inbox, "inbound_whatsapp_media", NumMedia="0")

    assert Contact.objects.get(tenant=whatsapp_inbox.tenant).name == "Dr. Jane"


def test_it_adds_replies_to_the_open_conversation(sms_inbox):
    post_twilio(sms_inbox, "inbound_sms")
    post_twilio(sms_inbox, "inbound_sms", MessageSid="SM" + "1" * 32, Body="Are you there?")

    conversation = Conversation.objects.get(inbox=sms_inbox)
    assert list(conversation.messages.order_by("id").values_list("body", flat=True)) == [
        "Hello",
        "Are you there?",
    ]


def test_it_opens_a_new_conversation_when_the_last_one_was_closed(sms_inbox):
    post_twilio(sms_inbox, "inbound_sms")
    closed = Conversation.objects.get(inbox=sms_inbox)
    closed.status = Conversation.Status.CLOSED
    closed.save()

    assert_empty_twiml(post_twilio(sms_inbox, "inbound_sms", MessageSid="SM" + "2" * 32))

    closed.refresh_from_db()
    assert closed.status == Conversation.Status.CLOSED
    assert closed.messages.count() == 1
    new = Conversation.objects.get(inbox=sms_inbox, status=Conversation.Status.OPEN)
    assert new.pk != closed.pk
    assert new.contact_id == closed.contact_id
    assert new.messages.get().external_id == "SM" + "2" * 32


def test_it_wakes_a_snoozed_conversation(sms_inbox):
    post_twilio(sms_inbox, "inbound_sms")
    conversation = Conversation.objects.get(inbox=sms_inbox)
    conversation.status = Conversation.Status.SNOOZED
    conversation.snoozed_until = timezone.now() + timedelta(days=1)
    conversation.save()

    post_twilio(sms_inbox, "inbound_sms", MessageSid="SM" + "3" * 32)

    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.OPEN
    assert conversation.snoozed_until is None
    assert conversation.messages.count() == 2


def test_it_does_not_store_unknown_senders_when_the_inbox_does_not_create_contacts(sms_inbox):
    sms_inbox.settings = {"auto_create_contacts": False}
    sms_inbox.save()

    assert_empty_twiml(post_twilio(sms_inbox, "inbound_sms"))

    assert not Contact.objects.filter(tenant=sms_inbox.tenant).exists()
    assert not Message.objects.exists()
    event = WebhookEvent.objects.get(inbox=sms_inbox)
    assert event.state == "processed"
    assert "auto_create_contacts is off" in event.error


def test_it_stores_text_postgresql_could_not_hold(whatsapp_inbox):
    response = post_twilio(
        whatsapp_inbox, "inbound_whatsapp_media", NumMedia="0", Body="a\x00b", ProfileName="J\x00o"
    )

    assert_empty_twiml(response)
    assert Message.objects.get().body == "ab"
    assert Contact.objects.get().name == "Jo"


def test_it_refuses_a_bad_signature_and_stores_nothing(sms_inbox):
    response = post_twilio(sms_inbox, "inbound_sms", auth_token="not-the-auth-token")

    assert response.status_code == 403
    assert not WebhookEvent.objects.exists()
    assert not Message.objects.exists()
    assert not Contact.objects.exists()


def test_it_refuses_a_request_without_a_signature(sms_inbox):
    response = post_twilio(sms_inbox, "inbound_sms", signature="")

    assert response.status_code == 403
    assert not WebhookEvent.objects.exists()


def test_it_refuses_a_body_changed_after_signing(sms_inbox):
    url = "http://testserver" + reverse(
        "webhooks:receive", args=["twilio", sms_inbox.webhook_token, "inbound"]
    )
    signed_for = twilio_params("inbound_sms")
    signature = twilio_signature(sms_inbox.get_credentials()["auth_token"], url, signed_for)

    tampered = post_twilio(sms_inbox, "inbound_sms", Body="Send me money", signature=signature)

    assert tampered.status_code == 403
    assert not WebhookEvent.objects.exists()
    assert post_twilio(sms_inbox, "inbound_sms", signature=signature).status_code == 200


def test_it_verifies_the_signature_over_the_public_url_behind_a_proxy(sms_inbox, settings):
    settings.PUBLIC_BASE_URL = "https://centro.example.com"

    assert_empty_twiml(post_twilio(sms_inbox, "inbound_sms"))
    assert WebhookEvent.objects.get().url.startswith("https://centro.example.com/webhooks/")


def test_it_answers_404_for_an_unknown_inbox_token(sms_inbox):
    response = post_twilio(sms_inbox, "inbound_sms", token="not-a-real-token")

    assert response.status_code == 404
    assert not WebhookEvent.objects.exists()


def test_it_answers_404_for_an_inactive_inbox(sms_inbox):
    sms_inbox.is_active = False
    sms_inbox.save()

    assert post_twilio(sms_inbox, "inbound_sms").status_code == 404
    assert not WebhookEvent.objects.exists()


def test_it_answers_405_to_anything_but_post(sms_inbox):
    path = reverse("webhooks:receive", args=["twilio", sms_inbox.webhook_token, "inbound"])

    assert Client().get(path).status_code == 405
    assert not WebhookEvent.objects.exists()


def test_it_answers_400_and_journals_a_request_without_message_sid(sms_inbox):
    response = post_twilio(sms_inbox, "inbound_sms", MessageSid=DROP, SmsSid=DROP)

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    assert "no MessageSid" in response.content.decode()
    event = WebhookEvent.objects.get()
    assert event.state == "invalid"
    assert "no MessageSid" in event.error
    assert not Message.objects.exists()
    assert not Contact.objects.exists()
    assert not Conversation.objects.exists()


def test_it_answers_400_for_a_sender_that_is_not_a_phone_number(sms_inbox):
    response = post_twilio(sms_inbox, "inbound_sms", From="+1415")

    assert response.status_code == 400
    assert "From" in response.content.decode()
    assert WebhookEvent.objects.get().state == "invalid"
    assert not Contact.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("From", "whatsapp:+1415555\x000111"),
        ("MessageSid", "SM11111111111111111111111111111111\x00"),
        ("MediaUrl0", "https://api.twilio.com/2010-04-01/Media/ME1\x00"),
        ("MediaContentType0", "image/\x00jpeg"),
        ("To", "whatsapp:+14155238886\x1b"),
    ],
)
def test_it_answers_400_for_an_identifier_with_a_control_character(whatsapp_inbox, field, value):
    response = post_twilio(whatsapp_inbox, "inbound_whatsapp_media", **{field: value})

    assert response.status_code == 400
    reason = response.content.decode()
    assert f"{field} parameter" in reason and "control characters" in reason
    assert "\\x" in reason  # the character is named, not echoed
    event = WebhookEvent.objects.get()
    assert (event.state, event.error) == ("invalid", reason)
    assert not Message.objects.exists()
    assert not Contact.objects.exists()


@pytest.mark.parametrize("count", ["²", "\u0661", "1\x00", "-1", "1.0"])
def test_it_answers_400_for_a_media_count_that_is_not_ascii_digits(whatsapp_inbox, count):
    response = post_twilio(whatsapp_inbox, "inbound_whatsapp_media", NumMedia=count)

    assert response.status_code == 400
    assert "NumMedia" in response.content.decode()
    assert WebhookEvent.objects.get().state == "invalid"
    assert not Message.objects.exists()


def test_it_answers_400_for_a_media_url_that_is_not_a_url(whatsapp_inbox):
    response = post_twilio(whatsapp_inbox, "inbound_whatsapp_media", MediaUrl0="https://[::1")

    assert response.status_code == 400
    assert "MediaUrl0" in response.content.decode()
    assert not Message.objects.exists()


def test_it_keeps_free_text_without_its_control_characters(whatsapp_inbox):
    response = post_twilio(
        whatsapp_inbox,
        "inbound_whatsapp_media",
        NumMedia="0",
        Body="Línea 1\r\nLínea\t2\x07\x1b[31m",
        WaId="1415555\x000111",
    )

    assert_empty_twiml(response)
    message = Message.objects.get()
    assert message.body == "Línea 1\r\nLínea\t2[31m"
    assert message.metadata["WaId"] == "14155550111"


def test_it_keeps_tenants_out_of_each_others_webhooks(sms_inbox, other_tenant, twilio_inbox):
    other = twilio_inbox(other_tenant, auth_token="globex_token_0123456789")
    ours = sms_inbox.get_credentials()["auth_token"]

    # Another tenant's URL, signed with our auth token: theirs does not accept it ...
    assert post_twilio(other, "inbound_sms", auth_token=ours).status_code == 403
    # ... and their auth token does not open ours.
    theirs = "globex_token_0123456789"
    assert post_twilio(sms_inbox, "inbound_sms", auth_token=theirs).status_code == 403
    assert not WebhookEvent.objects.exists()
    assert not Message.objects.exists()

    assert_empty_twiml(post_twilio(other, "inbound_sms"))
    assert Message.objects.get().tenant_id == other_tenant.pk
    assert not Contact.objects.filter(tenant=sms_inbox.tenant).exists()


def test_it_fails_a_test_whose_fixture_type_has_no_handler(sms_inbox):
    with pytest.raises(pytest.fail.Exception, match="does not declare"):
        post_twilio(sms_inbox, "voice_inbound")


@pytest.fixture
def tenant_events(settings):
    """Events published to the tenant group on the real Redis layer, under a private prefix."""
    layers = json.loads(json.dumps(settings.CHANNEL_LAYERS))
    layers["default"]["CONFIG"]["prefix"] += f"-{uuid.uuid4().hex[:12]}"
    settings.CHANNEL_LAYERS = layers
    layer = get_channel_layer()
    channels = {}

    def subscribe(tenant):
        channels[tenant.pk] = async_to_sync(layer.new_channel)()
        async_to_sync(layer.group_add)(tenant_group(tenant.pk), channels[tenant.pk])

    def received(tenant, count):
        return [async_to_sync(layer.receive)(channels[tenant.pk]) for _ in range(count)]

    return subscribe, received


def test_it_publishes_the_message_and_conversation_after_commit(
    sms_inbox, tenant_events, django_capture_on_commit_callbacks
):
    subscribe, received = tenant_events
    subscribe(sms_inbox.tenant)

    with django_capture_on_commit_callbacks(execute=True):
        post_twilio(sms_inbox, "inbound_sms")

    events = {e["event"]: e["payload"] for e in received(sms_inbox.tenant, 2)}
    message = Message.objects.get()
    assert events["message.created"]["id"] == message.pk
    assert events["message.created"]["body"] == "Hello"
    assert events["conversation.updated"]["id"] == message.conversation_id
    assert events["conversation.updated"]["status"] == "open"


def _post_concurrently(inbox, payloads: list[dict]) -> list[int]:
    """POST the payloads at the same moment from separate threads (separate connections)."""
    barrier = threading.Barrier(len(payloads))
    statuses: list[int] = []

    def run(overrides):
        try:
            barrier.wait()
            statuses.append(post_twilio(inbox, "inbound_sms", **overrides).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(p,)) for p in payloads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


@pytest.mark.django_db(transaction=True)
def test_it_opens_one_conversation_when_first_messages_race(sms_inbox):
    for round_ in range(4):
        sids = [f"SM{round_}{n}" + "a" * 30 for n in range(4)]
        statuses = _post_concurrently(sms_inbox, [{"MessageSid": sid} for sid in sids])

        assert statuses == [200] * 4
        assert Message.objects.filter(external_id__in=sids).count() == 4
        assert Conversation.objects.filter(inbox=sms_inbox).exclude(status="closed").count() == 1
        Conversation.objects.filter(inbox=sms_inbox).update(status="closed")
    assert Contact.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_it_stores_a_message_once_when_twilio_retries_concurrently(sms_inbox):
    statuses = _post_concurrently(sms_inbox, [{}] * 4)

    assert statuses == [200] * 4
    assert Message.objects.count() == 1
    assert WebhookEvent.objects.filter(state="processed").count() == 4
