"""The calendar page: day, week and agenda views of the tenant's appointments, for every
resource, one resource or "me"; an appointment's details and what may be done to it (confirm,
cancel, complete, no-show, move). Times are the reader's (their zone, else the tenant's): days
start at their local midnight, so a week across a DST change keeps each appointment on its
wall-clock hour.

Every action is a plain form that works without JavaScript (a redirect back to the calendar);
htmx gets the status line, the detail panel and the calendar body back as fragments. Dragging
an appointment (static/calendar_app/calendar.js) fills the same "move" form.
"""

import datetime as dt
import hashlib
import zoneinfo
from dataclasses import dataclass
from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from calendar_app.actions import (
    HoldExpired,
    SlotTaken,
    do_cancel,
    do_complete,
    do_confirm,
    do_mark_no_show,
    do_reschedule,
)
from calendar_app.availability import Slot
from calendar_app.models import Appointment, AppointmentState
from calendar_app.selectors import (
    AGENDA_DAYS,
    VIEWS,
    appointments_for_calendar,
    days_between,
    my_resource_ids,
    place,
    resources_for_tenant,
)
from omnichannel.actions import ACTION_ERROR_STATUS, ActionError
from omnichannel.htmx import wants_piece
from omnichannel.tenancy import get_in_tenant, require_permission

TEMPLATE = "calendar_app/calendar.html"
SECTION = "calendar"
REALTIME_PAGE = "calendar"


@dataclass(frozen=True)
class CalendarView:
    """What the page shows: a view, the day it is about, whose calendar ("" everyone, "me",
    or a resource id) and the zone it is read in."""

    view: str
    date: dt.date
    who: str
    zone: zoneinfo.ZoneInfo

    @classmethod
    def parse(cls, data: QueryDict, zone: zoneinfo.ZoneInfo) -> "CalendarView":
        """From a query string or a form's hidden fields; anything unreadable falls back to
        this week for everyone (a bookmark of a removed resource still opens the page)."""
        view = data.get("view", "")
        if view not in VIEWS:
            view = "week"
        try:
            date = dt.date.fromisoformat(data.get("date", ""))
        except ValueError:
            date = timezone.now().astimezone(zone).date()
        if not dt.date(2000, 1, 1) <= date <= dt.date(2200, 1, 1):
            date = timezone.now().astimezone(zone).date()
        who = data.get("resource", "")
        if who != "me" and not (who.isdigit() and len(who) < 12):
            who = ""
        return cls(view=view, date=date, who=who, zone=zone)

    @property
    def first_day(self) -> dt.date:
        if self.view == "week":
            return self.date - dt.timedelta(days=self.date.weekday())
        return self.date

    @property
    def day_count(self) -> int:
        return {"day": 1, "week": 7, "agenda": AGENDA_DAYS}[self.view]

    def shifted(self, direction: int) -> dt.date:
        return self.first_day + dt.timedelta(days=direction * self.day_count)

    def query(self, **changes) -> str:
        values = {"view": self.view, "date": self.date.isoformat(), "resource": self.who}
        values.update(
            {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in changes.items()}
        )
        return urlencode({k: v for k, v in values.items() if v})

    def hidden_fields(self) -> dict[str, str]:
        return {"view": self.view, "date": self.date.isoformat(), "resource": self.who}


def _resource_ids(request_tenant, user, view: CalendarView) -> list[int] | None:
    if view.who == "me":
        return my_resource_ids(request_tenant, user)
    if view.who:
        return [int(view.who)]
    return None


