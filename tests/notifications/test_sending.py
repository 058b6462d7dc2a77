"""The sweep: channel fallback honouring consent, quiet hours in the contact's zone, leased
claims safe with several workers and after a worker dies."""

import datetime as dt
import threading

import pytest
import time_machine
from django.db import connection

from contacts.actions import do_set_consent
from contacts.models import Consent, Contact
from contacts.phones import format_phone
from inbox.actions.send import attempt_delivery
from inbox.models import Conversation, Delivery, Message
from notifications.actions import do_post_event
from notifications.models import Notification, NotificationRule
from notifications.sending import claim_due, send_claimed, sweep_due_notifications
from tests.notifications.conftest import booking

UTC = dt.UTC
NOW = dt.datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
S = Notification.Status


def payment(contact, key):
    return {
        "type": "payment.received",
        "contact": {"id": contact.pk},
        "data": {"booking_id": "B-1", "amount": "1200.00", "currency": "MXN"},
        "idempotency_key": key,
    }


def wrote_on(inbox, contact, when):
    Conversation.objects.create(
        tenant=inbox.tenant, inbox=inbox, contact=contact, last_inbound_at=when
    )


@time_machine.travel(NOW, tick=False)
def test_whatsapp_is_preferred_when_it_can_reach_the_contact(
    tenant, contact, whatsapp_inbox, sms_inbox, fake_twilio
):
    wrote_on(whatsapp_inbox, contact, NOW - dt.timedelta(hours=2))
    do_post_event(tenant, payment(contact, "p-1"))
    assert sweep_due_notifications() == {"sent": 1}
    notification = Notification.objects.get(contact=contact)
    assert (notification.channel, notification.message.inbox_id) == ("whatsapp", whatsapp_inbox.pk)


@time_machine.travel(NOW, tick=False)
def test_an_opted_out_whatsapp_falls_back_to_sms_through_the_fake_twilio(
    tenant, contact, whatsapp_inbox, sms_inbox, fake_twilio
):
    wrote_on(whatsapp_inbox, contact, NOW - dt.timedelta(hours=2))
    do_set_consent(
        contact,
        channel="whatsapp",
        sender=whatsapp_inbox.address,
        status=Consent.Status.OPTED_OUT,
        source=Consent.Source.KEYWORD,
    )
    do_post_event(tenant, payment(contact, "p-1"))
    assert sweep_due_notifications() == {"sent": 1}

    notification = Notification.objects.get(contact=contact)
    assert notification.status == S.SENT
    assert notification.channel == "sms"
    assert "WhatsApp" in notification.detail and "opted out" in notification.detail
    message = notification.message
    assert message.inbox_id == sms_inbox.pk
    assert message.body == "Hola Ana, recibimos tu pago de 1200.00 MXN. ¡Gracias!"
    # The delivery task hands it to Twilio (the real SDK against the fake).
    delivery = Delivery.objects.get(message=message)
    attempt_delivery(delivery.pk)
    assert [r.params["To"] for r in fake_twilio.sent] == ["+14155550111"]
    assert fake_twilio.sent[0].params["Body"] == message.body


@time_machine.travel(NOW, tick=False)
def test_a_queued_notification_whose_contact_then_texted_stop_is_refused_with_the_reason(
    tenant, contact, sms_inbox, fake_twilio
):
    """The sweep queued it (the contact had not opted out); STOP arrived before the delivery
    worker's turn: the delivery re-checks consent and refuses it, saying why."""
    from tests.inbox.webhook_helpers import assert_empty_twiml, post_twilio

    do_post_event(tenant, payment(contact, "p-1"))
    assert sweep_due_notifications() == {"sent": 1}
    message = Notification.objects.get(contact=contact).message
    assert message.status == Message.Status.QUEUED

    assert_empty_twiml(post_twilio(sms_inbox, "inbound_stop", To=sms_inbox.address))
    delivery = attempt_delivery(Delivery.objects.get(message=message).pk)

    assert fake_twilio.sent == []
    assert (delivery.status, delivery.error_code) == (Message.Status.FAILED, "opted_out")
    message.refresh_from_db()
    assert message.status == Message.Status.FAILED
    assert message.error_message == (
        f"Ana García opted out of SMS messages from {format_phone(sms_inbox.address, 'US')} "
        "(STOP) before this "
        "message went out, so it was not sent; they must reply START before you can message "
        "them."
    )


