"""Centro → Google: a confirmed appointment is an event in every Google calendar synced with
one of its resources; a reschedule patches it and a cancel deletes it, each guarded by the
event's ETag (``If-Match``). A 412 means someone changed the event in Google meanwhile: it is
read again and applied by the connection's rule (:mod:`calendar_app.google.sync`), then
Centro's write is retried if the appointment still stands.

Runs in Celery after the appointment's transaction commits (``push_appointment_task``); it
compares what Google holds with what Centro wants, so running it twice changes nothing.
"""

import logging
import zoneinfo

from django.db import transaction

from calendar_app.availability import zone_of
from calendar_app.google.actions import do_mark_google_revoked
from calendar_app.google.client import CalendarClient, GoogleError, parse_updated, rfc3339
from calendar_app.google.models import GoogleCalendar, GoogleConnection, GoogleEvent
from calendar_app.google.sync import PRIVATE_ID, PRIVATE_TENANT, _apply
from calendar_app.models import Appointment, AppointmentResource, AppointmentState, Resource

logger = logging.getLogger(__name__)

ATTEMPTS = 3
# What Centro keeps in Google: confirmed appointments (completed and no-show ones stay as they
# are; cancelled and expired ones go).
KEEP_STATES = (AppointmentState.CONFIRMED, AppointmentState.COMPLETED, AppointmentState.NO_SHOW)


def event_id_for(appointment: Appointment) -> str:
    """Our own event id (base32hex: a-v and digits), so a retried insert answers 409 instead
    of creating a second event."""
    return f"centro{appointment.tenant_id}a{appointment.pk}"


def _zone_name(resource: Resource | None, tenant_zone: str) -> str:
    zone = zone_of(resource, tenant_zone) if resource else zoneinfo.ZoneInfo("UTC")
    return zone.key


def event_body(appointment: Appointment, resource: Resource | None) -> dict:
    zone = _zone_name(resource, appointment.tenant.timezone)
    contact = appointment.contact.name or "a contact"
    return {
        "summary": f"{appointment.appointment_type.name}: {contact}",
        "description": "Booked in Centro.",
        "start": {"dateTime": rfc3339(appointment.start_at), "timeZone": zone},
        "end": {"dateTime": rfc3339(appointment.end_at), "timeZone": zone},
        "extendedProperties": {
            "private": {
                PRIVATE_ID: str(appointment.pk),
                PRIVATE_TENANT: str(appointment.tenant_id),
            }
        },
        "reminders": {"useDefault": True},
    }


def _store(calendar: GoogleCalendar, appointment: Appointment, event: dict) -> GoogleEvent:
    row, _ = GoogleEvent.objects.update_or_create(
        calendar=calendar,
        event_id=str(event["id"]),
        defaults={
            "tenant_id": calendar.tenant_id,
            "appointment": appointment,
            "etag": str(event.get("etag") or ""),
            "status": str(event.get("status") or "confirmed"),
            "summary": str(event.get("summary") or "")[:300],
            "google_updated": parse_updated(event),
            "start_at": appointment.start_at,
            "end_at": appointment.end_at,
            "busy": False,
        },
    )
    return row


def _refetch(client: CalendarClient, row: GoogleEvent) -> GoogleEvent:
    """Read the event again after a 412 and apply it (the rule decides what Google's change
    does to the appointment)."""
    try:
        event = client.get_event(row.calendar.calendar_id, row.event_id)
    except GoogleError as exc:
        if exc.status not in (404, 410):
            raise
        event = {"id": row.event_id, "status": "cancelled"}
    with transaction.atomic():
        _apply(row.calendar, event, row=row)
    row.refresh_from_db()
    return row