def calendar_context(request: HttpRequest, view: CalendarView) -> dict:
    """Everything the page and its pieces show for ``view`` (also rendered for a colleague's
    open page when an appointment changes: see calendar_app.realtime)."""
    tenant = request.tenant
    days = days_between(view.first_day, view.day_count, view.zone)
    resources = list(resources_for_tenant(tenant))
    appointments = list(
        appointments_for_calendar(
            tenant,
            start=days[0].start,
            end=days[-1].end,
            resource_ids=_resource_ids(tenant, request.user, view),
        )
    )
    place(days, appointments, view.zone)
    # What the body shows, so a page whose socket opens can tell whether it missed anything.
    seen = ",".join(f"{a.pk}:{a.state}:{a.updated_at.timestamp()}" for a in appointments)
    for day in days:
        day.link = view.query(view="day", date=day.date)
    today = timezone.now().astimezone(view.zone).date()
    codenames = request.membership.role.codenames()
    chosen = next((r for r in resources if str(r.pk) == view.who), None)
    return {
        "cal": view,
        "days": days,
        "today": today,
        "hours": [dt.time(hour) for hour in range(24)],
        "resources": [r for r in resources if r.is_active or r is chosen],
        "chosen_resource": chosen,
        "has_me": any(r.user_id == request.user.pk for r in resources),
        "appointment_count": len(appointments),
        "fingerprint": hashlib.sha256(seen.encode()).hexdigest()[:16],
        "can_book": "calendar.book" in codenames,
        "zone_name": view.zone.key,
        "section": SECTION,
        "prev_query": view.query(date=view.shifted(-1)),
        "next_query": view.query(date=view.shifted(1)),
        "today_query": view.query(date=today),
        "state_fields": view.hidden_fields(),
        "view_links": [
            (name, name.capitalize(), view.query(view=name)) for name in ("day", "week", "agenda")
        ],
    }


def _view_of(request: HttpRequest, data: QueryDict) -> CalendarView:
    return CalendarView.parse(data, timezone.get_current_timezone())


def _detail_context(request: HttpRequest, appointment: Appointment, view: CalendarView) -> dict:
    now = timezone.now()
    can_book = request.membership.has_permission("calendar.book")
    blocking = appointment.state in (AppointmentState.HOLD, AppointmentState.CONFIRMED)
    expired_hold = appointment.state == AppointmentState.HOLD and appointment.hold_expires_at <= now
    started = appointment.start_at <= now
    local = appointment.start_at.astimezone(view.zone)
    return {
        "appointment": appointment,
        "cal": view,
        "state_fields": view.hidden_fields(),
        "can_book": can_book,
        "can_confirm": can_book and appointment.state == AppointmentState.HOLD and not expired_hold,
        "can_cancel": can_book and blocking,
        "can_move": can_book and blocking and not expired_hold,
        "can_finish": can_book and appointment.state == AppointmentState.CONFIRMED and started,
        "move_date": local.date().isoformat(),
        "move_time": local.strftime("%H:%M"),
        "resource_names": ", ".join(row.resource.name for row in appointment.resource_rows.all()),
    }


def _appointment(request: HttpRequest, appointment_id: int) -> Appointment:
    return get_in_tenant(
        Appointment.objects.select_related("appointment_type", "contact").prefetch_related(
            "resource_rows__resource"
        ),
        request.tenant,
        pk=appointment_id,
    )


@require_GET
@require_permission("calendar.view")
def calendar(request: HttpRequest) -> HttpResponse:
    view = _view_of(request, request.GET)
    context = calendar_context(request, view)
    context["detail"] = None
    return render(request, TEMPLATE, context)


@require_GET
@require_permission("calendar.view")
def appointment_detail(request: HttpRequest, appointment_id: int) -> HttpResponse:
    """htmx: the detail panel; a browser: the calendar at the appointment's day, with it open."""
    appointment = _appointment(request, appointment_id)
    view = _view_of(request, request.GET)
    if not request.GET.get("date"):
        view = CalendarView(
            view=view.view,
            date=appointment.start_at.astimezone(view.zone).date(),
            who=view.who,
            zone=view.zone,
        )
    detail = _detail_context(request, appointment, view)
    if wants_piece(request):
        return render(request, f"{TEMPLATE}#detail", {"detail": detail})
    context = calendar_context(request, view)
    context["detail"] = detail
    return render(request, TEMPLATE, context)


# --- actions -----------------------------------------------------------------------------------


