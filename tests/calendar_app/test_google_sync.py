"""Google → Centro without network: the real googleapiclient (its discovery document from the
package) against the fake Calendar server. A first full sync, incremental syncs with the sync
token, a 410 answer turning into a full resync, busy events blocking slots, and a revoked grant
shown to the user."""

import datetime as dt

import pytest
import time_machine
from django.db import connection as db
from django.test.utils import CaptureQueriesContext

from calendar_app.availability import free_slots
from calendar_app.google.models import GoogleCalendar, GoogleConnection, GoogleEvent
from calendar_app.google.tasks import sync_calendar_task
from tests.calendar_app.conftest import NOW, WEDNESDAY_10
from tests.fakes.google_calendar import connect_and_map, event

pytestmark = [pytest.mark.django_db, pytest.mark.clock]

WED = "2026-12-02T"


def wednesday(agent, consult) -> set[dt.datetime]:
    day = WEDNESDAY_10.replace(hour=0)
    return {
        s.start
        for s in free_slots([agent], consult, day, day + dt.timedelta(days=1), tenant_zone="UTC")
    }


def list_calls(google) -> list[dict]:
    return [q for m, path, q, _ in google.requests if m == "GET" and path.endswith("/events")]


@pytest.fixture
def synced(tenant, owner, agent, google_on, eager_tasks, django_capture_on_commit_callbacks):
    """The owner's Google calendar, holding a busy and a free ("transparent") event on
    Wednesday, synced with the agent resource."""
    google_on.put_event(google_on.email, event(f"{WED}10:00:00Z", f"{WED}11:00:00Z", id="busy1"))
    google_on.put_event(
        google_on.email,
        event(f"{WED}14:00:00Z", f"{WED}15:00:00Z", id="free1", transparency="transparent"),
    )
    with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True):
        _, calendar = connect_and_map(tenant, owner, agent, google_on)
    calendar.refresh_from_db()
    return calendar


def test_it_syncs_in_full_first_and_google_busy_time_blocks_slots(synced, google, agent, consult):
    first = list_calls(google)[0]
    assert "timeMin" in first and "syncToken" not in first
    assert first["singleEvents"] == "true"
    assert synced.sync_token.startswith("st") and synced.last_full_sync_at is not None
    rows = {row.event_id: row.busy for row in GoogleEvent.objects.filter(calendar=synced)}
    assert rows == {"busy1": True, "free1": False}
    with time_machine.travel(NOW, tick=False), CaptureQueriesContext(db) as queries:
        slots = wednesday(agent, consult)
    # 10:00 collides with the Google event; 09:00 and 14:00 (transparent) stay free.
    assert WEDNESDAY_10 not in slots
    assert WEDNESDAY_10.replace(hour=9) in slots
    assert WEDNESDAY_10.replace(hour=14) in slots
    assert len(queries) <= 4  # rules, exceptions, appointments, Google busy time


def test_it_syncs_incrementally_with_the_sync_token(synced, google, agent, consult):
    token = synced.sync_token
    google.put_event(google.email, event(f"{WED}09:00:00Z", f"{WED}09:30:00Z", id="new1"))
    google.delete_event(google.email, "busy1")
    with time_machine.travel(NOW, tick=False):
        assert sync_calendar_task.apply(args=[synced.pk]).get() == "incremental: 2"
        slots = wednesday(agent, consult)
    last = list_calls(google)[-1]
    assert last["syncToken"] == token and "timeMin" not in last
    assert GoogleEvent.objects.get(calendar=synced, event_id="busy1").busy is False
    assert GoogleEvent.objects.get(calendar=synced, event_id="new1").busy is True
    assert WEDNESDAY_10 in slots and WEDNESDAY_10.replace(hour=9) not in slots
    synced.refresh_from_db()
    assert synced.sync_token != token


def test_a_410_answer_means_a_full_resync_that_forgets_what_is_gone(synced, google):
    # Gone without a trace (older than Google keeps deletions), and every token expired.
    del google.events[google.email]["busy1"]
    google.expire_sync_tokens()
    with time_machine.travel(NOW, tick=False):
        assert sync_calendar_task.apply(args=[synced.pk]).get() == "full: 1"
    calls = list_calls(google)
    assert "syncToken" in calls[-2] and "syncToken" not in calls[-1]
    assert set(GoogleEvent.objects.filter(calendar=synced).values_list("event_id", flat=True)) == {
        "free1"
    }
    synced.refresh_from_db()
    assert synced.sync_token == f"st{google.last_seq}"


