"""A resource's confirmed appointments as an iCalendar feed (RFC 5545) at a secret URL, for
people who live in another calendar app. The URL's token is the credential (only its hash is
stored); the feed shows the type and the contact's name, never the notes."""

import datetime as dt

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from calendar_app.models import Appointment, AppointmentState, Resource
from omnichannel.models import hash_secret

PAST = dt.timedelta(days=30)
AHEAD = dt.timedelta(days=366)
MAX_EVENTS = 2000
FOLD_AT = 75  # octets per line, CRLF excluded (RFC 5545 3.1)


def feed_url(raw_token: str) -> str:
    return settings.PUBLIC_BASE_URL + reverse("calendar-feed", args=[raw_token])


def escape_text(value: str) -> str:
    """TEXT values (RFC 5545 3.3.11): backslash, semicolon, comma and newlines escaped."""
    value = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return value.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n")


def fold(line: str) -> str:
    """Lines longer than 75 octets continue on lines starting with a space, never inside a
    UTF-8 character."""
    out, current, size = [], "", 0
    for char in line:
        width = len(char.encode())
        limit = FOLD_AT if not out else FOLD_AT - 1  # a continuation starts with its space
        if size + width > limit:
            out.append(current)
            current, size = "", 0
        current += char
        size += width
    out.append(current)
    return "\r\n ".join(out)


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def render_feed(resource: Resource, appointments: list[Appointment], now: dt.datetime) -> str:
    host = settings.PUBLIC_BASE_URL.split("://", 1)[-1].split("/", 1)[0] or "centro"
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Centro//Calendar//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{escape_text(resource.name)}",
    ]
    for appointment in appointments:
        summary = f"{appointment.appointment_type.name}: {appointment.contact.name or 'Contact'}"
        lines += [
            "BEGIN:VEVENT",
            f"UID:appointment-{appointment.pk}@{host}",
            f"DTSTAMP:{_stamp(now)}",
            f"LAST-MODIFIED:{_stamp(appointment.updated_at)}",
            f"DTSTART:{_stamp(appointment.start_at)}",
            f"DTEND:{_stamp(appointment.end_at)}",
            f"SEQUENCE:{appointment.version - 1}",
            f"SUMMARY:{escape_text(summary)}",
            "STATUS:CONFIRMED",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)


@require_GET
def resource_feed(request: HttpRequest, token: str) -> HttpResponse:
    if not token or len(token) > 100:
        raise Http404("No such feed.")
    resource = Resource.objects.filter(ics_token=hash_secret(token), is_active=True).first()
    if resource is None:
        raise Http404("No such feed.")
    now = timezone.now()
    appointments = list(
        Appointment.objects.filter(
            tenant_id=resource.tenant_id,
            resource_rows__resource=resource,
            state=AppointmentState.CONFIRMED,
            start_at__gte=now - PAST,
            start_at__lt=now + AHEAD,
        )
        .select_related("appointment_type", "contact")
        .order_by("start_at", "id")[:MAX_EVENTS]
    )
    response = HttpResponse(
        render_feed(resource, appointments, now), content_type="text/calendar; charset=utf-8"
    )
    response["Content-Disposition"] = 'inline; filename="calendar.ics"'
    response["Cache-Control"] = "private, max-age=300"
    return response
