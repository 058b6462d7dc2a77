"""POST /api/v1/events: idempotency, per-field errors with nothing half-done, tenant isolation;
the notifications list and cancel endpoints."""

import datetime as dt
import json

import time_machine
from django.test import Client

from contacts.models import Contact
from inbox.models import Message
from notifications.models import Event, Notification
from notifications.sending import sweep_due_notifications
from omnichannel.actions import do_create_api_token
from omnichannel.models import Role
from tests.notifications.conftest import booking

NOW = dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.UTC)


def payment(contact, key="pay-1", amount="100"):
    return {
        "type": "payment.received",
        "contact": {"email": "ana@example.test"} if contact is None else {"id": contact.pk},
        "data": {"booking_id": "B-1", "amount": amount, "currency": "EUR"},
        "idempotency_key": key,
    }


@time_machine.travel(NOW, tick=False)
def test_the_same_event_posted_twice_with_one_key_sends_once(contact, post_event, sms_inbox):
    first = post_event(payment(contact))
    again = post_event(payment(contact))
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json()
    assert Event.objects.count() == 1
    assert Notification.objects.count() == 1
    assert sweep_due_notifications() == {"sent": 1}
    post_event(payment(contact))
    assert sweep_due_notifications() == {}
    assert Message.objects.filter(conversation__contact=contact).count() == 1


def test_a_different_body_with_a_used_key_is_refused_clearly(contact, post_event):
    assert post_event(payment(contact)).status_code == 201
    response = post_event(payment(contact, amount="999"))
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "idempotency_key_reused"
    assert "idempotency_key" in error["errors"]
    assert Event.objects.count() == 1


def test_bad_input_names_each_field_and_writes_nothing(contact, post_event):
    cases = [
        ({"type": "booking.exploded"}, "type", "not an event type"),
        ({"contact": {"phone": "+14155559999"}}, "contact.phone", "no contact"),
        ({"contact": {"phone": "not a phone"}}, "contact.phone", ""),
        ({"contact": {"email": "nobody@example.test"}}, "contact.email", "no contact"),
        ({"contact": {"external_id": {"system": "crm", "id": "X"}}}, "contact.external_id", ""),
        ({"contact": {"id": contact.pk, "phone": "+1"}}, "contact", "exactly one"),
        ({"contact": "ana"}, "contact", ""),
        ({"data": []}, "data", "object"),
        ({"idempotency_key": ""}, "idempotency_key", ""),
    ]
    for change, field, words in cases:
        body = {**booking(contact, trip_date="2026-12-20", return_date="2026-12-27"), **change}
        response = post_event(body)
        assert response.status_code == 422, (change, response.content)
        error = response.json()["error"]
        assert field in error["errors"], (change, error)
        assert words in error["errors"][field]
        assert field in error["message"]

    bad_date = booking(contact, trip_date="20/12/2026", return_date="2026-12-27")
    response = post_event(bad_date)
    assert response.status_code == 422
    assert "ISO 8601" in response.json()["error"]["errors"]["data.trip_date"]

    bad_return = booking(contact, trip_date="2026-12-20", return_date="next week")
    response = post_event(bad_return)
    assert "ISO 8601" in response.json()["error"]["errors"]["data.return_date"]

    no_subject = booking(contact, trip_date="2026-12-20", return_date="2026-12-27")
    del no_subject["data"]["booking_id"]
    response = post_event(no_subject)
    assert "data.booking_id" in response.json()["error"]["errors"]

    assert not Event.objects.exists()
    assert not Notification.objects.exists()


def test_contacts_resolve_by_phone_email_and_external_id(tenant, post_event):
    contact = Contact.objects.create(
        tenant=tenant,
        phone="+14155550122",
        email="ana@example.test",
        external_ids={"crm": "C-9"},
    )
    lookups = [
        {"phone": "(415) 555-0122"},
        {"email": "ANA@example.test"},
        {"external_id": {"system": "crm", "id": "C-9"}},
    ]
    for i, lookup in enumerate(lookups):
        body = {**payment(contact, key=f"k{i}"), "contact": lookup}
        response = post_event(body)
        assert response.status_code == 201, response.content
        assert response.json()["contact_id"] == contact.pk


def test_another_tenants_event_never_reaches_this_tenants_contacts(
    contact, post_event, other_tenant
):
    _, other_token = do_create_api_token(
        other_tenant, name="Other", role=Role.objects.get(tenant=other_tenant, builtin="owner")
    )
    for lookup in ({"id": contact.pk}, {"phone": contact.phone}):
        body = {**payment(contact), "contact": lookup}
        response = post_event(body, token=other_token)
        assert response.status_code == 422
        assert "no contact of this tenant" in json.dumps(response.json())
    assert not Event.objects.exists()

    # The same idempotency key in two tenants is two events.
    assert post_event(payment(contact, key="shared")).status_code == 201
    Contact.objects.create(tenant=other_tenant, phone=contact.phone)
    other = {**payment(None, key="shared"), "contact": {"phone": contact.phone}}
    assert post_event(other, token=other_token).status_code == 201
    assert Event.objects.count() == 2

    # Listing and cancelling: another tenant's notification answers 404.
    mine = Notification.objects.filter(tenant=contact.tenant).first()
    listed = Client().get(
        "/api/v1/notifications", headers={"Authorization": f"Bearer {other_token}"}
    )
    assert mine.pk not in [n["id"] for n in listed.json()["items"]]
    cancel = Client().post(
        f"/api/v1/notifications/{mine.pk}/cancel",
        headers={"Authorization": f"Bearer {other_token}"},
    )
    assert cancel.status_code == 404


def test_a_token_without_the_permission_is_refused(tenant, contact, post_event):
    _, agent_token = do_create_api_token(
        tenant, name="Agent", role=Role.objects.get(tenant=tenant, builtin="agent")
    )
    response = post_event(payment(contact), token=agent_token)
    assert response.status_code == 403
    assert response.json()["error"]["permission"] == "notifications.send_events"


@time_machine.travel(NOW, tick=False)
def test_scheduled_notifications_are_listed_and_cancelled(contact, post_event, api_token):
    post_event(booking(contact, trip_date="2026-12-20", return_date="2026-12-27"))
    auth = {"Authorization": f"Bearer {api_token}"}
    listed = Client().get(
        f"/api/v1/notifications?contact_id={contact.pk}&status=scheduled", headers=auth
    )
    assert listed.status_code == 200
    items = listed.json()["items"]
    assert len(items) == 5
    reminder = next(n for n in items if n["rule"] == "Pre-trip reminder (7 days)")
    cancel = Client().post(f"/api/v1/notifications/{reminder['id']}/cancel", headers=auth)
    assert cancel.status_code == 200
    assert cancel.json()["status"] == "cancelled"
    again = Client().post(f"/api/v1/notifications/{reminder['id']}/cancel", headers=auth)
    assert again.status_code == 409
