"""Settings → Calendar: resources (their hours, closures, feed) and appointment types set up in
the browser, through the same audited actions as the API; refusals next to their fields; only
``calendar.manage``; another tenant's rows answer 404."""

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from calendar_app.actions import do_add_availability_exception, do_book, do_set_ics_token
from calendar_app.models import (
    AppointmentType,
    AvailabilityException,
    AvailabilityRule,
    Resource,
)
from omnichannel.models import AuditEvent
from tests.calendar_app.conftest import NOW, WEDNESDAY_10, make_agent, make_type

pytestmark = pytest.mark.django_db
LIST = "/settings/calendar/"
TYPE_FORM = {
    "name": "Consultation",
    "duration_minutes": "45",
    "buffer_before_minutes": "5",
    "buffer_after_minutes": "10",
    "slot_step_minutes": "15",
    "min_notice_minutes": "120",
    "horizon_days": "30",
    "hold_minutes": "10",
    "color": "#112233",
    "is_active": "on",
}


@pytest.fixture
def admin(tenant, owner, login):
    return login(owner)


def audits(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


def test_it_creates_a_resource_and_shows_it_in_the_list(admin, tenant, make_member):
    agent_user = make_member(tenant, "agent")
    response = admin.post(
        reverse("settings:calendar-resource-create"),
        {
            "name": "  Ana   Agent ",
            "kind": "agent",
            "user": agent_user.pk,
            "timezone": "Europe/Madrid",
            "color": "#aa00bb",
            "is_active": "on",
        },
    )
    resource = Resource.objects.get(tenant=tenant)
    assert response.status_code == 302
    assert response["Location"] == reverse("settings:calendar-resource", args=[resource.pk])
    assert (resource.name, resource.user, resource.timezone, resource.color) == (
        "Ana Agent",
        agent_user,
        "Europe/Madrid",
        "#aa00bb",
    )
    assert resource.is_active
    assert len(audits(AuditEvent.Action.CALENDAR_RESOURCE_CREATED)) == 1
    page = admin.get(LIST).content.decode()
    assert f'id="resource-{resource.pk}"' in page
    assert agent_user.email in page and "Europe/Madrid" in page and "#aa00bb" in page


def test_it_shows_a_refused_value_next_to_its_field_and_keeps_what_was_typed(admin, tenant):
    response = admin.post(
        reverse("settings:calendar-resource-create"),
        {"name": "Room 1", "kind": "room", "timezone": "Mars/Olympus", "color": "#123456"},
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert (
        '<p class="error" id="new-resource-timezone-error">“Mars/Olympus” is not a time zone '
        "(an IANA name such as Europe/Madrid).</p>"
    ) in page
    assert 'value="Room 1"' in page and 'value="Mars/Olympus"' in page
    assert not Resource.objects.filter(tenant=tenant).exists()
    assert audits(AuditEvent.Action.CALENDAR_RESOURCE_CREATED) == []


def test_it_edits_a_resource_and_audits_what_changed(admin, tenant):
    resource = make_agent(tenant, name="Ana")
    url = reverse("settings:calendar-resource", args=[resource.pk])
    assert 'value="Ana"' in admin.get(url).content.decode()
    response = admin.post(
        url, {"name": "Ana (mornings)", "kind": "agent", "timezone": "UTC", "color": "#4f46e5"}
    )
    assert response.status_code == 302
    resource.refresh_from_db()
    assert resource.name == "Ana (mornings)" and not resource.is_active
    (changed,) = audits(AuditEvent.Action.CALENDAR_RESOURCE_CHANGED)
    assert changed.data["changed"] == ["is_active", "name"]


def test_it_adds_and_removes_weekly_hours(admin, tenant):
    resource = make_agent(tenant, weekly=[(0, dt.time(9), dt.time(12))])
    add = reverse("settings:calendar-hours-add", args=[resource.pk])
    assert (
        admin.post(add, {"weekday": "2", "start_time": "14:00", "end_time": "18:30"}).status_code
        == 302
    )
    rules = {
        (r.weekday, r.start_time, r.end_time)
        for r in AvailabilityRule.objects.filter(resource=resource)
    }
    assert rules == {(0, dt.time(9), dt.time(12)), (2, dt.time(14), dt.time(18, 30))}
    monday = AvailabilityRule.objects.get(resource=resource, weekday=0)
    admin.post(reverse("settings:calendar-hours-remove", args=[resource.pk, monday.pk]))
    assert list(
        AvailabilityRule.objects.filter(resource=resource).values_list("weekday", flat=True)
    ) == [2]
    assert len(audits(AuditEvent.Action.CALENDAR_RESOURCE_CHANGED)) == 2
    page = admin.get(reverse("settings:calendar-resource", args=[resource.pk])).content.decode()
    assert "Wednesday 14:00\u201318:30" in page  # the template writes an en dash


def test_it_refuses_hours_that_end_before_they_start_next_to_the_field(admin, tenant):
    resource = make_agent(tenant, weekly=[])
    response = admin.post(
        reverse("settings:calendar-hours-add", args=[resource.pk]),
        {"weekday": "1", "start_time": "17:00", "end_time": "09:00"},
    )
    assert response.status_code == 400
    assert (
        '<p class="error" id="hours-end-error">An interval must start before it ends '
        "(17:00-09:00).</p>"
    ) in response.content.decode()
    bad_time = admin.post(
        reverse("settings:calendar-hours-add", args=[resource.pk]),
        {"weekday": "1", "start_time": "9am", "end_time": "17:00"},
    )
    assert bad_time.status_code == 400
    assert "“9am” is not a time (HH:MM)." in bad_time.content.decode()
    assert not AvailabilityRule.objects.filter(resource=resource).exists()


def test_it_adds_a_closure_and_removes_it(admin, tenant):
    resource = make_agent(tenant)
    response = admin.post(
        reverse("settings:calendar-exception-add", args=[resource.pk]),
        {"kind": "closed", "start_date": "2026-12-24", "end_date": "2026-12-26", "reason": "Xmas"},
    )
    assert response.status_code == 302
    closure = AvailabilityException.objects.get(resource=resource)
    assert (closure.start_date, closure.end_date, closure.start_time, closure.reason) == (
        dt.date(2026, 12, 24),
        dt.date(2026, 12, 26),
        None,
        "Xmas",
    )
    page = admin.get(reverse("settings:calendar-resource", args=[resource.pk])).content.decode()
    assert "2026-12-24 to 2026-12-26" in page and "Xmas" in page
    admin.post(reverse("settings:calendar-exception-remove", args=[resource.pk, closure.pk]))
    assert not AvailabilityException.objects.filter(resource=resource).exists()
    removed = audits(AuditEvent.Action.CALENDAR_RESOURCE_CHANGED)[-1]
    assert removed.data == {"changed": ["exceptions"], "removed_exception_id": closure.pk}


def test_it_refuses_extra_hours_without_times_next_to_the_field(admin, tenant):
    resource = make_agent(tenant)
    response = admin.post(
        reverse("settings:calendar-exception-add", args=[resource.pk]),
        {"kind": "open", "start_date": "2026-12-27"},
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert (
        '<p class="error" id="exception-start-time-error">Extra open hours need their start '
        "and end times.</p>"
    ) in page
    no_date = admin.post(reverse("settings:calendar-exception-add", args=[resource.pk]), {})
    assert no_date.status_code == 400
    assert "Enter a date (YYYY-MM-DD)." in no_date.content.decode()
    assert not AvailabilityException.objects.exists()


def test_rotating_the_feed_shows_the_new_url_once_and_ends_the_old_one(admin, tenant, client):
    resource = make_agent(tenant)
    old = do_set_ics_token(resource)
    response = admin.post(
        reverse("settings:calendar-resource-feed", args=[resource.pk]), {"enabled": "on"}
    )
    assert response.status_code == 200
    page = response.content.decode()
    resource.refresh_from_db()
    assert 'id="feed-url"' in page and old not in page
    new_url = page.split('readonly value="', 1)[1].split('"', 1)[0]
    path = new_url.split("://", 1)[1].split("/", 1)[1]
    assert client.get(f"/{path}").status_code == 200
    assert client.get(reverse("calendar-feed", args=[old])).status_code == 404
    # The URL is shown once: the page itself only offers to rotate it.
    again = admin.get(reverse("settings:calendar-resource", args=[resource.pk])).content.decode()
    assert path not in again and "Rotate secret" in again
    admin.post(reverse("settings:calendar-resource-feed", args=[resource.pk]), {"enabled": "off"})
    resource.refresh_from_db()
    assert resource.ics_token == ""


@pytest.mark.clock  # the booking's notice and horizon are checked against the clock
def test_deleting_a_resource_removes_it_or_deactivates_a_booked_one(admin, tenant, contact):
    spare, booked = make_agent(tenant, name="Spare"), make_agent(tenant, name="Booked")
    consult = make_type(tenant, [booked])
    with time_machine.travel(NOW, tick=False):
        do_book(
            tenant,
            appointment_type=consult,
            resources=[booked],
            contact=contact,
            start=WEDNESDAY_10,
        )
    admin.post(reverse("settings:calendar-resource-delete", args=[spare.pk]))
    response = admin.post(reverse("settings:calendar-resource-delete", args=[booked.pk]))
    assert response.status_code == 302
    assert list(Resource.objects.filter(tenant=tenant).values_list("name", "is_active")) == [
        ("Booked", False)
    ]
    assert "deactivated instead" in admin.get(LIST).content.decode()
    assert len(audits(AuditEvent.Action.CALENDAR_RESOURCE_DELETED)) == 1


def test_it_creates_edits_and_deletes_an_appointment_type(admin, tenant):
    ana, room = make_agent(tenant, name="Ana"), make_agent(tenant, name="Room")
    response = admin.post(
        reverse("settings:calendar-type-create"), {**TYPE_FORM, "resources": [ana.pk]}
    )
    assert response.status_code == 302
    consult = AppointmentType.objects.get(tenant=tenant)
    assert (
        consult.duration_minutes,
        consult.buffer_before_minutes,
        consult.buffer_after_minutes,
        consult.slot_step_minutes,
        consult.min_notice_minutes,
        consult.horizon_days,
        consult.hold_minutes,
        consult.color,
    ) == (45, 5, 10, 15, 120, 30, 10, "#112233")
    assert list(consult.resources.all()) == [ana]
    url = reverse("settings:calendar-type", args=[consult.pk])
    assert 'value="45"' in admin.get(url).content.decode()
    admin.post(url, {**TYPE_FORM, "duration_minutes": "60", "resources": [ana.pk, room.pk]})
    consult.refresh_from_db()
    assert consult.duration_minutes == 60
    assert {r.name for r in consult.resources.all()} == {"Ana", "Room"}
    (changed,) = audits(AuditEvent.Action.APPOINTMENT_TYPE_CHANGED)
    assert changed.data["changed"] == ["duration_minutes", "resources"]
    admin.post(reverse("settings:calendar-type-delete", args=[consult.pk]))
    assert not AppointmentType.objects.filter(tenant=tenant).exists()
    assert len(audits(AuditEvent.Action.APPOINTMENT_TYPE_DELETED)) == 1


def test_it_shows_a_type_s_refused_number_next_to_its_field(admin, tenant):
    response = admin.post(
        reverse("settings:calendar-type-create"), {**TYPE_FORM, "duration_minutes": "2"}
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert (
        '<p class="error" id="new-type-duration_minutes-error">The duration in minutes is a '
        "whole number from 5 to 1440 (duration_minutes).</p>"
    ) in page
    assert 'value="Consultation"' in page
    words = admin.post(
        reverse("settings:calendar-type-create"), {**TYPE_FORM, "horizon_days": "lots"}
    )
    assert words.status_code == 400
    assert (
        '<p class="error" id="new-type-horizon_days-error">Enter a whole number.</p>'
        in words.content.decode()
    )
    assert not AppointmentType.objects.exists()


@pytest.mark.parametrize("role", ["agent", "viewer"])
def test_a_member_without_calendar_manage_gets_403_and_no_section(tenant, make_member, login, role):
    resource = make_agent(tenant)
    client = login(make_member(tenant, role))
    assert client.get(LIST).status_code == 403
    assert client.get(reverse("settings:calendar-resource", args=[resource.pk])).status_code == 403
    assert (
        client.post(reverse("settings:calendar-resource-create"), {"name": "X"}).status_code == 403
    )
    assert (
        client.post(reverse("settings:calendar-resource-delete", args=[resource.pk])).status_code
        == 403
    )
    assert Resource.objects.filter(tenant=tenant).count() == 1
    if role == "agent":  # the Google page (calendar.book) does not offer the section either
        page = client.get(reverse("calendar_google:settings")).content.decode()
        assert 'href="/settings/calendar/"' not in page


def test_the_google_page_highlights_the_calendar_section(admin):
    page = admin.get(reverse("calendar_google:settings")).content.decode()
    assert '<a href="/settings/calendar/" aria-current="page">Calendar</a>' in page
    assert reverse("calendar_google:settings") in admin.get(LIST).content.decode()


def test_another_tenant_cannot_see_or_change_these_rows(tenant, other_tenant, make_member, login):
    resource = make_agent(tenant, name="Ana")
    consult = make_type(tenant, [resource])
    closure = do_add_availability_exception(resource, start_date=dt.date(2026, 12, 24))
    rule = AvailabilityRule.objects.filter(resource=resource).first()
    stranger = login(make_member(other_tenant, "admin"))
    page = stranger.get(LIST).content.decode()
    assert "Ana" not in page and "Consultation" not in page
    for name, args in [
        ("settings:calendar-resource", [resource.pk]),
        ("settings:calendar-type", [consult.pk]),
    ]:
        assert stranger.get(reverse(name, args=args)).status_code == 404
    writes = [
        ("settings:calendar-resource", [resource.pk], {"name": "Mine", "kind": "room"}),
        ("settings:calendar-resource-delete", [resource.pk], {}),
        ("settings:calendar-hours-add", [resource.pk], {"weekday": "6", "start_time": "01:00"}),
        ("settings:calendar-hours-remove", [resource.pk, rule.pk], {}),
        ("settings:calendar-exception-add", [resource.pk], {"start_date": "2026-12-31"}),
        ("settings:calendar-exception-remove", [resource.pk, closure.pk], {}),
        ("settings:calendar-resource-feed", [resource.pk], {"enabled": "on"}),
        ("settings:calendar-type", [consult.pk], {**TYPE_FORM, "name": "Mine"}),
        ("settings:calendar-type-delete", [consult.pk], {}),
    ]
    for name, args, data in writes:
        assert stranger.post(reverse(name, args=args), data).status_code == 404, name
    # Nor can it attach the first tenant's resource to its own type.
    response = stranger.post(
        reverse("settings:calendar-type-create"), {**TYPE_FORM, "resources": [resource.pk]}
    )
    assert response.status_code == 400
    assert "Choose among this tenant&#x27;s resources." in response.content.decode()
    resource.refresh_from_db()
    consult.refresh_from_db()
    assert (resource.name, resource.ics_token, consult.name) == ("Ana", "", "Consultation")
    assert AvailabilityException.objects.filter(pk=closure.pk).exists()
    assert AvailabilityRule.objects.filter(resource=resource).count() == 5
    assert not AppointmentType.objects.filter(tenant=other_tenant).exists()


def test_the_list_runs_the_same_queries_for_one_row_or_many(
    admin, tenant, make_member, django_assert_max_num_queries
):
    first = make_agent(tenant, name="Ana")
    make_type(tenant, [first])
    with CaptureQueriesContext(connection) as one:
        assert admin.get(LIST).status_code == 200
    for number in range(5):
        user = make_member(tenant, "agent", email=f"agent{number}@example.test")
        resource = make_agent(tenant, name=f"Agent {number}")
        resource.user = user
        resource.save()
        make_type(tenant, [first, resource], name=f"Type {number}")
    with django_assert_max_num_queries(len(one)):
        page = admin.get(LIST).content.decode()
    assert page.count('<tr id="resource-') == 6 and page.count('<tr id="type-') == 6
