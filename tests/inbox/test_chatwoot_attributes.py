"""Centro's attributes reach the Chatwoot contact: after a booking or appointment event, one
debounced push merges Centro's keys into the contact's custom attributes (the tenant's own
keys stay), an unchanged push is skipped, an unlinked contact is found by phone (never
created), and nothing crosses tenants (frozen clock: "next appointment" reads it)."""

import datetime as dt

import pytest
import time_machine

from contacts.models import Contact
from inbox.providers.chatwoot.attributes import do_push_contact_attributes
from inbox.tasks.chatwoot import push_contact_attributes_task
from notifications.actions import do_post_event
from tests.celery_broker import queued_tasks
from tests.fakes.chatwoot import ACCOUNT_ID

pytestmark = pytest.mark.clock

NOW = dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.UTC)
PHONE = "+14155550111"
PUSH = push_contact_attributes_task.name


@pytest.fixture
def cw_contact(cw_server):
    """The customer in Chatwoot, with an attribute of the tenant's own."""
    with cw_server.lock:
        return cw_server.create_contact(
            ACCOUNT_ID,
            {"name": "Ana", "phone_number": PHONE, "custom_attributes": {"plan": "gold"}},
            fire=False,
        )


@pytest.fixture
def contact(tenant):
    return Contact.objects.create(tenant=tenant, name="Ana García", phone=PHONE)


def booking(contact, key, booking_id="B-7"):
    return {
        "type": "booking.confirmed",
        "contact": {"id": contact.pk},
        "data": {"booking_id": booking_id, "destination": "Cancún", "trip_date": "2026-12-20"},
        "idempotency_key": key,
    }


def appointment(contact, key):
    return {
        "type": "appointment.scheduled",
        "contact": {"id": contact.pk},
        "data": {"appointment_id": "A-1", "appointment_at": "2026-12-03T16:00:00Z"},
        "idempotency_key": key,
    }


def patches(server) -> list[str]:
    return server.paths("PATCH")


@time_machine.travel(NOW, tick=False)
def test_events_schedule_one_push_that_merges_centros_attributes(
    settings,
    tenant,
    contact,
    cw_inbox,
    cw_server,
    cw_contact,
    empty_celery_broker,
    django_capture_on_commit_callbacks,
):
    settings.PUBLIC_BASE_URL = "https://centro.example"
    contact.external_ids = {"chatwoot": str(cw_contact["id"])}
    contact.save()
    with django_capture_on_commit_callbacks(execute=True):
        do_post_event(tenant, booking(contact, "e1"))
    with django_capture_on_commit_callbacks(execute=True):
        do_post_event(tenant, appointment(contact, "e2"))
    # Two changes within the debounce: one push waits in the broker.
    assert queued_tasks().count(PUSH) == 1

    note = push_contact_attributes_task.apply((cw_inbox.pk, contact.pk)).get()

    assert note.startswith("Pushed")
    assert patches(cw_server) == [f"/api/v1/accounts/{ACCOUNT_ID}/contacts/{cw_contact['id']}"]
    assert cw_server.contacts[cw_contact["id"]]["custom_attributes"] == {
        "plan": "gold",  # the tenant's own attribute is merged into, never replaced
        "centro_url": f"https://centro.example/contacts/{contact.pk}/",
        "centro_opt_outs": None,
        "centro_next_appointment": "2026-12-03T16:00:00Z",
        "centro_last_booking": "B-7 to Cancún, 2026-12-20",
        "centro_open_quotes": None,
    }
    # Nothing changed since: no second call.
    assert do_push_contact_attributes(cw_inbox, contact) == "Chatwoot already has these attributes."
    assert len(patches(cw_server)) == 1


@time_machine.travel(NOW, tick=False)
def test_an_unlinked_contact_is_found_by_phone_and_linked_never_created(
    tenant, contact, cw_inbox, cw_server, cw_contact
):
    do_push_contact_attributes(cw_inbox, contact)
    contact.refresh_from_db()
    assert contact.external_ids == {"chatwoot": str(cw_contact["id"])}
    assert "centro_url" in cw_server.contacts[cw_contact["id"]]["custom_attributes"]

    stranger = Contact.objects.create(tenant=tenant, name="Leo", phone="+14155550199")
    assert do_push_contact_attributes(cw_inbox, stranger) == "The contact is not in Chatwoot."
    assert cw_server.paths("POST") == []


@time_machine.travel(NOW, tick=False)
def test_a_refusal_is_given_up_and_a_gone_inbox_pushes_nothing(
    contact, cw_inbox, cw_server, cw_contact
):
    contact.external_ids = {"chatwoot": str(cw_contact["id"])}
    contact.save()
    cw_server.fail_next(401, {"error": "Invalid Access Token"})
    note = push_contact_attributes_task.apply((cw_inbox.pk, contact.pk)).get()
    assert note.startswith("Chatwoot refused the attributes")

    cw_inbox.is_active = False
    cw_inbox.save()
    assert push_contact_attributes_task.apply((cw_inbox.pk, contact.pk)).get() == (
        "The inbox or the contact is gone."
    )
    # The refused push was tried once, never again.
    assert len(patches(cw_server)) == 1


@time_machine.travel(NOW, tick=False)
def test_another_tenants_changes_never_reach_this_tenants_chatwoot(
    other_tenant,
    cw_inbox,
    cw_server,
    cw_contact,
    empty_celery_broker,
    django_capture_on_commit_callbacks,
):
    theirs = Contact.objects.create(tenant=other_tenant, name="Ana", phone=PHONE)
    with django_capture_on_commit_callbacks(execute=True):
        do_post_event(other_tenant, booking(theirs, "e1"))
    assert PUSH not in queued_tasks()
    # Even asked directly, this tenant's inbox refuses the other tenant's contact.
    assert push_contact_attributes_task.apply((cw_inbox.pk, theirs.pk)).get() == (
        "The inbox or the contact is gone."
    )
    assert patches(cw_server) == []