def test_it_reads_every_page_and_keeps_the_token_of_the_last(synced, google):
    for hour in range(9, 17):
        google.put_event(
            google.email, event(f"2026-12-03T{hour:02}:00:00Z", f"2026-12-03T{hour:02}:30:00Z")
        )
    GoogleCalendar.objects.filter(pk=synced.pk).update(sync_token="")
    google.page_limit = 3
    with time_machine.travel(NOW, tick=False):
        assert sync_calendar_task.apply(args=[synced.pk]).get() == "full: 10"
    pages = list_calls(google)[-4:]
    assert [q.get("pageToken") for q in pages] == [None, "3", "6", "9"]
    synced.refresh_from_db()
    assert synced.sync_token == f"st{google.last_seq}"


def test_a_revoked_grant_is_stored_and_shown_with_a_reconnect_link(synced, google, owner, login):
    google.revoke()
    with time_machine.travel(NOW, tick=False):
        result = sync_calendar_task.apply(args=[synced.pk]).get()
    assert result == "The connection lost its access."
    connection = GoogleConnection.objects.get(pk=synced.connection_id)
    assert connection.status == GoogleConnection.Status.REVOKED
    assert "invalid_grant" in connection.status_detail
    # Nothing more is asked of Google for it.
    before = len(google.requests)
    assert sync_calendar_task.apply(args=[synced.pk]).get() == "The connection lost its access."
    assert len(google.requests) == before
    page = login(owner).get("/calendar/google/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "Access revoked" in html
    assert 'action="/calendar/google/connect/"' in html and "Reconnect" in html


def test_booking_a_time_google_holds_is_refused_with_the_nearest_free_slots(
    synced, api, consult, agent, contact
):
    from tests.calendar_app.conftest import booking

    with time_machine.travel(NOW, tick=False):
        answer = api.post("/appointments", booking(consult, agent, contact, confirm=True))
    assert answer.status_code == 409
    error = answer.json()["error"]
    assert error["conflict"]["start"].startswith("2026-12-02T10:00")
    assert error["nearest"]


def test_an_all_day_event_is_busy_for_the_whole_day_in_the_calendars_zone(
    synced, google, agent, consult
):
    GoogleCalendar.objects.filter(pk=synced.pk).update(time_zone="America/New_York")
    google.put_event(
        google.email,
        {
            "id": "allday",
            "summary": "Off",
            "start": {"date": "2026-12-03"},
            "end": {"date": "2026-12-04"},
        },
    )
    with time_machine.travel(NOW, tick=False):
        sync_calendar_task.apply(args=[synced.pk]).get()
    row = GoogleEvent.objects.get(calendar=synced, event_id="allday")
    assert row.start_at == dt.datetime(2026, 12, 3, 5, 0, tzinfo=dt.UTC)  # midnight in New York
    assert row.end_at == dt.datetime(2026, 12, 4, 5, 0, tzinfo=dt.UTC)
    thursday = WEDNESDAY_10 + dt.timedelta(days=1)
    with time_machine.travel(NOW, tick=False):
        slots = free_slots(
            [agent], consult, thursday.replace(hour=0), thursday.replace(hour=23), tenant_zone="UTC"
        )
    assert slots == []


def test_beat_syncs_every_synced_calendar_as_a_safety_net(synced, google, settings):
    from calendar_app.google.tasks import sync_google_calendars_task

    beat = settings.CELERY_BEAT_SCHEDULE["sync-google-calendars"]
    assert beat["task"] == sync_google_calendars_task.name
    google.put_event(google.email, event(f"{WED}16:00:00Z", f"{WED}16:30:00Z", id="late"))
    with time_machine.travel(NOW, tick=False):
        assert sync_google_calendars_task.apply().get() == 1
    assert GoogleEvent.objects.get(calendar=synced, event_id="late").busy