def _write(
    client: CalendarClient,
    calendar: GoogleCalendar,
    appointment: Appointment,
    row: GoogleEvent | None,
    resource: Resource | None,
) -> str:
    for _ in range(ATTEMPTS):
        appointment.refresh_from_db()
        wanted = appointment.state in KEEP_STATES
        if row is None:
            if not wanted:
                return "nothing to delete"
            body = {"id": event_id_for(appointment), **event_body(appointment, resource)}
            try:
                event = client.insert_event(calendar.calendar_id, body)
            except GoogleError as exc:
                if exc.status != 409:
                    raise
                # Our earlier insert went through (its answer was lost): take it over.
                event = client.get_event(calendar.calendar_id, body["id"])
                row = _store(calendar, appointment, event)
                continue
            _store(calendar, appointment, event)
            return "inserted"
        if row.status == "cancelled":
            return "deleted in Google"
        try:
            if not wanted:
                client.delete_event(calendar.calendar_id, row.event_id, etag=row.etag)
                GoogleEvent.objects.filter(pk=row.pk).update(status="cancelled")
                return "deleted"
            if (row.start_at, row.end_at) == (appointment.start_at, appointment.end_at):
                return "up to date"
            body = event_body(appointment, resource)
            body.pop("extendedProperties")
            event = client.patch_event(calendar.calendar_id, row.event_id, body, etag=row.etag)
            _store(calendar, appointment, event)
            return "patched"
        except GoogleError as exc:
            if exc.status == 410 or (exc.status == 404 and not wanted):
                GoogleEvent.objects.filter(pk=row.pk).update(status="cancelled")
                return "deleted in Google"
            if exc.status != 412:
                raise
            row = _refetch(client, row)
    return "gave up after repeated conflicts"


def do_push_appointment(tenant_id: int, appointment_id: int) -> dict[str, str]:
    """Bring Google in line with the appointment: ``{calendar id: what was done}``. Raises
    :class:`GoogleError` for failures worth retrying."""
    appointment = (
        Appointment.objects.select_related("appointment_type", "contact", "tenant")
        .filter(pk=appointment_id, tenant_id=tenant_id)
        .first()
    )
    if appointment is None:
        return {}
    resource_ids = list(
        AppointmentResource.objects.filter(appointment=appointment).values_list(
            "resource_id", flat=True
        )
    )
    targets = list(
        GoogleCalendar.objects.filter(tenant_id=tenant_id, resource_id__in=resource_ids)
        .select_related("connection", "resource")
        .order_by("pk")
    )
    rows = {
        row.calendar_id: row
        for row in GoogleEvent.objects.filter(tenant_id=tenant_id, appointment=appointment)
        .select_related("calendar__connection", "calendar__resource")
        .order_by("pk")
    }
    work: list[tuple[GoogleCalendar, GoogleEvent | None]] = [
        (calendar, rows.pop(calendar.pk, None)) for calendar in targets
    ]
    # Calendars no longer synced with its resources keep no copy of it.
    orphans = [(row.calendar, row) for row in rows.values() if row.status != "cancelled"]
    done: dict[str, str] = {}
    clients: dict[int, CalendarClient] = {}
    for calendar, row in work + orphans:
        connection = calendar.connection
        if connection.status != GoogleConnection.Status.ACTIVE:
            done[calendar.calendar_id] = "connection revoked"
            continue
        client = clients.get(connection.pk) or clients.setdefault(
            connection.pk, CalendarClient(connection)
        )
        is_orphan = (calendar, row) in orphans
        try:
            if is_orphan:
                # No ETag: whatever Google holds, the copy no longer belongs there.
                try:
                    client.delete_event(calendar.calendar_id, row.event_id, etag="")
                except GoogleError as exc:
                    if exc.status not in (404, 410):
                        raise
                GoogleEvent.objects.filter(pk=row.pk).delete()
                done[calendar.calendar_id] = "removed"
                continue
            done[calendar.calendar_id] = _write(
                client, calendar, appointment, row, calendar.resource
            )
        except GoogleError as exc:
            if exc.revoked:
                do_mark_google_revoked(connection, exc.message)
                done[calendar.calendar_id] = "connection revoked"
                continue
            raise
    return done
