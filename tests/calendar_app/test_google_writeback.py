"""Centro → Google and back: a confirmed appointment is inserted in the synced calendar (our
own event id, Centro ids in private extended properties), a reschedule patches it with
If-Match, a cancel deletes it; an event deleted or moved in Google cancels, moves or keeps
(flagged) the appointment by the connection's rule; a 412 re-reads the event first."""

import datetime as dt

import pytest
import time_machine

from calendar_app.actions import do_book, do_cancel, do_reschedule
from calendar_app.google.models import GoogleConnection, GoogleEvent
from calendar_app.google.tasks import push_appointment_task, sync_calendar_task
from calendar_app.google.writeback import event_id_for
from calendar_app.models import AppointmentState
from tests.calendar_app.conftest import NOW, WEDNESDAY_10
from tests.fakes.google_calendar import connect_and_map

pytestmark = [pytest.mark.django_db, pytest.mark.clock]


@pytest.fixture
def synced(tenant, owner, agent, google_on, eager_tasks, django_capture_on_commit_callbacks):
    with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True):
        _, calendar = connect_and_map(tenant, owner, agent, google_on)
    calendar.refresh_from_db()
    return calendar


@pytest.fixture
def booked(synced, tenant, agent, consult, contact, django_capture_on_commit_callbacks):
    with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True):
        appointment = do_book(
            tenant, appointment_type=consult, resources=[agent], contact=contact, start=WEDNESDAY_10
        )
    return appointment


def writes(google, method: str) -> list:
    return [r for r in google.requests if r[0] == method and "/events" in r[1]]


def test_an_appointment_booked_in_centro_appears_in_google(booked, google, synced):
    stored = google.events[google.email][event_id_for(booked)]
    assert stored["start"]["dateTime"] == "2026-12-02T10:00:00Z"
    assert stored["end"]["dateTime"] == "2026-12-02T10:30:00Z"
    assert stored["extendedProperties"]["private"] == {
        "centro_appointment_id": str(booked.pk),
        "centro_tenant_id": str(booked.tenant_id),
    }
    assert "Consultation" in stored["summary"]
    row = GoogleEvent.objects.get(appointment=booked)
    assert row.etag == stored["etag"] and row.busy is False
    # Running the task again changes nothing (no second insert).
    push_appointment_task.apply(args=[booked.tenant_id, booked.pk]).get()
    assert len(writes(google, "POST")) == 2  # the watch and the one insert


def test_a_reschedule_patches_and_a_cancel_deletes_with_the_etag(
    booked, google, django_capture_on_commit_callbacks
):
    etag = GoogleEvent.objects.get(appointment=booked).etag
    with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True):
        do_reschedule(booked, start=WEDNESDAY_10 + dt.timedelta(hours=2))
    assert google.preconditions[0] == ("PATCH", etag, 200)
    stored = google.events[google.email][event_id_for(booked)]
    assert stored["start"]["dateTime"] == "2026-12-02T12:00:00Z"
    with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True):
        do_cancel(booked)
    assert stored["status"] == "cancelled"
    assert len(writes(google, "PATCH")) == 1 and len(writes(google, "DELETE")) == 1


def test_a_stale_etag_gets_412_the_event_is_read_again_and_the_rule_decides(
    booked, google, django_capture_on_commit_callbacks
):
    row = GoogleEvent.objects.get(appointment=booked)
    stale = row.etag
    # Moved in Google meanwhile (not synced yet): our ETag is stale.
    google.move_event(google.email, row.event_id, "2026-12-02T15:00:00Z", "2026-12-02T15:30:00Z")
    fresh = google.events[google.email][row.event_id]["etag"]
    GoogleConnection.objects.update(on_google_change=GoogleConnection.OnGoogleChange.KEEP)
    with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True):
        do_reschedule(booked, start=WEDNESDAY_10 + dt.timedelta(hours=3))
    assert [(m, etag, status) for m, etag, status in google.preconditions if m == "PATCH"] == [
        ("PATCH", stale, 412),
        ("PATCH", fresh, 200),
    ]
    stored = google.events[google.email][row.event_id]
    # Keep: Google's move was flagged, then Centro's time written with the fresh ETag.
    assert stored["start"]["dateTime"] == "2026-12-02T13:00:00Z"
    row.refresh_from_db()
    assert row.etag == stored["etag"]
    assert "moved to 2026-12-02t15:00" in row.flag.lower()