def _local_start(data: QueryDict, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """The new start from the move form: a local date and time in the calendar's zone (a time
    skipped by a DST change does not exist, and is refused rather than guessed)."""
    try:
        date = dt.date.fromisoformat(data.get("move_date", ""))
        time = dt.time.fromisoformat(data.get("move_time", ""))
    except ValueError:
        raise ActionError("Give the new date (YYYY-MM-DD) and time (HH:MM).") from None
    naive = dt.datetime.combine(date, time.replace(second=0, microsecond=0))
    moment = naive.replace(tzinfo=zone)
    if moment.astimezone(dt.UTC).astimezone(zone).replace(tzinfo=None) != naive:
        raise ActionError(
            f"{naive:%Y-%m-%d %H:%M} does not exist in {zone.key} (the clocks skip it)."
        )
    return moment


ACTIONS = {
    "confirm": (do_confirm, "Confirmed."),
    "cancel": (do_cancel, "Cancelled."),
    "complete": (do_complete, "Marked as completed."),
    "no-show": (do_mark_no_show, "Marked as a no-show."),
}


def _act(request: HttpRequest, appointment_id: int, step: str) -> HttpResponse:
    appointment = _appointment(request, appointment_id)
    view = _view_of(request, request.POST)
    status, text, level, nearest = 200, "", "success", []
    try:
        if step == "move":
            start = _local_start(request.POST, view.zone)
            do_reschedule(appointment, start=start, acting_user=request.user)
            local = start.astimezone(view.zone)
            text = f"Moved to {local:%a %d %b, %H:%M}."
        else:
            action, text = ACTIONS[step]
            action(appointment, acting_user=request.user)
    except SlotTaken as exc:
        status, text, level, nearest = 409, exc.message, "error", exc.nearest
    except HoldExpired as exc:
        status, text, level = 409, exc.message, "error"
    except ActionError as exc:
        status, text, level = ACTION_ERROR_STATUS.get(exc.code, 400), exc.message, "error"
    appointment = _appointment(request, appointment_id)
    if not wants_piece(request):
        getattr(messages, level)(request, text)
        url = reverse("calendar:appointment", args=[appointment.pk])
        return redirect(f"{url}?{view.query()}")
    context = calendar_context(request, view)
    context.update(
        detail=_detail_context(request, appointment, view),
        flash={"level": level, "text": text},
        nearest=_nearest_choices(nearest, view.zone),
    )
    # The flash is what the form's swap targets; the body and the detail ride along out of band.
    html = render_to_string(f"{TEMPLATE}#flash", context, request=request)
    context["oob"] = True
    html += render_to_string(f"{TEMPLATE}#body", context, request=request)
    html += render_to_string(f"{TEMPLATE}#detail-oob", context, request=request)
    return HttpResponse(html, status=status)


def _nearest_choices(slots: list[Slot], zone: zoneinfo.ZoneInfo) -> list[dict]:
    return [
        {
            "date": slot.start.astimezone(zone).date().isoformat(),
            "time": slot.start.astimezone(zone).strftime("%H:%M"),
            "label": f"{slot.start.astimezone(zone):%a %d %b, %H:%M}",
        }
        for slot in slots
    ]


@require_POST
@require_permission("calendar.book")
def appointment_confirm(request: HttpRequest, appointment_id: int) -> HttpResponse:
    return _act(request, appointment_id, "confirm")


@require_POST
@require_permission("calendar.book")
def appointment_cancel(request: HttpRequest, appointment_id: int) -> HttpResponse:
    return _act(request, appointment_id, "cancel")


@require_POST
@require_permission("calendar.book")
def appointment_complete(request: HttpRequest, appointment_id: int) -> HttpResponse:
    return _act(request, appointment_id, "complete")


@require_POST
@require_permission("calendar.book")
def appointment_no_show(request: HttpRequest, appointment_id: int) -> HttpResponse:
    return _act(request, appointment_id, "no-show")


@require_POST
@require_permission("calendar.book")
def appointment_move(request: HttpRequest, appointment_id: int) -> HttpResponse:
    """Reschedule (the drag's confirm dialog and the keyboard's move form): 409 with the
    nearest free slots when the time is taken; the calendar is sent back either way, so a
    dragged appointment that could not move snaps back."""
    return _act(request, appointment_id, "move")
