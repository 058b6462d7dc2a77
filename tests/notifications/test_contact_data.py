"""The notifications' part of a GDPR erasure (notifications.contact_data, via contacts.hooks)."""

import datetime as dt

import time_machine

from contacts.gdpr import do_erase_contact, export_contact
from contacts.models import Contact
from notifications.models import Event, Notification
from notifications.sending import sweep_due_notifications
from tests.notifications.conftest import booking

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
S = Notification.Status


def ana_booking(contact, key="booking-ana-garcia"):
    body = booking(contact, key=key, trip_date="2026-12-20", return_date="2026-12-27")
    body["data"]["traveller"] = "Ana García"
    return body


@time_machine.travel(NOW, tick=False)
def test_events_and_notifications_stay_without_the_person(contact, post_event, sms_inbox):
    assert post_event(ana_booking(contact)).status_code == 201
    assert sweep_due_notifications() == {"sent": 1}
    Notification.objects.filter(rule__name="Post-trip survey").update(
        detail="Email: Ana García has no email address"
    )
    exported = export_contact(contact)
    assert exported["lifecycle_events"][0]["data"]["traveller"] == "Ana García"
    assert len(exported["notifications"]) == 5

    do_erase_contact(contact)

    event = Event.objects.get(contact=contact)
    assert (event.data, event.idempotency_key) == ({}, f"erased:{event.pk}")
    assert event.subject == "booking_id:B-100"
    notifications = Notification.objects.filter(contact=contact)
    assert sorted(n.status for n in notifications) == [S.CANCELLED] * 4 + [S.SENT]
    assert [n.data for n in notifications] == [{}] * 5
    cancelled = notifications.filter(status=S.CANCELLED)
    assert set(cancelled.values_list("detail", flat=True)) == {
        "Cancelled: the contact's personal data was erased."
    }
    assert sweep_due_notifications() == {}


@time_machine.travel(NOW, tick=False)
def test_the_erased_key_is_free_for_a_new_event(contact, post_event, tenant):
    assert post_event(ana_booking(contact)).status_code == 201
    do_erase_contact(contact)
    luis = Contact.objects.create(tenant=tenant, name="Luis", phone="+14155550122")
    assert post_event(ana_booking(luis)).status_code == 201
    assert Event.objects.filter(idempotency_key="booking-ana-garcia").get().contact == luis
