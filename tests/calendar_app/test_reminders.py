"""Booking posts appointment.scheduled, rescheduling appointment.changed and cancelling
appointment.cancelled to notifications, whose default rules schedule, move and cancel the
reminders 24 h and 1 h before (the real notifications code, a frozen clock)."""

import datetime as dt

import pytest
import time_machine

from calendar_app.actions import do_book, do_cancel, do_confirm, do_hold, do_reschedule
from notifications.models import Event, Notification
from tests.calendar_app.conftest import NOW

pytestmark = pytest.mark.clock

FRIDAY_15 = dt.datetime(2026, 12, 4, 15, 0, tzinfo=dt.UTC)
MONDAY_16 = dt.datetime(2026, 12, 7, 16, 0, tzinfo=dt.UTC)  # 10:00 in Mexico City


def reminders(appointment, status="scheduled"):
    return sorted(
        Notification.objects.filter(
            subject=f"appointment_id:{appointment.pk}", status=status
        ).values_list("rule__name", "due_at")
    )


@time_machine.travel(NOW, tick=False)
def test_booking_schedules_rescheduling_moves_and_cancelling_cancels_the_reminders(
    tenant, consult, agent, contact
):
    contact.timezone = "America/Mexico_City"
    contact.save()
    appointment = do_book(
        tenant, appointment_type=consult, resources=[agent], contact=contact, start=FRIDAY_15
    )
    assert reminders(appointment) == [
        ("Appointment reminder (1 h)", FRIDAY_15 - dt.timedelta(hours=1)),
        ("Appointment reminder (24 h)", FRIDAY_15 - dt.timedelta(hours=24)),
    ]
    event = Event.objects.get(event_type__key="appointment.scheduled")
    # In the contact's zone (Mexico City, UTC-6), with the agent's name for the template.
    assert event.data == {
        "appointment_id": str(appointment.pk),
        "appointment_at": "2026-12-04T09:00:00-06:00",
        "agent_name": "Ana Agent",
    }

    do_reschedule(appointment, start=MONDAY_16)
    assert reminders(appointment) == [
        ("Appointment reminder (1 h)", MONDAY_16 - dt.timedelta(hours=1)),
        ("Appointment reminder (24 h)", MONDAY_16 - dt.timedelta(hours=24)),
    ]
    do_reschedule(appointment, start=FRIDAY_15)  # and back: a new event each time
    assert [due for _, due in reminders(appointment)] == [
        FRIDAY_15 - dt.timedelta(hours=1), FRIDAY_15 - dt.timedelta(hours=24)
    ]  # fmt: skip
    assert Event.objects.filter(event_type__key="appointment.changed").count() == 2

    do_cancel(appointment)
    assert reminders(appointment) == []
    assert len(reminders(appointment, status="cancelled")) == 2
    do_cancel(appointment)  # twice: nothing more
    assert Event.objects.filter(event_type__key="appointment.cancelled").count() == 1


@time_machine.travel(NOW, tick=False)
def test_a_hold_has_no_reminders_until_it_is_confirmed(tenant, consult, agent, contact):
    hold = do_hold(tenant, appointment_type=consult, resources=[agent], contact=contact,
                   start=FRIDAY_15)  # fmt: skip
    do_reschedule(hold, start=MONDAY_16)
    assert not Event.objects.exists()
    do_confirm(hold)
    do_confirm(hold)
    assert [due for _, due in reminders(hold)] == [
        MONDAY_16 - dt.timedelta(hours=1), MONDAY_16 - dt.timedelta(hours=24)
    ]  # fmt: skip
    assert Event.objects.count() == 1
