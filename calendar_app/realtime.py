"""The calendar page live: an appointment booked, moved or cancelled by anyone (a colleague,
the API, the AI agent, beat expiring a hold) re-renders the calendar body of every open
calendar page of the tenant, for what that page shows (its view, dates and resource, reported
by static/calendar_app/calendar.js) in its reader's zone.

Re-rendering the body rather than patching one block keeps one source of truth for placing
blocks (lanes, DST days) and costs the same handful of queries as the page itself.
"""

from django.http import QueryDict
from django.template.loader import render_to_string
from django.utils import timezone

from omnichannel.events import EventType
from omnichannel.realtime import SocketView, on_view, renders

PAGE = "calendar"
TEMPLATE = "calendar_app/calendar.html"


def _on_calendar(socket: SocketView, payload: dict | None = None) -> bool:
    return socket.page == PAGE and "calendar.view" in socket.membership.role.codenames()


def _body(socket: SocketView, *, unless_seen: bool = False) -> str:
    from calendar_app.views import CalendarView, calendar_context

    shown = QueryDict(socket.list_query)
    view = CalendarView.parse(shown, timezone.get_current_timezone())
    context = calendar_context(socket.request, view)
    if unless_seen and shown.get("seen") == context["fingerprint"]:
        return ""  # nothing changed since the page rendered: no swap under the reader's mouse
    context["oob"] = True
    return render_to_string(f"{TEMPLATE}#body", context, request=socket.request)


@renders(
    EventType.APPOINTMENT_CREATED,
    EventType.APPOINTMENT_UPDATED,
    EventType.APPOINTMENT_CANCELLED,
    EventType.APPOINTMENT_DELETED,
    when=_on_calendar,
)
def appointment_changed(socket: SocketView, payload: dict) -> str:
    return _body(socket) if _on_calendar(socket) else ""


@on_view
def calendar_opened(socket: SocketView) -> str:
    """What changed between rendering the page and its socket opening (or while offline)."""
    if not _on_calendar(socket) or not socket.catch_up:
        return ""
    return _body(socket, unless_seen=True)