@time_machine.travel(NOW, tick=False)
def test_a_contact_no_channel_can_reach_is_recorded_as_not_sent(tenant, contact, whatsapp_inbox):
    do_post_event(tenant, payment(contact, "p-1"))  # never wrote on WhatsApp; no SMS/email inbox
    assert sweep_due_notifications() == {"failed": 1}
    notification = Notification.objects.get(contact=contact)
    assert notification.status == S.FAILED
    assert "24-hour window" in notification.detail
    assert "no active SMS inbox" in notification.detail
    assert not Message.objects.filter(conversation__contact=contact).exists()


def test_quiet_hours_hold_a_reminder_until_the_contacts_morning(tenant, sms_inbox, fake_twilio):
    contact = Contact.objects.create(
        tenant=tenant, first_name="Lucía", phone="+525512345678", timezone="America/Mexico_City"
    )
    with time_machine.travel(NOW, tick=False):
        # 1 day before a 02:00 departure is 02:00 local: held until 08:00 local (14:00 UTC).
        do_post_event(
            tenant,
            booking(contact, trip_date="2026-12-20T02:00:00", return_date="2026-12-27"),
        )
        reminder = Notification.objects.get(contact=contact, rule__name="Pre-trip reminder (1 day)")
        assert reminder.due_at == dt.datetime(2026, 12, 19, 14, 0, tzinfo=UTC)
        week = Notification.objects.get(contact=contact, rule__name="Pre-trip reminder (7 days)")
        assert week.due_at == dt.datetime(2026, 12, 13, 14, 0, tzinfo=UTC)

    # A worker that only gets to it at 22:00 local (04:00 UTC) does not send it at night either.
    late = dt.datetime(2026, 12, 14, 4, 0, tzinfo=UTC)
    with time_machine.travel(late, tick=False):
        assert sweep_due_notifications()["deferred"] == 1
        week.refresh_from_db()
        assert week.status == S.SCHEDULED
        assert week.due_at == dt.datetime(2026, 12, 14, 14, 0, tzinfo=UTC)
        assert "quiet hours" in week.detail
    with time_machine.travel(dt.datetime(2026, 12, 14, 14, 0, 1, tzinfo=UTC), tick=False):
        assert sweep_due_notifications() == {"sent": 1}
    week.refresh_from_db()
    assert week.status == S.SENT


def test_a_claimed_reminder_whose_worker_died_is_sent_after_the_lease(
    tenant, contact, sms_inbox, settings
):
    settings.NOTIFICATION_LEASE_SECONDS = 120
    with time_machine.travel(NOW, tick=False):
        do_post_event(tenant, payment(contact, "p-1"))
        dead_token, claimed = claim_due()  # worker A claims, then dies before committing a send
        assert len(claimed) == 1
        assert sweep_due_notifications() == {}  # worker B: leased, not its to take
    with time_machine.travel(NOW + dt.timedelta(seconds=121), tick=False):
        assert sweep_due_notifications() == {"sent": 1}
        # Worker A coming back to life finds it gone: never sent twice.
        assert send_claimed(claimed[0], dead_token) == "gone"
    notification = Notification.objects.get(contact=contact)
    assert (notification.status, notification.attempts) == (S.SENT, 2)
    assert Message.objects.filter(conversation__contact=contact).count() == 1


@pytest.mark.django_db(transaction=True)
@time_machine.travel(NOW, tick=True)  # 15:00 in the contacts' zone: outside quiet hours
def test_two_workers_sweeping_together_send_each_due_reminder_once(
    tenant, sms_inbox, fake_twilio, eager_tasks
):
    contacts = Contact.objects.bulk_create(
        [
            Contact(tenant=tenant, first_name=f"P{i}", phone=f"+1415200{i:04d}", timezone="UTC")
            for i in range(40)
        ]
    )
    # One reminder per appointment here (the default hour-before one is switched off).
    NotificationRule.objects.filter(tenant=tenant, name="Appointment reminder (1 h)").update(
        is_active=False
    )
    for i, contact in enumerate(contacts):
        do_post_event(
            tenant,
            {
                "type": "appointment.scheduled",
                "contact": {"id": contact.pk},
                "data": {"appointment_id": f"A-{i}", "appointment_at": "2030-01-10T12:00:00Z"},
                "idempotency_key": f"a-{i}",
            },
        )
    assert Notification.objects.filter(status=S.SCHEDULED).count() == 40
    Notification.objects.update(due_at=dt.datetime(2020, 1, 1, tzinfo=UTC))  # all due now
    results, errors = [], []
    start = threading.Barrier(2)

    def worker():
        try:
            start.wait()
            results.append(sweep_due_notifications(limit=3))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert sum(r.get("sent", 0) for r in results) == 40
    assert Notification.objects.filter(status=S.SENT).count() == 40
    messages = Message.objects.filter(tenant=tenant, direction=Message.Direction.OUTBOUND)
    assert messages.count() == 40
    assert len(set(messages.values_list("conversation__contact_id", flat=True))) == 40
    # Each went to Twilio once (the delivery task ran after each commit).
    numbers = [r.params["To"] for r in fake_twilio.sent]
    assert sorted(numbers) == sorted(c.phone for c in contacts)


