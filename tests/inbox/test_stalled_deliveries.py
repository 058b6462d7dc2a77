"""A worker that died between claiming a delivery and recording the provider's answer."""

from datetime import timedelta

import pytest
from django.utils import timezone

from inbox.actions.send import do_send_message
from inbox.models import Delivery, Message
from inbox.tasks.delivery import settle_stalled_deliveries_task

pytestmark = [pytest.mark.django_db, pytest.mark.clock]


def outbound(tenant, inbox, phone, *, status, minutes_ago):
    message = do_send_message(tenant, inbox=inbox, to=phone, body="Your booking")
    delivery = message.deliveries.get()
    Delivery.objects.filter(pk=delivery.pk).update(
        status=status, last_attempt_at=timezone.now() - timedelta(minutes=minutes_ago)
    )
    return delivery


def test_it_settles_a_stalled_delivery_as_an_unknown_outcome_without_resending(
    tenant, sms_inbox, fake_twilio
):
    stalled = outbound(
        tenant, sms_inbox, "+14155550111", status=Message.Status.SENDING, minutes_ago=30
    )
    in_flight = outbound(
        tenant, sms_inbox, "+14155550122", status=Message.Status.SENDING, minutes_ago=1
    )
    waiting = outbound(
        tenant, sms_inbox, "+14155550133", status=Message.Status.QUEUED, minutes_ago=30
    )

    assert settle_stalled_deliveries_task.apply().get() == 1

    stalled.refresh_from_db()
    stalled.message.refresh_from_db()
    assert stalled.status == Message.Status.FAILED
    assert stalled.error_code == "unknown_outcome"
    assert "may or may not have reached" in stalled.message.error_message
    assert stalled.message.status == Message.Status.FAILED
    in_flight.refresh_from_db()
    waiting.refresh_from_db()
    assert in_flight.status == Message.Status.SENDING
    assert waiting.status == Message.Status.QUEUED
    assert fake_twilio.sent == []


def test_it_is_scheduled_by_beat():
    from django.conf import settings

    schedule = settings.CELERY_BEAT_SCHEDULE["settle-stalled-deliveries"]
    assert schedule["task"] == settle_stalled_deliveries_task.name
