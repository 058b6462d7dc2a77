"""What lifecycle events tell connected systems about a contact (``contacts.hooks``): the
next appointment, the latest booking and the open quotes, as the tenant's systems posted them.

A subject (a booking, a quote, an appointment) stands as its latest event says: one whose
type cancels (``booking.cancelled``, ``quote.accepted``, ``appointment.cancelled``) closes it.
"""

from datetime import datetime
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from contacts.models import Contact
from notifications.models import Event, EventType

# The contact's latest events read: enough for any contact's open bookings and quotes.
RECENT_EVENTS = 200


def _when(value: Any) -> datetime | None:
    """An event's date value (ISO datetime, or a date: its start in the current zone)."""
    if not isinstance(value, str):
        return None
    try:
        moment = parse_datetime(value)
        if moment is None and (day := parse_date(value)) is not None:
            moment = datetime(day.year, day.month, day.day)
    except ValueError:
        return None
    if moment is not None and timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def _open_subjects(contact: Contact) -> dict[str, list[Event]]:
    """The contact's open subjects' latest events, newest first, by family (``booking``…)."""
    events = (
        Event.objects.filter(tenant_id=contact.tenant_id, contact=contact)
        .select_related("event_type")
        .order_by("-received_at", "-id")[:RECENT_EVENTS]
    )
    latest: dict[tuple[str, str], Event] = {}
    for event in events:
        family = event.event_type.key.split(".", 1)[0]
        latest.setdefault((family, event.subject or f"#{event.pk}"), event)
    families: dict[str, list[Event]] = {}
    for (family, _), event in latest.items():
        if event.event_type.effect != EventType.Effect.CANCEL:
            families.setdefault(family, []).append(event)
    return families


def lifecycle_attributes(contact: Contact) -> dict[str, Any]:
    """``centro_next_appointment`` (when, as posted), ``centro_last_booking`` ("B-1 to Cancún,
    2026-12-20") and ``centro_open_quotes`` ("Q-7, Q-9"); None where there is none."""
    now = timezone.now()
    families = _open_subjects(contact)
    upcoming = [
        (moment, event)
        for event in families.get("appointment", [])
        if (moment := _when(event.data.get("appointment_at"))) is not None and moment > now
    ]
    next_appointment = min(upcoming, key=lambda pair: pair[0])[1] if upcoming else None
    bookings = families.get("booking", [])
    quotes = [
        event
        for event in families.get("quote", [])
        if (expires := _when(event.data.get("expires_at"))) is None or expires > now
    ]
    return {
        "centro_next_appointment": (
            next_appointment.data["appointment_at"] if next_appointment else None
        ),
        "centro_last_booking": _booking_line(bookings[0]) if bookings else None,
        "centro_open_quotes": ", ".join(
            str(event.data.get("quote_id") or event.subject) for event in reversed(quotes)
        )
        or None,
    }


def _booking_line(event: Event) -> str:
    data = event.data
    line = str(data.get("booking_id") or event.subject or event.event_type.name)
    if data.get("destination"):
        line += f" to {data['destination']}"
    if data.get("trip_date"):
        line += f", {data['trip_date']}"
    return line[:255]
