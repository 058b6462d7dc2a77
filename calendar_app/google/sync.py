"""Google → Centro: incremental sync with ``syncToken`` (a 410 answer: forget what is stored
and sync in full), events stored as busy time of the calendar's resource, and changes made in
Google to Centro's own appointments applied by the connection's rule (cancel, move, or keep
the appointment and flag the difference).
"""

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from calendar_app.actions import do_cancel, do_reschedule
from calendar_app.google.actions import do_mark_google_revoked
from calendar_app.google.client import CalendarClient, GoogleError, parse_time, parse_updated
from calendar_app.google.models import GoogleCalendar, GoogleConnection, GoogleEvent
from calendar_app.models import Appointment, AppointmentState
from omnichannel.actions import ActionError
from omnichannel.zones import first_zone

logger = logging.getLogger(__name__)

# How far back a full sync reads (older events block nothing bookable).
FULL_SYNC_PAST = dt.timedelta(days=30)
# A sync reads at most this many pages (250 events each) in one run; the rest next run.
MAX_PAGES = 200
PRIVATE_ID = "centro_appointment_id"
PRIVATE_TENANT = "centro_tenant_id"


@dataclass
class SyncResult:
    full: bool = False
    changed: int = 0
    skipped: str = ""


def busy_times(
    resource_ids: Sequence[int], start: dt.datetime, end: dt.datetime
) -> Mapping[int, list[tuple[dt.datetime, dt.datetime]]]:
    """The slot search's busy source: busy Google events of the calendars synced with these
    resources overlapping ``[start, end)`` (one query)."""
    found: dict[int, list[tuple[dt.datetime, dt.datetime]]] = {}
    rows = GoogleEvent.objects.filter(
        busy=True,
        calendar__resource_id__in=list(resource_ids),
        start_at__lt=end,
        end_at__gt=start,
    ).values_list("calendar__resource_id", "start_at", "end_at")
    for resource_id, lo, hi in rows:
        found.setdefault(resource_id, []).append((lo, hi))
    return found


def _fetch(
    client: CalendarClient, calendar: GoogleCalendar, sync_token: str
) -> tuple[list[dict], str]:
    """Every changed event (all of them without a token) and the next sync token (only the
    last page has it)."""
    items: list[dict] = []
    page = ""
    time_min = None if sync_token else timezone.now() - FULL_SYNC_PAST
    for _ in range(MAX_PAGES):
        answer = client.list_events(
            calendar.calendar_id, sync_token=sync_token, page_token=page, time_min=time_min
        )
        items += answer.get("items", [])
        page = answer.get("nextPageToken", "")
        if not page:
            return items, answer.get("nextSyncToken", "")
    # Too many pages for one run: keep what was read, and start over next time.
    return items, ""


def do_sync_calendar(calendar: GoogleCalendar) -> SyncResult:
    """Pull what changed in Google since the last sync of ``calendar``. Raises
    :class:`GoogleError` when Google failed in a way worth retrying."""
    connection = calendar.connection
    if calendar.resource_id is None:
        return SyncResult(skipped="The calendar syncs with no resource.")
    if connection.status != GoogleConnection.Status.ACTIVE:
        return SyncResult(skipped="The connection lost its access.")
    client = CalendarClient(connection)
    full = not calendar.sync_token
    try:
        try:
            items, next_token = _fetch(client, calendar, calendar.sync_token)
        except GoogleError as exc:
            if exc.status != 410:
                raise
            # The sync token expired: clear what we know and read everything again.
            logger.info("Google calendar %s: sync token gone, full resync", calendar.pk)
            full = True
            items, next_token = _fetch(client, calendar, "")
    except GoogleError as exc:
        if exc.revoked:
            do_mark_google_revoked(connection, exc.message)
            return SyncResult(skipped="The connection lost its access.")
        GoogleCalendar.objects.filter(pk=calendar.pk).update(sync_error=exc.message[:500])
        raise
    with transaction.atomic():
        locked = (
            GoogleCalendar.objects.select_for_update(of=("self",))
            .select_related("connection", "resource")
            .filter(pk=calendar.pk)
            .first()
        )
        if locked is None or locked.resource_id != calendar.resource_id:
            return SyncResult(skipped="The calendar was unmapped meanwhile.")
        if locked.sync_token != calendar.sync_token and not full:
            # Another sync applied newer changes since we read ours: ours are older news.
            return SyncResult(skipped="Another sync ran meanwhile.")
        seen = {str(item.get("id")) for item in items}
        if full:
            _forget_missing(locked, seen)
        changed = sum(_apply(locked, item) for item in items if item.get("id"))
        now = timezone.now()
        locked.sync_token = next_token
        locked.last_synced_at = now
        locked.sync_error = ""
        fields = ["sync_token", "last_synced_at", "sync_error"]
        if full:
            locked.last_full_sync_at = now
            fields.append("last_full_sync_at")
        locked.save(update_fields=fields)
    return SyncResult(full=full, changed=changed)


