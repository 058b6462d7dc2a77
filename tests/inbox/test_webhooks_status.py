"""Twilio status callbacks: deliveries only move forward, whatever order Twilio sends them in."""

from datetime import timedelta

import pytest
from django.utils import timezone

from contacts.actions import is_opted_out
from inbox.models import Delivery
from omnichannel.models import WebhookEvent
from omnichannel.tasks import replay_pending_webhooks_task
from omnichannel.webhooks import journal
from tests.inbox.webhook_helpers import make_outbound, post_twilio

pytestmark = [pytest.mark.django_db, pytest.mark.clock]

SID = "SM22222222222222222222222222222222"
WHATSAPP_SID = "SM44444444444444444444444444444444"


@pytest.fixture
def delivery(sms_inbox):
    return make_outbound(sms_inbox, to="+14155550111", sid=SID)


def statuses(delivery):
    delivery.refresh_from_db()
    delivery.message.refresh_from_db()
    return delivery.status, delivery.message.status


def test_it_moves_a_delivery_forward_through_each_status(sms_inbox, delivery):
    response = post_twilio(sms_inbox, "status_sending")
    assert response.status_code == 204
    assert statuses(delivery) == ("sending", "sending")
    assert delivery.sent_at is None

    assert post_twilio(sms_inbox, "status_sent").status_code == 204
    assert statuses(delivery) == ("sent", "sent")
    assert delivery.sent_at is not None

    assert post_twilio(sms_inbox, "status_delivered").status_code == 204
    assert statuses(delivery) == ("delivered", "delivered")
    assert delivery.delivered_at >= delivery.sent_at
    assert delivery.error_code == ""


def test_it_records_a_whatsapp_read_receipt(whatsapp_inbox):
    delivery = make_outbound(whatsapp_inbox, to="+14155550111", sid=WHATSAPP_SID, status="sent")

    assert (
        post_twilio(whatsapp_inbox, "status_whatsapp_read", MessageStatus="delivered").status_code
        == 204
    )
    assert post_twilio(whatsapp_inbox, "status_whatsapp_read").status_code == 204

    assert statuses(delivery) == ("read", "read")
    assert delivery.read_at >= delivery.delivered_at


def test_it_fills_in_the_times_a_read_implies(whatsapp_inbox):
    delivery = make_outbound(whatsapp_inbox, to="+14155550111", sid=WHATSAPP_SID)

    post_twilio(whatsapp_inbox, "status_whatsapp_read")

    assert statuses(delivery) == ("read", "read")
    assert delivery.sent_at and delivery.delivered_at and delivery.read_at


def test_it_explains_an_undelivered_message_to_the_agent(sms_inbox, delivery):
    post_twilio(sms_inbox, "status_sent")

    assert post_twilio(sms_inbox, "status_undelivered_30003").status_code == 204

    assert statuses(delivery) == ("undelivered", "undelivered")
    assert delivery.error_code == "30003"
    assert "unreachable" in delivery.error_message
    assert delivery.message.error_code == "30003"
    assert delivery.message.error_message == delivery.error_message
    assert delivery.failed_at is not None


def test_it_names_an_unknown_error_code_in_a_generic_sentence(sms_inbox, delivery):
    post_twilio(sms_inbox, "status_undelivered_30003", ErrorCode="39999")

    statuses(delivery)
    assert delivery.error_code == "39999"
    assert delivery.error_message.startswith("The provider reported error 39999")


def test_it_ignores_a_sent_arriving_after_delivered(sms_inbox, delivery):
    post_twilio(sms_inbox, "status_delivered")
    delivered_at = Delivery.objects.get(pk=delivery.pk).delivered_at

    assert post_twilio(sms_inbox, "status_sent").status_code == 204
    assert post_twilio(sms_inbox, "status_sending").status_code == 204

    assert statuses(delivery) == ("delivered", "delivered")
    assert delivery.delivered_at == delivered_at
    assert "stays delivered" in WebhookEvent.objects.order_by("id").last().error


def test_it_treats_repeated_callbacks_as_no_ops(sms_inbox, delivery):
    post_twilio(sms_inbox, "status_delivered")
    first = Delivery.objects.get(pk=delivery.pk)

    for _ in range(3):
        assert post_twilio(sms_inbox, "status_delivered").status_code == 204

    assert statuses(delivery) == ("delivered", "delivered")
    assert delivery.delivered_at == first.delivered_at
    assert WebhookEvent.objects.filter(kind="status", state="processed").count() == 4


