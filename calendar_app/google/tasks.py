"""Celery tasks of the Google Calendar sync (the logic is in sync, writeback and push)."""

import logging

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from calendar_app.google.client import CalendarClient, GoogleError
from calendar_app.google.models import GoogleCalendar, GoogleConnection
from calendar_app.google.push import calendars_to_renew, do_watch_calendar
from calendar_app.google.sync import do_sync_calendar
from calendar_app.google.writeback import do_push_appointment
from calendar_app.models import AppointmentResource

logger = logging.getLogger(__name__)

__all__ = [
    "push_appointment_task",
    "renew_google_channels_task",
    "start_calendar_task",
    "stop_channel_task",
    "sync_calendar_task",
    "sync_google_calendars_task",
]


def _calendar(calendar_id: int) -> GoogleCalendar | None:
    return (
        GoogleCalendar.objects.select_related("connection", "resource")
        .filter(pk=calendar_id)
        .first()
    )


def _backoff(task) -> int:
    return min(3600, 30 * 2**task.request.retries)


@shared_task(bind=True, max_retries=6)
def sync_calendar_task(self, calendar_id: int) -> str:
    """Pull what changed in one Google calendar (push notifications and beat queue it)."""
    calendar = _calendar(calendar_id)
    if calendar is None:
        return "gone"
    try:
        result = do_sync_calendar(calendar)
    except GoogleError as exc:
        if exc.retryable:
            raise self.retry(exc=exc, countdown=_backoff(self)) from exc
        logger.warning("Google calendar %s: sync failed: %s", calendar_id, exc.message)
        return exc.message
    return result.skipped or f"{'full' if result.full else 'incremental'}: {result.changed}"


@shared_task(bind=True, max_retries=6)
def start_calendar_task(self, calendar_id: int) -> str:
    """A newly synced calendar: a full sync, then a push channel."""
    calendar = _calendar(calendar_id)
    if calendar is None:
        return "gone"
    try:
        do_sync_calendar(calendar)
        calendar.refresh_from_db()
        do_watch_calendar(calendar)
    except GoogleError as exc:
        if exc.retryable:
            raise self.retry(exc=exc, countdown=_backoff(self)) from exc
        return exc.message
    return "started"


@shared_task
def stop_channel_task(connection_id: int, channel_id: str, resource_id: str) -> str:
    connection = GoogleConnection.objects.filter(
        pk=connection_id, status=GoogleConnection.Status.ACTIVE
    ).first()
    if connection is None:
        return "gone"
    try:
        CalendarClient(connection).stop_channel(channel_id=channel_id, resource_id=resource_id)
    except GoogleError as exc:
        return exc.message  # it expires on its own; its notifications now answer 404
    return "stopped"


@shared_task(bind=True, max_retries=8)
def push_appointment_task(self, tenant_id: int, appointment_id: int) -> dict:
    """Write a confirmed, rescheduled or cancelled appointment to Google."""
    try:
        return do_push_appointment(tenant_id, appointment_id)
    except GoogleError as exc:
        if exc.retryable:
            raise self.retry(exc=exc, countdown=_backoff(self)) from exc
        logger.warning("Appointment %s not written to Google: %s", appointment_id, exc.message)
        return {"error": exc.message}


@shared_task
def sync_google_calendars_task() -> int:
    """Beat: the safety net under push notifications (one task per synced calendar)."""
    ids = list(
        GoogleCalendar.objects.filter(
            resource__isnull=False, connection__status=GoogleConnection.Status.ACTIVE
        ).values_list("pk", flat=True)
    )
    for pk in ids:
        sync_calendar_task.delay(pk)
    return len(ids)


@shared_task
def renew_google_channels_task() -> int:
    """Beat: channels expiring within a day (or missing) are replaced."""
    renewed = 0
    for pk in calendars_to_renew(timezone.now()):
        calendar = _calendar(pk)
        if calendar is None:
            continue
        try:
            do_watch_calendar(calendar)
            renewed += 1
        except GoogleError as exc:
            logger.warning("Google calendar %s: channel not renewed: %s", pk, exc.message)
    return renewed


def on_appointment_changed(appointment, change: str) -> None:
    """The calendar's listener: an appointment confirmed, moved or cancelled on a resource that
    syncs with Google (or that has a copy there) is written after its transaction commits."""
    resource_ids = AppointmentResource.objects.filter(appointment=appointment).values("resource_id")
    synced = (
        GoogleCalendar.objects.filter(
            tenant_id=appointment.tenant_id, resource_id__in=resource_ids
        ).exists()
        or appointment.google_events.exists()
    )
    if synced:
        tenant_id, pk = appointment.tenant_id, appointment.pk
        transaction.on_commit(lambda: push_appointment_task.delay(tenant_id, pk))
