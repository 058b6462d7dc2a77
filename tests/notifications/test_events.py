"""Events create, reschedule and cancel reminders (frozen clock, the default travel lifecycle)."""

import datetime as dt

import pytest
import time_machine
from django.test import Client

from inbox.actions.send import attempt_delivery
from inbox.models import Delivery, Message
from notifications.models import Notification
from notifications.sending import sweep_due_notifications
from tests.notifications.conftest import booking

UTC = dt.UTC
NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
S = Notification.Status


def pending(contact):
    return {
        n.rule.name: n.due_at
        for n in Notification.objects.filter(contact=contact, status=S.SCHEDULED).select_related(
            "rule"
        )
    }


@time_machine.travel(NOW, tick=False)
def test_it_schedules_pre_trip_reminders_and_a_survey_from_the_booking_dates(contact, post_event):
    response = post_event(booking(contact, trip_date="2026-12-20", return_date="2026-12-27"))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["type"] == "booking.confirmed"
    assert body["subject"] == "booking_id:B-100"
    at9 = dt.time(9, 0)
    assert pending(contact) == {
        "Booking confirmation": NOW,
        "Pre-trip reminder (7 days)": dt.datetime.combine(dt.date(2026, 12, 13), at9, UTC),
        "Pre-trip reminder (3 days)": dt.datetime.combine(dt.date(2026, 12, 17), at9, UTC),
        "Pre-trip reminder (1 day)": dt.datetime.combine(dt.date(2026, 12, 19), at9, UTC),
        "Post-trip survey": dt.datetime.combine(dt.date(2026, 12, 29), at9, UTC),
    }


@time_machine.travel(NOW, tick=False)
def test_a_reminder_whose_moment_passed_is_skipped_not_sent_late(contact, post_event):
    response = post_event(booking(contact, trip_date="2026-12-05", return_date="2026-12-08"))
    assert response.status_code == 201
    skipped = Notification.objects.get(contact=contact, rule__name="Pre-trip reminder (7 days)")
    assert skipped.status == S.SKIPPED
    assert "already passed" in skipped.detail
    assert "Pre-trip reminder (3 days)" in pending(contact)


def test_a_changed_booking_reschedules_and_a_cancelled_one_cancels_pending_reminders(
    contact, post_event, sms_inbox
):
    with time_machine.travel(NOW, tick=False):
        response = post_event(booking(contact, trip_date="2026-12-20", return_date="2026-12-27"))
        assert response.status_code == 201
        assert sweep_due_notifications() == {"sent": 1}
    with time_machine.travel(NOW + dt.timedelta(days=1), tick=False):
        changed = post_event(
            {
                "type": "booking.changed",
                "contact": {"phone": "+1 415 555 0111"},
                "data": {"booking_id": "B-100", "trip_date": "2026-12-24T10:30:00-06:00"},
                "idempotency_key": "evt-2",
            }
        )
        assert changed.status_code == 201, changed.content
        due = pending(contact)
        # 7, 3 and 1 day before the new departure (10:30 in Mexico City = 16:30 UTC).
        departure = dt.datetime(2026, 12, 24, 16, 30, tzinfo=UTC)
        assert due["Pre-trip reminder (7 days)"] == departure - dt.timedelta(days=7)
        assert due["Pre-trip reminder (1 day)"] == departure - dt.timedelta(days=1)
        # The survey reads return_date, which did not change.
        assert due["Post-trip survey"] == dt.datetime(2026, 12, 29, 9, 0, tzinfo=UTC)
        assert "Itinerary changed" in due
        assert sweep_due_notifications() == {"sent": 1}
        reminder = Notification.objects.get(
            contact=contact, rule__name="Pre-trip reminder (7 days)"
        )
        assert reminder.data["trip_date"] == "2026-12-24T10:30:00-06:00"
        assert reminder.data["destination"] == "Cancún"

    with time_machine.travel(NOW + dt.timedelta(days=2), tick=False):
        cancelled = post_event(
            {
                "type": "booking.cancelled",
                "contact": {"id": contact.pk},
                "data": {"booking_id": "B-100"},
                "idempotency_key": "evt-3",
            }
        )
        assert cancelled.status_code == 201, cancelled.content
        assert pending(contact) == {}
        rows = Notification.objects.filter(contact=contact, status=S.CANCELLED)
        assert rows.count() == 4  # 3 reminders and the survey; the immediate ones had gone out
        assert all("booking.cancelled" in row.detail for row in rows)

    # Nothing cancelled is ever sent, even long after its moment.
    with time_machine.travel(dt.datetime(2027, 1, 10, 12, tzinfo=UTC), tick=False):
        sweep_due_notifications()
    assert Message.objects.filter(conversation__contact=contact).count() == 2