def test_it_keeps_the_first_terminal_status(sms_inbox, delivery):
    post_twilio(sms_inbox, "status_undelivered_30003")

    post_twilio(sms_inbox, "status_delivered")

    assert statuses(delivery) == ("undelivered", "undelivered")
    assert delivery.delivered_at is None


def test_it_defers_callbacks_for_unknown_messages_then_closes_them(sms_inbox):
    response = post_twilio(sms_inbox, "status_delivered", MessageSid="SM" + "9" * 32)

    assert response.status_code == 204
    event = WebhookEvent.objects.get()
    assert event.state == "pending"
    assert "sent outside Centro" in event.error

    WebhookEvent.objects.filter(pk=event.pk).update(
        received_at=timezone.now() - journal.DEFER_LIMIT - timedelta(seconds=1)
    )
    assert replay_pending_webhooks_task.apply().get() == 1
    event.refresh_from_db()
    assert event.state == "processed"
    assert "Closed after" in event.error


def test_it_applies_a_callback_that_arrived_before_the_send_was_recorded(sms_inbox, delivery):
    # The callback wins the race against the worker that stores the provider id.
    Delivery.objects.filter(pk=delivery.pk).update(provider_message_id="")
    post_twilio(sms_inbox, "status_delivered")
    assert WebhookEvent.objects.get().state == "pending"
    Delivery.objects.filter(pk=delivery.pk).update(provider_message_id=SID)

    WebhookEvent.objects.update(received_at=timezone.now() - timedelta(minutes=1))
    assert replay_pending_webhooks_task.apply().get() == 1

    assert statuses(delivery) == ("delivered", "delivered")
    assert WebhookEvent.objects.get().state == "processed"


def test_it_does_not_touch_another_tenants_delivery(
    sms_inbox, delivery, other_tenant, twilio_inbox
):
    theirs = twilio_inbox(other_tenant)

    assert post_twilio(theirs, "status_delivered").status_code == 204

    assert statuses(delivery) == ("queued", "queued")
    assert "sent outside Centro" in WebhookEvent.objects.get(inbox=theirs).error


def test_it_opts_the_contact_out_on_error_21610(sms_inbox, delivery):
    contact = delivery.message.conversation.contact

    post_twilio(sms_inbox, "status_undelivered_30003", ErrorCode="21610")

    assert statuses(delivery) == ("undelivered", "undelivered")
    assert "opted out" in delivery.error_message
    assert is_opted_out(contact, channel="sms", sender=sms_inbox.address)
    consent = contact.consents.get()
    assert consent.source == "provider_error"


def test_it_answers_400_for_a_callback_without_a_status(sms_inbox, delivery):
    response = post_twilio(sms_inbox, "status_delivered", SmsStatus="")
    assert response.status_code == 204  # MessageStatus alone is enough

    response = post_twilio(sms_inbox, "status_sent", MessageStatus="exploded", SmsStatus="")

    assert response.status_code == 400
    assert "exploded" in response.content.decode()
    assert WebhookEvent.objects.order_by("id").last().state == "invalid"


def test_it_refuses_an_unsigned_status_callback(sms_inbox, delivery):
    response = post_twilio(sms_inbox, "status_delivered", auth_token="wrong")

    assert response.status_code == 403
    assert statuses(delivery) == ("queued", "queued")
    assert not WebhookEvent.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("MessageSid", "SM2222222222222222222222222222222\x00"),
        ("MessageStatus", "delivered\x00"),
        ("ErrorCode", "30003\x00"),
        ("ErrorCode", "\uff13\uff10\uff10\uff10\uff13"),  # fullwidth digits: not an error code
    ],
)
def test_it_answers_400_for_an_unusable_identifier(sms_inbox, delivery, field, value):
    response = post_twilio(sms_inbox, "status_undelivered_30003", **{field: value})

    assert response.status_code == 400
    assert field in response.content.decode()
    assert "\x00" not in response.content.decode()
    assert WebhookEvent.objects.get().state == "invalid"
    assert statuses(delivery) == ("queued", "queued")


def test_it_keeps_an_error_message_without_its_control_characters(sms_inbox, delivery):
    post_twilio(
        sms_inbox, "status_undelivered_30003", ErrorCode="39999", ErrorMessage="Carrier\x00 down"
    )

    assert statuses(delivery) == ("undelivered", "undelivered")
    assert delivery.error_message == "The provider reported error 39999: Carrier down"