def _forget_missing(calendar: GoogleCalendar, seen: set[str]) -> None:
    """A full sync lists every live event: what it does not list is gone (busy time simply
    forgotten; a Centro appointment's event treated as deleted in Google)."""
    GoogleEvent.objects.filter(calendar=calendar, appointment__isnull=True).exclude(
        event_id__in=seen
    ).delete()
    since = timezone.now() - FULL_SYNC_PAST
    for row in (
        GoogleEvent.objects.filter(calendar=calendar, appointment__isnull=False, end_at__gt=since)
        .exclude(status="cancelled")
        .exclude(event_id__in=seen)
        .select_related("appointment")
    ):
        _apply(calendar, {"id": row.event_id, "status": "cancelled"}, row=row)


def _linked_appointment(calendar: GoogleCalendar, item: dict) -> Appointment | None:
    """The Centro appointment an event says it is the copy of (an insert whose answer was
    lost), in this calendar's tenant only."""
    private = (item.get("extendedProperties") or {}).get("private") or {}
    pk, tenant = str(private.get(PRIVATE_ID, "")), str(private.get(PRIVATE_TENANT, ""))
    if not pk.isdigit() or tenant != str(calendar.tenant_id):
        return None
    return Appointment.objects.filter(pk=int(pk), tenant_id=calendar.tenant_id).first()


def _apply(calendar: GoogleCalendar, item: dict, *, row: GoogleEvent | None = None) -> int:
    event_id = str(item["id"])[:1024]
    if row is None:
        row = (
            GoogleEvent.objects.select_related("appointment")
            .filter(calendar=calendar, event_id=event_id)
            .first()
        )
    status = str(item.get("status") or "confirmed")[:20]
    cancelled = status == "cancelled"
    updated = parse_updated(item)
    if row is not None and row.google_updated and updated and updated < row.google_updated:
        return 0  # read before a newer version we already hold (our own write, say)
    if row is None:
        if cancelled:
            return 0  # deleted before we ever saw it
        row = GoogleEvent(
            tenant_id=calendar.tenant_id,
            calendar=calendar,
            event_id=event_id,
            appointment=_linked_appointment(calendar, item),
        )
    zone = first_zone(calendar.time_zone)
    start, end = parse_time(item.get("start"), zone), parse_time(item.get("end"), zone)
    if not cancelled:
        row.start_at, row.end_at = start, end
        row.summary = str(item.get("summary") or "")[:300]
    row.status = status
    row.etag = str(item.get("etag") or row.etag)[:200]
    row.google_updated = updated or row.google_updated
    row.busy = bool(
        row.appointment_id is None
        and not cancelled
        and item.get("transparency") != "transparent"
        and start is not None
        and end is not None
        and start < end
    )
    row.save()
    if row.appointment_id is not None:
        _follow_google(calendar, row, cancelled=cancelled, start=start, end=end)
    return 1


def _follow_google(
    calendar: GoogleCalendar,
    row: GoogleEvent,
    *,
    cancelled: bool,
    start: dt.datetime | None,
    end: dt.datetime | None,
) -> None:
    """Someone deleted or moved a Centro appointment's event in Google: apply the rule."""
    appointment = row.appointment
    appointment.refresh_from_db()
    if appointment.state != AppointmentState.CONFIRMED:
        return
    moved = not cancelled and start is not None and start != appointment.start_at
    if not cancelled and not moved:
        return
    rule = calendar.connection.on_google_change
    Rule = GoogleConnection.OnGoogleChange
    when = timezone.now().isoformat(timespec="minutes")
    if rule == Rule.KEEP:
        what = "deleted" if cancelled else f"moved to {start.isoformat(timespec='minutes')}"
        flag = f"{what.capitalize()} in Google ({when}); the appointment was kept."
    elif cancelled or rule == Rule.CANCEL:
        do_cancel(appointment)
        flag = ""
    else:
        try:
            do_reschedule(appointment, start=start)
            flag = ""
        except ActionError as exc:
            flag = (
                f"Moved in Google to {start.isoformat(timespec='minutes')} ({when}); not "
                f"followed: {exc.message}"
            )[:500]
    if flag != row.flag:
        row.flag = flag[:500]
        row.save(update_fields=["flag", "updated_at"])
