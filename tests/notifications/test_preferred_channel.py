"""The contact's preferred channel is tried first, then the rule's order; a rule's channels
are never widened by it (frozen clock; the real Twilio SDK against the fake)."""

import datetime as dt

import time_machine
from django.core import mail

from inbox.actions.send import attempt_delivery
from inbox.models import Conversation, Delivery
from notifications.actions import do_post_event
from notifications.models import Notification
from notifications.sending import sweep_due_notifications
from omnichannel.channels import Channel
from tests.inbox.conftest import make_email_inbox

UTC = dt.UTC
NOW = dt.datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
S = Notification.Status


def payment(contact, key: str) -> dict:
    return {
        "type": "payment.received",
        "contact": {"id": contact.pk},
        "data": {"booking_id": "B-1", "amount": "1200.00", "currency": "MXN"},
        "idempotency_key": key,
    }


def wrote_on_whatsapp(inbox, contact) -> None:
    """Within WhatsApp's 24-hour window, so WhatsApp (the rule's first channel) could reach her."""
    Conversation.objects.create(
        tenant=inbox.tenant,
        inbox=inbox,
        contact=contact,
        last_inbound_at=NOW - dt.timedelta(hours=1),
    )


@time_machine.travel(NOW, tick=False)
def test_the_preferred_channel_goes_first_among_the_rules_channels(
    tenant, contact, whatsapp_inbox, sms_inbox, fake_twilio
):
    wrote_on_whatsapp(whatsapp_inbox, contact)
    contact.preferred_channel = "sms"
    contact.email = "ana@example.com"
    contact.save()
    do_post_event(tenant, payment(contact, "p-1"))  # rule: whatsapp, sms, email
    assert sweep_due_notifications() == {"sent": 1}
    notification = Notification.objects.get(contact=contact)
    assert (notification.channel, notification.message.inbox_id) == ("sms", sms_inbox.pk)
    assert notification.detail == ""  # nothing was passed over
    attempt_delivery(Delivery.objects.get(message=notification.message).pk)
    [request] = fake_twilio.sent
    assert (request.params["From"], request.params["To"]) == (sms_inbox.address, contact.phone)

    # Preferring WhatsApp does not send a password reset there: that rule says email, then SMS.
    make_email_inbox(tenant, address="viajes@acme.test")
    contact.preferred_channel = "whatsapp"
    contact.save()
    do_post_event(
        tenant,
        {
            "type": "password.reset_requested",
            "contact": {"id": contact.pk},
            "data": {"reset_url": "https://acme.test/reset/abc"},
            "idempotency_key": "reset-1",
        },
    )
    assert sweep_due_notifications() == {"sent": 1}
    reset = Notification.objects.get(contact=contact, rule__name="Password recovery")
    assert reset.channel == Channel.EMAIL
    mail.outbox.clear()
    attempt_delivery(Delivery.objects.get(message=reset.message).pk)
    assert [m.to for m in mail.outbox] == [["ana@example.com"]]


@time_machine.travel(NOW, tick=False)
def test_a_preferred_channel_that_cannot_reach_falls_back_to_the_rules_order(
    tenant, contact, whatsapp_inbox, sms_inbox, fake_twilio
):
    wrote_on_whatsapp(whatsapp_inbox, contact)
    contact.preferred_channel = "email"  # but she has no address, and there is no email inbox
    contact.save()
    do_post_event(tenant, payment(contact, "p-1"))
    assert sweep_due_notifications() == {"sent": 1}
    notification = Notification.objects.get(contact=contact)
    assert notification.status == S.SENT
    assert notification.channel == "whatsapp"  # the rule's first
    assert notification.detail.startswith("Email: ")
    attempt_delivery(Delivery.objects.get(message=notification.message).pk)
    assert fake_twilio.sent[0].params["To"] == f"whatsapp:{contact.phone}"
