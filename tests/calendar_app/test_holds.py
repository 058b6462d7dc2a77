"""Holds expire with the clock: past its expiry a hold no longer blocks its slot (even before
beat releases it), a late confirm is refused, and beat's task releases it."""

import datetime as dt

import pytest
import time_machine

from calendar_app.actions import HoldExpired, do_confirm, do_hold
from calendar_app.availability import free_slots
from calendar_app.models import Appointment, AppointmentResource
from calendar_app.tasks import release_expired_holds_task
from contacts.models import Contact
from tests.calendar_app.conftest import NOW, WEDNESDAY_10, booking

pytestmark = pytest.mark.clock


def wednesday_slots(agent, consult):
    day = WEDNESDAY_10.replace(hour=0)
    slots = free_slots([agent], consult, day, day + dt.timedelta(days=1), tenant_zone="UTC")
    return {slot.start for slot in slots}


def test_an_expired_hold_is_released_by_beat_a_late_confirm_is_refused_and_the_slot_is_free(
    api, settings, tenant, consult, agent, contact, django_capture_on_commit_callbacks
):
    beat = settings.CELERY_BEAT_SCHEDULE["release-expired-holds"]
    assert beat["task"] == release_expired_holds_task.name
    with time_machine.travel(NOW, tick=False) as clock:
        held = api.post("/appointments", booking(consult, agent, contact)).json()
        assert WEDNESDAY_10 not in wednesday_slots(agent, consult)
        clock.shift(dt.timedelta(minutes=9, seconds=59))  # still held
        assert WEDNESDAY_10 not in wednesday_slots(agent, consult)
        assert release_expired_holds_task.apply().get() == 0

        clock.shift(dt.timedelta(seconds=1))  # 10 minutes: expired, beat has not run yet
        assert WEDNESDAY_10 in wednesday_slots(agent, consult)
        late = api.post(f"/appointments/{held['id']}/confirm")
        assert late.status_code == 409
        assert late.json()["error"]["code"] == "hold_expired"
        assert "expired at 2026-12-01T12:10:00+00:00" in late.json()["error"]["message"]
        assert Appointment.objects.get().state == "hold"

        with django_capture_on_commit_callbacks(execute=True):
            assert release_expired_holds_task.apply().get() == 1
        appointment = Appointment.objects.get()
        assert appointment.state == "expired"
        assert AppointmentResource.objects.get().state == "expired"
        assert api.post(f"/appointments/{held['id']}/confirm").status_code == 409
        assert release_expired_holds_task.apply().get() == 0

        other = Contact.objects.create(tenant=tenant, name="Otra", timezone="UTC")
        again = api.post("/appointments", booking(consult, agent, other, confirm=True))
        assert again.status_code == 201
        assert WEDNESDAY_10 not in wednesday_slots(agent, consult)


@time_machine.travel(NOW, tick=False)
def test_a_new_hold_takes_a_slot_whose_hold_expired_before_beat_ran(
    tenant, consult, agent, contact
):
    first = do_hold(tenant, appointment_type=consult, resources=[agent], contact=contact,
                    start=WEDNESDAY_10)  # fmt: skip
    with time_machine.travel(NOW + dt.timedelta(minutes=11), tick=False):
        second = do_hold(tenant, appointment_type=consult, resources=[agent], contact=contact,
                         start=WEDNESDAY_10)  # fmt: skip
        first.refresh_from_db()
        assert (first.state, second.state) == ("expired", "hold")
        with pytest.raises(HoldExpired):
            do_confirm(first)
        assert do_confirm(second).state == "confirmed"