@time_machine.travel(NOW, tick=False)
def test_the_celery_tasks_send_through_the_same_claims(tenant, contact, sms_inbox, settings):
    from notifications.tasks import send_due_notifications_task, send_notifications_task
    from omnichannel.celery import app

    beat = settings.CELERY_BEAT_SCHEDULE["send-due-notifications"]
    assert beat["task"] in app.tasks
    first, _ = do_post_event(tenant, payment(contact, "p-1"))
    ids = list(Notification.objects.filter(event=first).values_list("pk", flat=True))
    assert send_notifications_task.apply(args=[ids]).get() == {"sent": 1}
    do_post_event(tenant, payment(contact, "p-2"))
    assert send_due_notifications_task.apply().get() == {"sent": 1}
    assert send_due_notifications_task.apply().get() == {}


def test_a_reminder_of_a_rule_turned_off_is_cancelled_not_sent(tenant, contact, sms_inbox):
    with time_machine.travel(NOW, tick=False):
        do_post_event(tenant, booking(contact, trip_date="2026-12-20", return_date="2026-12-27"))
    reminder = Notification.objects.get(contact=contact, rule__name="Pre-trip reminder (7 days)")
    reminder.rule.is_active = False
    reminder.rule.save()
    with time_machine.travel(dt.datetime(2026, 12, 13, 9, 1, tzinfo=UTC), tick=False):
        outcome = sweep_due_notifications()
    assert outcome.get("cancelled") == 1
    reminder.refresh_from_db()
    assert reminder.status == S.CANCELLED
    assert "turned off" in reminder.detail


class Crash(Exception):
    pass


def test_a_crash_before_commit_leaves_no_message_and_the_reminder_claimable(
    tenant, contact, sms_inbox
):
    from django.db import transaction

    with time_machine.travel(NOW, tick=False):
        do_post_event(tenant, payment(contact, "p-1"))
        token, claimed = claim_due()
        with pytest.raises(Crash), transaction.atomic():
            assert send_claimed(claimed[0], token) == "sent"  # the Message is stored…
            raise Crash  # …but the worker dies before its transaction commits
        notification = Notification.objects.get(pk=claimed[0])
        assert notification.status == S.SCHEDULED
        assert not Message.objects.filter(conversation__contact=contact).exists()
    with time_machine.travel(NOW + dt.timedelta(minutes=3), tick=False):
        assert sweep_due_notifications() == {"sent": 1}
    assert Message.objects.filter(conversation__contact=contact).count() == 1


@time_machine.travel(NOW, tick=False)
def test_an_approved_whatsapp_template_reaches_a_contact_outside_the_window(
    tenant, contact, whatsapp_inbox, sms_inbox, fake_twilio
):
    from notifications.actions import do_save_template
    from notifications.models import NotificationTemplate

    sid = "HX" + "ab" * 16
    template = NotificationTemplate.objects.get(
        tenant=tenant, key="payment_received", language="es"
    )
    do_save_template(
        tenant,
        key=template.key,
        language="es",
        name=template.name,
        body=template.body,
        whatsapp_content_sid=sid,
        whatsapp_variables={"1": "firstName", "2": "amount"},
        template=template,
    )
    do_post_event(tenant, payment(contact, "p-1"))  # the contact never wrote on WhatsApp
    assert sweep_due_notifications() == {"sent": 1}
    notification = Notification.objects.get(contact=contact)
    assert notification.channel == "whatsapp"
    message = notification.message
    assert message.body.startswith("Hola Ana, recibimos tu pago de 1200.00")  # the timeline
    assert message.metadata["template"] == {
        "content_sid": sid,
        "variables": {"1": "Ana", "2": "1200.00"},
    }
    attempt_delivery(Delivery.objects.get(message=message).pk)
    sent = fake_twilio.sent[0].params
    assert sent["ContentSid"] == sid
    assert sent["To"] == "whatsapp:+14155550111"


def test_whatsapp_template_settings_are_validated(tenant):
    from notifications.actions import NotificationInvalid, do_save_template

    with pytest.raises(NotificationInvalid) as caught:
        do_save_template(
            tenant,
            key="x",
            language="es",
            name="X",
            body="Hola",
            whatsapp_content_sid="HX123",
            whatsapp_variables={"1": "frstName"},
        )
    assert "whatsapp_content_sid" in caught.value.errors
    assert "frstName" in caught.value.errors["whatsapp_variables"]
