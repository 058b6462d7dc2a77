"""Notifications through a BlueBubbles (iMessage) inbox, against the fake BlueBubbles server:
a rule may name iMessage; the message goes out through the server, and consent for iMessage is
checked when it leaves (frozen clock: quiet hours)."""

import datetime as dt

import pytest
import time_machine
from django.core.cache import cache

from contacts.actions import do_set_consent
from contacts.models import Consent
from inbox.models import Delivery
from inbox.tasks.delivery import deliver_message_task
from notifications.actions import NotificationInvalid, do_post_event, do_save_rule
from notifications.models import EventType, Notification, NotificationRule
from notifications.sending import sweep_due_notifications
from omnichannel.channels import Channel
from tests.inbox.bluebubbles_helpers import make_bb_inbox

pytestmark = pytest.mark.clock

NOW = dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.UTC)


@pytest.fixture
def imessage(tenant, bb_server):
    cache.clear()
    return make_bb_inbox(tenant, bb_server)


@pytest.fixture
def by_imessage(tenant):
    """The payment-received rule, iMessage first, then SMS."""
    rule = NotificationRule.objects.get(
        tenant=tenant, event_type=EventType.objects.get(tenant=tenant, key="payment.received")
    )
    return do_save_rule(
        tenant,
        name=rule.name,
        event_type=rule.event_type,
        template=rule.template,
        channels="imessage, sms",
        quiet_hours=False,
        rule=rule,
    )


def payment(contact, key: str) -> dict:
    return {
        "type": "payment.received",
        "contact": {"id": contact.pk},
        "data": {"booking_id": "B-1", "amount": "1200.00", "currency": "MXN"},
        "idempotency_key": key,
    }


@time_machine.travel(NOW, tick=False)
def test_a_notification_goes_out_by_imessage(tenant, contact, imessage, bb_server, by_imessage):
    do_post_event(tenant, payment(contact, "p-1"))

    assert sweep_due_notifications() == {"sent": 1}
    notification = Notification.objects.get(contact=contact)
    assert (notification.channel, notification.message.inbox_id) == ("imessage", imessage.pk)
    deliver_message_task.apply(args=[Delivery.objects.get(message=notification.message).pk])
    [sent] = bb_server.sent
    assert sent["handle"]["address"] == contact.phone and "1200.00" in sent["text"]


@time_machine.travel(NOW, tick=False)
def test_an_opt_out_of_imessage_after_it_was_queued_stops_it(
    tenant, contact, imessage, bb_server, by_imessage
):
    do_post_event(tenant, payment(contact, "p-1"))
    assert sweep_due_notifications() == {"sent": 1}
    do_set_consent(
        contact,
        channel=Channel.IMESSAGE,
        sender=imessage.address,
        status=Consent.Status.OPTED_OUT,
        source=Consent.Source.KEYWORD,
        detail="STOP",
    )

    delivery = Delivery.objects.get(message=Notification.objects.get(contact=contact).message)
    deliver_message_task.apply(args=[delivery.pk])

    delivery.refresh_from_db()
    assert (delivery.status, delivery.error_code) == ("failed", "opted_out")
    assert not bb_server.sent


def test_a_rule_still_refuses_a_channel_notifications_do_not_use(tenant, by_imessage):
    with pytest.raises(NotificationInvalid, match="whatsapp, imessage, chatwoot, sms, email"):
        do_save_rule(
            tenant,
            name=by_imessage.name,
            event_type=by_imessage.event_type,
            template=by_imessage.template,
            channels="voice",
            rule=by_imessage,
        )
