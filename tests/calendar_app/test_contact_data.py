"""GDPR: a contact's appointments are exported with them; erasing them cancels the ones ahead
(their time is free again) and removes the notes."""

import datetime as dt

import pytest
import time_machine

from calendar_app.actions import do_book, do_hold
from calendar_app.availability import free_slots
from calendar_app.models import Appointment
from contacts.gdpr import do_erase_contact, export_contact
from tests.calendar_app.conftest import NOW, WEDNESDAY_10

pytestmark = pytest.mark.clock


@time_machine.travel(NOW, tick=False)
def test_appointments_are_exported_and_erased_with_the_contact(
    tenant, owner, consult, agent, contact
):
    booked = do_book(tenant, appointment_type=consult, resources=[agent], contact=contact,
                     start=WEDNESDAY_10, notes="Luis: alergia a la penicilina")  # fmt: skip
    do_hold(tenant, appointment_type=consult, resources=[agent], contact=contact,
            start=WEDNESDAY_10 + dt.timedelta(hours=2))  # fmt: skip
    [first, _] = export_contact(contact)["appointments"]
    assert (first["id"], first["resources"], first["notes"]) == (
        booked.pk, ["Ana Agent"], "Luis: alergia a la penicilina"
    )  # fmt: skip
    do_erase_contact(contact, acting_user=owner)
    assert set(Appointment.objects.values_list("state", "notes")) == {("cancelled", "")}
    day = WEDNESDAY_10.replace(hour=0)
    starts = {s.start for s in free_slots([agent], consult, day, day + dt.timedelta(days=1),
                                          tenant_zone="UTC")}  # fmt: skip
    assert WEDNESDAY_10 in starts
