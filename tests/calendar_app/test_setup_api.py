"""Changing and removing the calendar's setup through the API: PATCH changes only what is sent,
DELETE removes what was never booked and deactivates what was; every change is audited; another
tenant's token gets 404 and a role without calendar.manage 403."""

import json

import pytest
import time_machine

from calendar_app.actions import do_book
from calendar_app.models import AppointmentType, AvailabilityRule, Resource
from omnichannel.actions import do_create_api_token
from omnichannel.models import AuditEvent, Role
from tests.calendar_app.conftest import NOW, WEDNESDAY_10, Api, make_agent, make_type

# Bookings are made under a frozen clock (their notice and horizon are checked).
pytestmark = pytest.mark.clock


class SetupApi(Api):
    def patch(self, path: str, body: dict):
        return self.client.patch(
            f"/api/v1{path}", data=json.dumps(body), content_type="application/json"
        )

    def delete(self, path: str):
        return self.client.delete(f"/api/v1{path}")


@pytest.fixture
def admin(api_token) -> SetupApi:
    return SetupApi(api_token)


def token(tenant, role: str) -> SetupApi:
    _, raw = do_create_api_token(
        tenant, name=role, role=Role.objects.get(tenant=tenant, builtin=role)
    )
    return SetupApi(raw)


def audits(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


def test_patching_a_resource_changes_only_what_is_sent_and_audits_it(
    admin, tenant, agent, make_member
):
    member = make_member(tenant, "agent")
    response = admin.patch(
        f"/calendar/resources/{agent.pk}",
        {
            "name": "Ana (mornings)",
            "user_id": member.pk,
            "availability": [{"weekday": 0, "start": "09:00", "end": "13:00"}],
        },
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["name"], body["user_id"], body["timezone"], body["kind"]) == (
        "Ana (mornings)", member.pk, "UTC", "agent"
    )  # fmt: skip
    assert body["availability"] == [{"weekday": 0, "start": "09:00:00", "end": "13:00:00"}]
    [row] = audits("calendar_resource.changed")
    assert row.target_id == str(agent.pk)
    assert row.data == {"changed": ["availability", "name", "user"]}
    # The same values again change nothing and write no row.
    again = admin.patch(f"/calendar/resources/{agent.pk}", {"name": "Ana (mornings)"})
    assert again.status_code == 200
    assert len(audits("calendar_resource.changed")) == 1
    unlinked = admin.patch(f"/calendar/resources/{agent.pk}", {"user_id": None})
    assert unlinked.json()["user_id"] is None


def test_a_resource_patch_is_validated(admin, tenant, other_tenant, agent, make_member):
    stranger = make_member(other_tenant, "agent")
    cases = [
        ({"user_id": stranger.pk}, 404, "No member"),
        ({"timezone": "Mars/Olympus"}, 400, "not a time zone"),
        ({"color": "red"}, 400, "#rrggbb"),
        ({"name": None}, 400, "cannot be null"),
        ({"kind": "spaceship"}, 422, ""),
        ({"availability": [{"weekday": 1, "start": "12:00", "end": "09:00"}]}, 400, "start before"),
    ]
    for body, status, text in cases:
        response = admin.patch(f"/calendar/resources/{agent.pk}", body)
        assert response.status_code == status, (body, response.content)
        assert text in response.content.decode(), body
    agent.refresh_from_db()
    assert (agent.name, agent.user_id, agent.timezone) == ("Ana Agent", None, "UTC")
    assert AvailabilityRule.objects.filter(resource=agent).count() == 5


def test_deleting_a_resource_removes_it_or_deactivates_it_when_booked(
    admin, tenant, agent, consult, contact
):
    spare = make_agent(tenant, name="Spare")
    gone = admin.delete(f"/calendar/resources/{spare.pk}")
    assert gone.status_code == 200
    assert gone.json() == {"id": spare.pk, "deleted": True}
    assert not Resource.objects.filter(pk=spare.pk).exists()
    with time_machine.travel(NOW, tick=False):
        do_book(
            tenant, appointment_type=consult, resources=[agent], contact=contact, start=WEDNESDAY_10
        )
    kept = admin.delete(f"/calendar/resources/{agent.pk}")
    assert kept.json() == {"id": agent.pk, "deleted": False}
    agent.refresh_from_db()
    assert agent.is_active is False
    assert [a.target_id for a in audits("calendar_resource.deleted")] == [str(spare.pk)]
    [deactivated] = audits("calendar_resource.changed")
    assert deactivated.data["changed"] == ["is_active"]
    # Deactivated: it takes no new bookings.
    assert admin.patch(f"/calendar/resources/{agent.pk}", {"is_active": True}).json()["is_active"]


def test_patching_and_deleting_an_appointment_type(admin, tenant, agent, consult, contact):
    room = make_agent(tenant, name="Room")
    response = admin.patch(
        f"/calendar/types/{consult.pk}",
        {"duration_minutes": 45, "resource_ids": [agent.pk, room.pk], "color": "#112233"},
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["duration_minutes"], body["buffer_after_minutes"], body["color"]) == (
        45, 10, "#112233"
    )  # fmt: skip
    assert body["resource_ids"] == sorted([agent.pk, room.pk])
    [row] = audits("appointment_type.changed")
    assert row.data == {"changed": ["color", "duration_minutes", "resources"]}
    assert admin.patch(f"/calendar/types/{consult.pk}", {"hold_minutes": 0}).status_code == 422
    assert admin.patch(f"/calendar/types/{consult.pk}", {"name": None}).status_code == 400
    unused = make_type(tenant, [agent], name="Unused")
    assert admin.delete(f"/calendar/types/{unused.pk}").json()["deleted"] is True
    assert not AppointmentType.objects.filter(pk=unused.pk).exists()
    with time_machine.travel(NOW, tick=False):
        do_book(
            tenant, appointment_type=consult, resources=[agent], contact=contact, start=WEDNESDAY_10
        )
    assert admin.delete(f"/calendar/types/{consult.pk}").json()["deleted"] is False
    consult.refresh_from_db()
    assert consult.is_active is False
    assert [a.target_id for a in audits("appointment_type.deleted")] == [str(unused.pk)]


def test_creating_setup_is_audited(admin, tenant):
    made = admin.post("/calendar/resources", {"name": "Room 7", "kind": "room"})
    assert made.status_code == 201
    typed = admin.post("/calendar/types", {"name": "Visit", "resource_ids": [made.json()["id"]]})
    assert typed.status_code == 201
    closed = admin.post(
        f"/calendar/resources/{made.json()['id']}/exceptions", {"start_date": "2026-12-24"}
    )
    assert closed.status_code == 201
    actions = [a.action for a in AuditEvent.objects.filter(tenant=tenant).order_by("id")]
    assert actions[-3:] == [
        "calendar_resource.created",
        "appointment_type.created",
        "calendar_resource.changed",
    ]
    row = AuditEvent.objects.filter(tenant=tenant).latest("id")
    assert row.actor_token is not None  # the token that did it


def test_another_tenant_and_other_roles_cannot_change_our_setup(
    tenant, other_tenant, agent, consult
):
    theirs = token(other_tenant, "owner")
    for path in (f"/calendar/resources/{agent.pk}", f"/calendar/types/{consult.pk}"):
        assert theirs.patch(path, {"name": "Hijacked"}).status_code == 404
        assert theirs.delete(path).status_code == 404
    theirs_type = theirs.patch(f"/calendar/types/{10**9}", {"name": "X"})
    assert theirs_type.status_code == 404
    # A type of theirs cannot be offered by our resource (and the reverse).
    their_type = make_type(other_tenant, [])
    assert (
        token(tenant, "owner")
        .patch(f"/calendar/types/{their_type.pk}", {"resource_ids": [agent.pk]})
        .status_code
        == 404
    )
    ours = token(other_tenant, "owner").patch(
        f"/calendar/types/{their_type.pk}", {"resource_ids": [agent.pk]}
    )
    assert ours.status_code == 404
    agent_token = token(tenant, "agent")
    assert agent_token.patch(f"/calendar/resources/{agent.pk}", {"name": "X"}).status_code == 403
    assert agent_token.delete(f"/calendar/types/{consult.pk}").status_code == 403
    agent.refresh_from_db()
    consult.refresh_from_db()
    assert (agent.name, consult.name, agent.is_active, consult.is_active) == (
        "Ana Agent", "Consultation", True, True
    )  # fmt: skip
    assert not AuditEvent.objects.filter(action__startswith="calendar_resource.changed").exists()


def test_an_empty_time_zone_falls_back_to_the_tenants(admin, agent):
    response = admin.patch(f"/calendar/resources/{agent.pk}", {"timezone": ""})
    assert response.status_code == 200
    assert response.json()["timezone"] == ""
    agent.refresh_from_db()
    assert agent.timezone == ""
    [row] = audits("calendar_resource.changed")
    assert row.data == {"changed": ["timezone"]}
