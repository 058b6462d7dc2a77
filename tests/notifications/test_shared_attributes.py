"""What lifecycle events tell connected systems about a contact: the next appointment, the
latest booking and the open quotes (frozen clock: "next" and "expired" read it)."""

import datetime as dt

import pytest
import time_machine

from contacts import hooks
from contacts.models import Contact
from notifications.shared_attributes import lifecycle_attributes
from tests.notifications.conftest import booking

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
NOTHING = {
    "centro_next_appointment": None,
    "centro_last_booking": None,
    "centro_open_quotes": None,
}


def appointment(contact, key, appointment_id, at, kind="appointment.scheduled"):
    return {
        "type": kind,
        "contact": {"id": contact.pk},
        "data": {"appointment_id": appointment_id, "appointment_at": at, "agent_name": "Luz"},
        "idempotency_key": key,
    }


def quote(contact, key, quote_id, expires_at, kind="quote.sent"):
    return {
        "type": kind,
        "contact": {"id": contact.pk},
        "data": {"quote_id": quote_id, "destination": "Lima", "expires_at": expires_at},
        "idempotency_key": key,
    }


@time_machine.travel(NOW, tick=False)
def test_a_contact_without_events_shares_nothing(contact):
    assert lifecycle_attributes(contact) == NOTHING


@time_machine.travel(NOW, tick=False)
def test_the_next_appointment_is_the_earliest_future_one_not_cancelled(contact, post_event):
    for body in (
        appointment(contact, "a1", "A-1", "2026-11-30T10:00:00Z"),  # past
        appointment(contact, "a2", "A-2", "2026-12-03T09:00:00Z"),
        appointment(contact, "a3", "A-3", "2026-12-09T09:00:00Z"),
    ):
        assert post_event(body).status_code == 201
    assert lifecycle_attributes(contact)["centro_next_appointment"] == "2026-12-03T09:00:00Z"

    cancel = appointment(contact, "a2-x", "A-2", "", kind="appointment.cancelled")
    cancel["data"] = {"appointment_id": "A-2"}
    assert post_event(cancel).status_code == 201
    assert lifecycle_attributes(contact)["centro_next_appointment"] == "2026-12-09T09:00:00Z"


@time_machine.travel(NOW, tick=False)
def test_the_last_booking_and_open_quotes(contact, post_event):
    assert post_event(booking(contact, "b1", trip_date="2026-12-20")).status_code == 201
    for body in (
        quote(contact, "q1", "Q-1", "2026-11-30"),  # expired
        quote(contact, "q2", "Q-2", "2026-12-15"),
        quote(contact, "q3", "Q-3", "2026-12-20"),
    ):
        assert post_event(body).status_code == 201
    accepted = quote(contact, "q3-ok", "Q-3", "", kind="quote.accepted")
    accepted["data"] = {"quote_id": "Q-3"}
    assert post_event(accepted).status_code == 201

    assert lifecycle_attributes(contact) == {
        "centro_next_appointment": None,
        "centro_last_booking": "B-100 to Cancún, 2026-12-20",
        "centro_open_quotes": "Q-2",
    }

    cancelled = booking(contact, "b1-x")
    cancelled["type"] = "booking.cancelled"
    cancelled["data"] = {"booking_id": "B-100"}
    assert post_event(cancelled).status_code == 201
    assert lifecycle_attributes(contact)["centro_last_booking"] is None


@time_machine.travel(NOW, tick=False)
@pytest.mark.django_db(transaction=True)
def test_posting_an_event_tells_the_hooks_after_commit_for_every_traveller(
    tenant, contact, post_event
):
    companion = Contact.objects.create(tenant=tenant, name="Leo", phone="+14155550112")
    assert post_event(booking(companion, "b-leo", trip_date="2026-12-20")).status_code == 201
    calls = []
    hooks.register_shared_attributes_changed(seen := lambda t, ids: calls.append((t, ids)))
    try:
        assert post_event(booking(contact, "b-ana", trip_date="2026-12-20")).status_code == 201
        assert post_event(booking(contact, "b-ana", trip_date="2026-12-20")).status_code == 200
    finally:
        hooks.on_shared_attributes_changed.remove(seen)
    # Once (the repeat changes nothing), for both contacts of booking B-100.
    assert calls == [(tenant.pk, sorted([contact.pk, companion.pk]))]
