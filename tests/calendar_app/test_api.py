"""The calendar API: slots, hold then confirm, direct booking, Idempotency-Key, 409 with the
conflict and the nearest free slots, the list's filters and bounded queries, tenant isolation
(API and realtime)."""

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from calendar_app.actions import do_book
from calendar_app.models import Appointment, AppointmentResource
from contacts.models import Contact
from omnichannel.actions import do_create_api_token
from omnichannel.events import tenant_group
from omnichannel.models import Role
from tests.calendar_app.conftest import NOW, WEDNESDAY_10, Api, booking, make_agent, make_type

pytestmark = [pytest.mark.clock, pytest.mark.usefixtures("frozen")]


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def test_an_agent_holds_a_free_slot_then_confirms_it(api, consult, agent, contact):
    slots = api.get(
        "/calendar/slots",
        {"type": consult.pk, "resource": agent.pk, "from": "2026-12-02T00:00:00Z",
         "to": "2026-12-03T00:00:00Z"},
    )  # fmt: skip
    assert slots.status_code == 200, slots.content
    first = slots.json()["slots"][0]
    assert first == {
        "start": "2026-12-02T09:00:00Z",
        "end": "2026-12-02T09:30:00Z",
        "resource_ids": [agent.pk],
    }
    held = api.post("/appointments", booking(consult, agent, contact, notes="First visit"))
    assert held.status_code == 201, held.content
    body = held.json()
    assert body["state"] == "hold"
    assert body["hold_expires_at"] == "2026-12-01T12:10:00Z"
    assert body["resource_ids"] == [agent.pk]
    assert (body["type"], body["contact_name"], body["notes"]) == (
        "Consultation", "Luis Pérez", "First visit"
    )  # fmt: skip
    confirmed = api.post(f"/appointments/{body['id']}/confirm")
    assert confirmed.status_code == 200
    assert (confirmed.json()["state"], confirmed.json()["hold_expires_at"]) == ("confirmed", None)
    assert api.post(f"/appointments/{body['id']}/confirm").json()["state"] == "confirmed"


def test_a_taken_time_answers_409_with_the_conflict_and_the_nearest_free_slots(
    api, consult, agent, contact
):
    assert (
        api.post("/appointments", booking(consult, agent, contact, confirm=True)).status_code == 201
    )
    later = WEDNESDAY_10 + dt.timedelta(minutes=15)  # overlaps 10:00-10:30 (+10 buffer)
    response = api.post("/appointments", booking(consult, agent, contact, start=later))
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "slot_taken"
    assert error["conflict"] == {
        "start": "2026-12-02T10:00:00+00:00",
        "end": "2026-12-02T10:30:00+00:00",
    }
    assert [slot["start"] for slot in error["nearest"]] == [
        "2026-12-02T09:00:00+00:00", "2026-12-02T11:00:00+00:00", "2026-12-02T11:30:00+00:00"
    ]  # fmt: skip
    assert Appointment.objects.count() == 1


def test_bad_requests_are_refused_clearly_and_write_nothing(api, tenant, consult, agent, contact):
    cases = [
        (booking(consult, agent, contact, start="2026-12-02T10:00:00"), 400, "offset"),
        (booking(consult, agent, contact, start="2026-12-01T12:30:00Z"), 400, "notice"),
        (booking(consult, agent, contact, start="2027-06-01T10:00:00Z"), 400, "days ahead"),
        (booking(consult, agent, contact, start="2026-12-02T07:00:00Z"), 400, "not available"),
        ({**booking(consult, agent, contact), "resource_ids": [agent.pk + 999]}, 404, "resource"),
        ({**booking(consult, agent, contact), "contact_id": contact.pk + 999}, 404, ""),
        ({**booking(consult, agent, contact), "type_id": consult.pk + 999}, 404, ""),
        ({**booking(consult, agent, contact), "resource_ids": []}, 422, ""),
    ]
    for body, status, words in cases:
        response = api.post("/appointments", body)
        assert response.status_code == status, (body, response.content)
        assert words in response.json()["error"]["message"]
    slots = api.get("/calendar/slots", {"type": consult.pk, "from": "2026-12-02T00:00:00",
                                        "to": "2026-12-03T00:00:00Z"})  # fmt: skip
    assert slots.status_code == 400
    assert Appointment.objects.count() == AppointmentResource.objects.count() == 0