def test_a_repeated_booking_event_replaces_the_subjects_reminders(contact, post_event):
    with time_machine.travel(NOW, tick=False):
        post_event(booking(contact, trip_date="2026-12-20", return_date="2026-12-27"))
        response = post_event(
            booking(contact, key="evt-again", trip_date="2026-12-22", return_date="2026-12-27")
        )
        assert response.status_code == 201
        assert pending(contact)["Pre-trip reminder (1 day)"] == dt.datetime(
            2026, 12, 21, 9, tzinfo=UTC
        )
        assert (
            Notification.objects.filter(
                contact=contact, status=S.SCHEDULED, rule__name="Pre-trip reminder (1 day)"
            ).count()
            == 1
        )


def test_due_reminders_go_out_through_the_conversation_timeline(contact, post_event, sms_inbox):
    with time_machine.travel(NOW, tick=False):
        post_event(booking(contact, trip_date="2026-12-20", return_date="2026-12-27"))
        assert sweep_due_notifications() == {"sent": 1}  # the confirmation
    with time_machine.travel(dt.datetime(2026, 12, 13, 9, 0, 1, tzinfo=UTC), tick=False):
        assert sweep_due_notifications() == {"sent": 1}
    reminder = Notification.objects.get(contact=contact, rule__name="Pre-trip reminder (7 days)")
    assert reminder.status == S.SENT
    assert reminder.channel == "sms"
    message = reminder.message
    assert message.conversation.contact_id == contact.pk
    assert message.inbox_id == sms_inbox.pk
    assert message.sender_type == Message.SenderType.SYSTEM
    assert message.body.startswith("Hola Ana, tu viaje a Cancún sale el 2026-12-20.")
    assert message.metadata["notification_id"] == reminder.pk


@time_machine.travel(NOW, tick=False)
def test_a_quote_reminder_goes_24_hours_before_it_lapses_and_acceptance_cancels_it(
    contact, post_event
):
    sent = post_event(
        {
            "type": "quote.sent",
            "contact": {"id": contact.pk},
            "data": {"quote_id": "Q-1", "expires_at": "2026-12-04T18:00:00Z"},
            "idempotency_key": "q-1",
        }
    )
    assert sent.status_code == 201, sent.content
    assert pending(contact)["Quote expiring (24 h)"] == dt.datetime(2026, 12, 3, 18, tzinfo=UTC)
    accepted = post_event(
        {
            "type": "quote.accepted",
            "contact": {"id": contact.pk},
            "data": {"quote_id": "Q-1"},
            "idempotency_key": "q-1-accepted",
        }
    )
    assert accepted.status_code == 201
    assert "Quote expiring (24 h)" not in pending(contact)
    assert Notification.objects.get(rule__name="Quote expiring (24 h)").status == S.CANCELLED


def sends(callbacks: list) -> list:
    """The on-commit callbacks but the shared-attribute hooks' (every event has one)."""
    return [callback for callback in callbacks if callback.__module__ != "contacts.hooks"]


@time_machine.travel(NOW, tick=False)
def test_an_event_with_an_immediate_rule_queues_its_send_after_commit(
    tenant, contact, django_capture_on_commit_callbacks
):
    from notifications.actions import do_post_event

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        do_post_event(tenant, booking(contact, trip_date="2026-12-20", return_date="2026-12-27"))
    assert len(sends(callbacks)) == 1
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        do_post_event(
            tenant,
            {
                **booking(contact, key="b-2", trip_date="2026-12-20", return_date="2026-12-27"),
                "type": "booking.cancelled",
            },
        )
    assert sends(callbacks) == []  # a cancellation sends nothing


@time_machine.travel(NOW, tick=False)
def test_a_one_way_trip_is_accepted_and_only_its_survey_is_passed_over(
    contact, post_event, api_token
):
    response = post_event(booking(contact, trip_date="2026-12-20"))  # no return_date
    assert response.status_code == 201, response.content
    by_rule = {n["rule"]: n for n in response.json()["notifications"]}
    survey = by_rule["Post-trip survey"]
    assert survey["status"] == "skipped"
    assert "no return_date" in survey["detail"] and "booking.confirmed" in survey["detail"]
    assert {name for name, n in by_rule.items() if n["status"] == "scheduled"} == {
        "Booking confirmation",
        "Pre-trip reminder (7 days)",
        "Pre-trip reminder (3 days)",
        "Pre-trip reminder (1 day)",
    }
    # A null return_date is a one-way trip too; the log shows why the survey was not sent.
    again = post_event(booking(contact, key="evt-b2", booking_id="B-2", trip_date="2026-12-20"))
    assert again.status_code == 201
    null_return = booking(contact, key="evt-null-2", booking_id="B-3", trip_date="2026-12-20")
    null_return["data"]["return_date"] = None
    assert post_event(null_return).status_code == 201
    listed = (
        Client()
        .get(
            f"/api/v1/notifications?contact_id={contact.pk}&status=skipped",
            headers={"Authorization": f"Bearer {api_token}"},
        )
        .json()["items"]
    )
    assert [n["rule"] for n in listed] == ["Post-trip survey"] * 3
    assert all("has no return_date" in n["detail"] for n in listed)