def test_a_delete_sends_the_etag_too(booked, google, django_capture_on_commit_callbacks):
    etag = GoogleEvent.objects.get(appointment=booked).etag
    with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True):
        do_cancel(booked)
    assert google.preconditions == [("DELETE", etag, 200)]


def test_an_event_deleted_in_google_cancels_its_appointment(
    booked, google, synced, django_capture_on_commit_callbacks
):
    google.delete_event(google.email, event_id_for(booked))
    with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True):
        sync_calendar_task.apply(args=[synced.pk]).get()
    booked.refresh_from_db()
    assert booked.state == AppointmentState.CANCELLED
    # Nothing is deleted again (the event is already gone).
    assert not writes(google, "DELETE")


def test_an_event_moved_in_google_moves_its_appointment(
    booked, google, synced, django_capture_on_commit_callbacks
):
    google.move_event(
        google.email, event_id_for(booked), "2026-12-02T14:00:00Z", "2026-12-02T14:30:00Z"
    )
    with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True):
        sync_calendar_task.apply(args=[synced.pk]).get()
    booked.refresh_from_db()
    assert booked.state == AppointmentState.CONFIRMED
    assert booked.start_at == WEDNESDAY_10.replace(hour=14)
    assert not writes(google, "PATCH")  # Google already holds that time


def test_keep_and_flag_leaves_the_appointment_and_shows_the_change(
    booked, google, synced, owner, login, django_capture_on_commit_callbacks
):
    GoogleConnection.objects.update(on_google_change=GoogleConnection.OnGoogleChange.KEEP)
    google.delete_event(google.email, event_id_for(booked))
    with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True):
        sync_calendar_task.apply(args=[synced.pk]).get()
    booked.refresh_from_db()
    assert booked.state == AppointmentState.CONFIRMED
    row = GoogleEvent.objects.get(appointment=booked)
    assert row.flag.startswith("Deleted in Google")
    page = login(owner).get("/calendar/google/").content.decode()
    assert "Deleted in Google" in page


def test_the_cancel_rule_cancels_an_appointment_moved_in_google(
    booked, google, synced, django_capture_on_commit_callbacks
):
    GoogleConnection.objects.update(on_google_change=GoogleConnection.OnGoogleChange.CANCEL)
    google.move_event(
        google.email, event_id_for(booked), "2026-12-02T14:00:00Z", "2026-12-02T14:30:00Z"
    )
    with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True):
        sync_calendar_task.apply(args=[synced.pk]).get()
    booked.refresh_from_db()
    assert booked.state == AppointmentState.CANCELLED


def test_an_older_copy_of_the_event_read_before_our_write_does_not_undo_it(
    booked, google, synced, django_capture_on_commit_callbacks
):
    from django.db import transaction

    from calendar_app.google.sync import _apply

    # A sync read the event (still at 10:00) just before Centro moved the appointment...
    before = google.public(google.events[google.email][event_id_for(booked)])
    with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True):
        do_reschedule(booked, start=WEDNESDAY_10 + dt.timedelta(hours=2))
    # ...and applies what it read only now: older than the copy our patch stored.
    with time_machine.travel(NOW, tick=False), transaction.atomic():
        assert _apply(synced, before) == 0
    booked.refresh_from_db()
    assert booked.start_at == WEDNESDAY_10.replace(hour=12)
    assert google.events[google.email][event_id_for(booked)]["start"]["dateTime"].startswith(
        "2026-12-02T12:00"
    )