def test_an_idempotency_key_makes_a_repeat_a_no_op(api, consult, agent, contact):
    body = booking(consult, agent, contact, confirm=True)
    first = api.post("/appointments", body, **{"Idempotency-Key": "book-1"})
    again = api.post("/appointments", body, **{"Idempotency-Key": "book-1"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json()
    assert Appointment.objects.count() == 1
    other = api.post("/appointments", {**body, "notes": "x"}, **{"Idempotency-Key": "book-1"})
    assert other.status_code == 422


def test_reschedule_and_cancel_through_the_api(api, consult, agent, contact):
    made = api.post("/appointments", booking(consult, agent, contact, confirm=True)).json()
    moved = api.post(f"/appointments/{made['id']}/reschedule", {"start": "2026-12-02T15:00:00Z"})
    assert moved.status_code == 200, moved.content
    assert moved.json()["start"] == "2026-12-02T15:00:00Z"
    row = AppointmentResource.objects.get()
    assert row.during.lower == dt.datetime(2026, 12, 2, 15, tzinfo=dt.UTC)
    assert row.during.upper == dt.datetime(2026, 12, 2, 15, 40, tzinfo=dt.UTC)  # + buffer
    # The old time is free again; the new one is not.
    assert api.post("/appointments", booking(consult, agent, contact)).status_code == 201
    cancelled = api.post(f"/appointments/{made['id']}/cancel")
    assert cancelled.json()["state"] == "cancelled"
    assert api.post(f"/appointments/{made['id']}/cancel").status_code == 200
    assert api.post(f"/appointments/{made['id']}/confirm").status_code == 409
    again = booking(consult, agent, contact, start=dt.datetime(2026, 12, 2, 15, tzinfo=dt.UTC))
    assert api.post("/appointments", again).status_code == 201


def test_the_list_filters_and_its_queries_do_not_grow_with_the_page(
    api, tenant, consult, agent, contact
):
    bea = make_agent(tenant, name="Bea")
    both = make_type(tenant, [agent, bea], buffer_after_minutes=0)
    other = Contact.objects.create(tenant=tenant, name="Marta")

    def book(resources, who, hour, day=2):
        start = dt.datetime(2026, 12, day, hour, tzinfo=dt.UTC)
        return do_book(tenant, appointment_type=both, resources=resources, contact=who, start=start)

    book([agent], contact, 9)
    book([bea], other, 9)

    queries_seen = []

    def count_queries(params):
        with CaptureQueriesContext(connection) as queries:
            response = api.get("/appointments", params)
        assert response.status_code == 200
        queries_seen.append([q["sql"][:150] for q in queries])
        return len(queries), response.json()

    count_queries({})  # the token's first use of the minute also records it
    few, page = count_queries({})
    assert page["count"] == 2
    for hour in range(10, 16):
        book([agent, bea], contact, hour)
    many, page = count_queries({})
    assert page["count"] == 8 and many == few <= 5, queries_seen
    assert count_queries({"resource": bea.pk})[1]["count"] == 7
    assert count_queries({"contact": other.pk})[1]["count"] == 1
    assert count_queries({"state": "hold"})[1]["count"] == 0
    window = {"from": "2026-12-02T10:15:00Z", "to": "2026-12-02T12:00:00Z"}
    assert [a["start"] for a in count_queries(window)[1]["items"]] == [
        "2026-12-02T10:00:00Z", "2026-12-02T11:00:00Z"
    ]  # fmt: skip


def test_setting_up_a_resource_and_a_type_through_the_api(api, tenant, owner):
    resource = api.post(
        "/calendar/resources",
        {"name": "Dra. Ruiz", "timezone": "Europe/Madrid", "user_id": owner.pk,
         "availability": [{"weekday": 0, "start": "09:00", "end": "14:00"}]},
    )  # fmt: skip
    assert resource.status_code == 201, resource.content
    assert resource.json()["availability"] == [
        {"weekday": 0, "start": "09:00:00", "end": "14:00:00"}
    ]
    bad = api.post("/calendar/resources", {"name": "X", "timezone": "Mars/Olympus"})
    assert bad.status_code == 400
    made = api.post("/calendar/types", {"name": "Visa", "duration_minutes": 45,
                                        "resource_ids": [resource.json()["id"]]})  # fmt: skip
    assert made.status_code == 201, made.content
    assert made.json()["resource_ids"] == [resource.json()["id"]]
    closed = api.post(f"/calendar/resources/{resource.json()['id']}/exceptions",
                      {"start_date": "2026-12-25", "reason": "Navidad"})  # fmt: skip
    assert closed.status_code == 201
    assert api.get("/calendar/types").json()["count"] == 1


def test_another_tenant_cannot_see_book_or_change_our_calendar(
    api,
    tenant,
    other_tenant,
    consult,
    agent,
    contact,
    private_channel_prefix,
    group_events,
    django_capture_on_commit_callbacks,
):
    ours = group_events(tenant_group(tenant.pk))
    theirs = group_events(tenant_group(other_tenant.pk))
    with django_capture_on_commit_callbacks(execute=True):
        made = api.post("/appointments", booking(consult, agent, contact)).json()
    _, raw = do_create_api_token(
        other_tenant, name="Other", role=Role.objects.get(tenant=other_tenant, builtin="owner")
    )
    stranger = Api(raw)
    their_contact = Contact.objects.create(tenant=other_tenant, name="Spy")
    assert stranger.get(f"/appointments/{made['id']}").status_code == 404
    assert stranger.get("/appointments").json()["count"] == 0
    for action in ("confirm", "cancel"):
        assert stranger.post(f"/appointments/{made['id']}/{action}").status_code == 404
    moved = stranger.post(
        f"/appointments/{made['id']}/reschedule", {"start": "2026-12-02T15:00:00Z"}
    )
    assert moved.status_code == 404
    attempt = booking(consult, agent, their_contact, start=WEDNESDAY_10 + dt.timedelta(hours=2))
    assert stranger.post("/appointments", attempt).status_code == 404
    day = {"type": consult.pk, "from": "2026-12-02T00:00:00Z", "to": "2026-12-03T00:00:00Z"}
    assert stranger.get("/calendar/slots", day).status_code == 404
    assert stranger.get("/calendar/resources").json()["count"] == 0
    assert Appointment.objects.get().state == "hold"
    received = ours()
    assert [m["event"] for m in received] == ["appointment.created"]
    assert received[0]["payload"]["id"] == made["id"]
    assert theirs() == []


def test_a_token_without_calendar_book_cannot_book(tenant, consult, agent, contact):
    _, raw = do_create_api_token(
        tenant, name="Viewer", role=Role.objects.get(tenant=tenant, builtin="viewer")
    )
    viewer = Api(raw)
    assert viewer.get("/appointments").status_code == 200
    response = viewer.post("/appointments", booking(consult, agent, contact))
    assert response.status_code == 403
    assert response.json()["error"]["permission"] == "calendar.book"


def test_open_pages_hear_of_confirms_moves_and_cancels(
    api, tenant, consult, agent, contact, private_channel_prefix, group_events,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    events = group_events(tenant_group(tenant.pk))
    with django_capture_on_commit_callbacks(execute=True):
        made = api.post("/appointments", booking(consult, agent, contact)).json()
        api.post(f"/appointments/{made['id']}/confirm")
        api.post(f"/appointments/{made['id']}/reschedule", {"start": "2026-12-02T15:00:00Z"})
        api.post(f"/appointments/{made['id']}/cancel")
    # (In whatever order: the channel layer orders by a clock that is frozen here.)
    received = [(m["event"], m["payload"]["state"], m["payload"]["start"]) for m in events()]
    assert sorted(received) == sorted(
        [
            ("appointment.created", "hold", "2026-12-02T10:00:00+00:00"),
            ("appointment.updated", "confirmed", "2026-12-02T10:00:00+00:00"),
            ("appointment.updated", "confirmed", "2026-12-02T15:00:00+00:00"),
            ("appointment.deleted", "cancelled", "2026-12-02T15:00:00+00:00"),
        ]
    )


def test_rescheduling_onto_other_resources_moves_the_blocked_time(
    api, tenant, consult, agent, contact
):
    bea = make_agent(tenant, name="Bea")
    consult.resources.add(bea)
    made = api.post("/appointments", booking(consult, agent, contact, confirm=True)).json()
    moved = api.post(
        f"/appointments/{made['id']}/reschedule",
        {"start": "2026-12-02T10:00:00Z", "resource_ids": [bea.pk]},
    )
    assert moved.status_code == 200, moved.content
    assert moved.json()["resource_ids"] == [bea.pk]
    assert list(AppointmentResource.objects.values_list("resource_id", flat=True)) == [bea.pk]
    # Ana is free at 10:00 again; Bea is not.
    assert api.post("/appointments", booking(consult, agent, contact)).status_code == 201
    taken = api.post(
        "/appointments", {**booking(consult, agent, contact), "resource_ids": [bea.pk]}
    )
    assert taken.status_code == 409