def test_a_changed_booking_that_drops_its_return_passes_the_pending_survey_over(
    contact, post_event, owner, login
):
    with time_machine.travel(NOW, tick=False):
        post_event(booking(contact, trip_date="2026-12-20", return_date="2026-12-27"))
        changed = post_event(
            {
                "type": "booking.changed",
                "contact": {"id": contact.pk},
                "data": {"booking_id": "B-100", "return_date": None},
                "idempotency_key": "evt-2",
            }
        )
        assert changed.status_code == 201, changed.content
        survey = Notification.objects.get(contact=contact, rule__name="Post-trip survey")
        assert survey.status == S.SKIPPED
        assert "booking.changed" in survey.detail and "no return_date" in survey.detail
        assert "Pre-trip reminder (7 days)" in pending(contact)  # untouched
        page = login(owner).get(f"/notifications/contacts/{contact.pk}/").content.decode()
        assert "has no return_date, which this reminder is timed from" in page
    with time_machine.travel(dt.datetime(2026, 12, 30, 12, tzinfo=UTC), tick=False):
        sweep_due_notifications()
    survey.refresh_from_db()
    assert survey.status == S.SKIPPED and survey.message_id is None


def payment_due(contact, key: str, booking_id: str = "B-100", **data) -> dict:
    return {
        "type": "payment.due",
        "contact": {"id": contact.pk},
        "data": {
            "booking_id": booking_id,
            "amount": "1200.00",
            "currency": "MXN",
            "payment_url": "https://pagos.acme.test/B-100",
            **data,
        },
        "idempotency_key": key,
    }


def test_a_payment_due_reminder_goes_out_3_days_before_and_a_cancelled_booking_cancels_it(
    contact, post_event, sms_inbox, fake_twilio
):
    with time_machine.travel(NOW, tick=False):
        response = post_event(payment_due(contact, "due-1", due_date="2026-12-10"))
        assert response.status_code == 201, response.content
        assert pending(contact) == {
            "Payment reminder (3 days)": dt.datetime(2026, 12, 7, 9, tzinfo=UTC)
        }
        other = post_event(payment_due(contact, "due-2", booking_id="B-200", due_date="2026-12-11"))
        assert other.status_code == 201
        cancelled = post_event(
            {
                "type": "booking.cancelled",
                "contact": {"id": contact.pk},
                "data": {"booking_id": "B-200"},
                "idempotency_key": "cancel-200",
            }
        )
        assert cancelled.status_code == 201
    with time_machine.travel(dt.datetime(2026, 12, 7, 9, 0, 1, tzinfo=UTC), tick=False):
        assert sweep_due_notifications() == {"sent": 1}
    reminder = Notification.objects.get(contact=contact, status=S.SENT)
    assert reminder.event.data["booking_id"] == "B-100"
    assert reminder.channel == "sms"
    assert reminder.message.body == (
        "Hola Ana, te recordamos que tienes un pago pendiente de 1200.00 MXN para tu reserva "
        "B-100, con vencimiento el 2026-12-10. Paga aquí: https://pagos.acme.test/B-100"
    )
    attempt_delivery(Delivery.objects.get(message=reminder.message).pk)
    assert [r.params["Body"] for r in fake_twilio.sent] == [reminder.message.body]
    assert Notification.objects.get(event__data__booking_id="B-200").status == S.CANCELLED


def test_a_payment_received_cancels_the_payment_due_reminder_of_its_booking_only(
    contact, post_event, sms_inbox, fake_twilio
):
    with time_machine.travel(NOW, tick=False):
        assert post_event(payment_due(contact, "due-1", due_date="2026-12-10")).status_code == 201
        other = payment_due(contact, "due-2", booking_id="B-200", due_date="2026-12-11")
        assert post_event(other).status_code == 201
        paid = post_event(
            {
                "type": "payment.received",
                "contact": {"id": contact.pk},
                "data": {"booking_id": "B-100", "amount": "1200.00", "currency": "MXN"},
                "idempotency_key": "paid-100",
            }
        )
        assert paid.status_code == 201, paid.content
    cancelled = Notification.objects.get(event__idempotency_key="due-1")
    assert cancelled.status == S.CANCELLED
    assert cancelled.detail.startswith("Cancelled by the event payment.received #")
    untouched = Notification.objects.get(event__idempotency_key="due-2")
    assert untouched.status == S.SCHEDULED


def test_an_event_type_names_what_it_cancels_and_needs_a_subject_for_it(tenant):
    from notifications.actions import NotificationInvalid, do_save_event_type

    saved = do_save_event_type(
        tenant, key="order.paid", name="Order paid", subject_key="order_id", cancels="order.due"
    )
    assert saved.cancels == ["order.due"]
    with pytest.raises(NotificationInvalid) as missing_subject:
        do_save_event_type(tenant, key="order.refunded", name="Refunded", cancels=["order.due"])
    assert "subject_key" in missing_subject.value.errors
    with pytest.raises(NotificationInvalid) as itself:
        do_save_event_type(
            tenant, key="order.x", name="X", subject_key="order_id", cancels="order.x, Bad Key"
        )
    assert "cancels" in itself.value.errors
