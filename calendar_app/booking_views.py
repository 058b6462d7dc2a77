"""Booking from a contact's panel (the contact page, or a conversation's contact panel): pick
a type (and a resource when several offer it), see the free times of the next days, hold one,
then confirm it (optionally texting the contact a confirmation in the conversation) or let it go.

Pieces (``calendar_app/panel.html``, ids stable):

- ``section`` (``#appointments-panel``): the contact's upcoming appointments with cancel, and
  ``#booking``, which holds the booking step:
- ``booking-start`` (a "Book an appointment" link), ``booking-slots`` (type and resource
  pickers and the free times), ``booking-hold`` (the hold, its expiry, confirm or release).

htmx requests get the piece they target (refusals too, with their status and HX-Retarget:
a time taken meanwhile answers 409 with the nearest free times); other requests get the whole
booking page (``calendar_app/booking.html``), so every link and form works without JavaScript.
Views parse, call one action and render; every row is looked up in the request's tenant.
"""

import datetime as dt
from collections import defaultdict
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import reswap, retarget

from calendar_app.actions import HoldExpired, SlotTaken, do_cancel, do_confirm, do_hold
from calendar_app.availability import Slot, free_slots
from calendar_app.confirmation import do_send_confirmation
from calendar_app.models import Appointment, AppointmentState, AppointmentType, Resource
from calendar_app.panels import TEMPLATE, panel_context
from contacts.hooks import ContactPanel
from contacts.models import Contact
from inbox.models import Conversation
from omnichannel.actions import ACTION_ERROR_STATUS, ActionError
from omnichannel.htmx import wants_piece
from omnichannel.tenancy import get_in_tenant, require_permission

SEARCH_DAYS = 7
PAGE = "calendar_app/booking.html"


# --- lookups (all in the request's tenant: another tenant's id is a 404) ----------------------


def _contact(request: HttpRequest, contact_id: int) -> Contact:
    return get_in_tenant(
        Contact.objects.filter(erased_at__isnull=True).select_related("tenant"),
        request.tenant,
        pk=contact_id,
    )


def _conversation(request: HttpRequest, contact: Contact, raw: str | None) -> Conversation | None:
    """The conversation the booking is made from: the contact's, in the tenant, or none."""
    if not raw:
        return None
    return get_in_tenant(
        Conversation.objects.select_related("inbox"), request.tenant, pk=raw, contact=contact
    )


def _appointment(request: HttpRequest, appointment_id: int) -> Appointment:
    return get_in_tenant(
        Appointment.objects.select_related("contact__tenant", "appointment_type", "tenant"),
        request.tenant,
        pk=appointment_id,
    )


def _types(request: HttpRequest) -> list[AppointmentType]:
    return list(
        AppointmentType.objects.for_tenant(request.tenant)
        .filter(is_active=True)
        .prefetch_related(
            Prefetch(
                "resources",
                queryset=Resource.objects.order_by("name", "id"),
            )
        )
        .order_by("name", "id")
    )


def _offered_by(request: HttpRequest, appointment_type: AppointmentType) -> list[Resource]:
    """Who offers the type: the resources it names, or (naming none) every active one."""
    named = list(appointment_type.resources.all())
    if named:
        return [r for r in named if r.is_active]
    return list(Resource.objects.for_tenant(request.tenant).filter(is_active=True))


def _pick(rows: list, raw: str | None):
    """The row whose id is ``raw`` among ``rows``, else None (an id not offered is ignored)."""
    return next((row for row in rows if str(row.pk) == (raw or "").strip()), None)


# --- rendering --------------------------------------------------------------------------------


def _respond(
    request: HttpRequest,
    contact: Contact,
    conversation: Conversation | None,
    *,
    piece: str,
    target: str,
    step: str | None = None,
    status: int = 200,
    **extra: Any,
) -> HttpResponse:
    """``piece`` of the panel (htmx; into ``target`` when it is a refusal), else the page;
    ``#booking`` shows ``step`` (default: ``piece``)."""
    context = panel_context(
        request, contact, conversation, step=f"{TEMPLATE}#{step or piece}", **extra
    )
    swap = "innerHTML" if target == "#booking" else "outerHTML"
    return _answer(request, contact, context, piece=piece, status=status, target=target, swap=swap)


def _answer(
    request: HttpRequest,
    contact: Contact,
    context: dict[str, Any],
    *,
    piece: str,
    status: int,
    target: str,
    swap: str,
) -> HttpResponse:
    """``piece`` of the panel (htmx; a refusal goes into ``target``), else the whole page."""
    panel = ContactPanel(TEMPLATE, context)
    if not wants_piece(request):
        html = render_to_string(PAGE, {"panel": panel, "contact": contact}, request=request)
        return HttpResponse(html, status=status)
    response = HttpResponse(
        render_to_string(f"{TEMPLATE}#{piece}", {"panel": panel}, request=request), status=status
    )
    if status >= 400:
        # The page's script swaps 4xx answers that say where they go.
        retarget(response, target)
        reswap(response, swap)
    return response


def _slots_step(
    request: HttpRequest,
    contact: Contact,
    conversation: Conversation | None,
    params,
    *,
    status: int = 200,
    whole_section: bool = False,
    **extra: Any,
) -> HttpResponse:
    """The pickers and the free times of ``SEARCH_DAYS`` days from ``params["from"]`` (a date
    in the member's zone; today when absent or in the past)."""
    types = _types(request)
    chosen = _pick(types, params.get("type")) or (types[0] if types else None)
    resources = _offered_by(request, chosen) if chosen else []
    resource = _pick(resources, params.get("resource"))
    today = timezone.localdate()
    first_day = max(parse_date(params.get("from") or "") or today, today)
    zone = timezone.get_current_timezone()
    start = dt.datetime.combine(first_day, dt.time(), zone)
    end = dt.datetime.combine(first_day + dt.timedelta(days=SEARCH_DAYS), dt.time(), zone)
    slots: list[Slot] = []
    if chosen is not None:
        slots = free_slots(
            [resource] if resource else resources,
            chosen,
            start,
            end,
            tenant_zone=request.tenant.timezone,
            together=False,
        )
    names = {r.pk: r.name for r in resources}
    return _respond(
        request,
        contact,
        conversation,
        piece="section" if whole_section else "booking-slots",
        step="booking-slots",
        target="#appointments-panel" if whole_section else "#booking",
        status=status,
        booking={
            "types": types,
            "type": chosen,
            "resources": resources,
            "resource": resource,
            "days": _by_day(slots, names),
            "first_day": first_day,
            "next_day": first_day + dt.timedelta(days=SEARCH_DAYS),
            "previous_day": (
                first_day - dt.timedelta(days=SEARCH_DAYS) if first_day > today else None
            ),
            "last_day": first_day + dt.timedelta(days=SEARCH_DAYS - 1),
        },
        **extra,
    )


def _by_day(slots: list[Slot], names: dict[int, str]) -> list[dict]:
    """Slots grouped by their date in the member's zone, each with its resource's name."""
    days: dict[dt.date, list[dict]] = defaultdict(list)
    for slot in sorted(slots, key=lambda s: (s.start, s.resource_ids)):
        resource_id = slot.resource_ids[0]
        days[timezone.localtime(slot.start).date()].append(
            {
                "start": slot.start,
                "end": slot.end,
                "resource_id": resource_id,
                "resource": names.get(resource_id, ""),
                "value": f"{resource_id}@{slot.start.isoformat()}",
            }
        )
    return [{"date": day, "slots": found} for day, found in sorted(days.items())]


def _section(
    request: HttpRequest,
    contact: Contact,
    conversation: Conversation | None,
    *,
    status: int = 200,
    **extra: Any,
) -> HttpResponse:
    """The whole section, refreshed (after a confirm or a cancel)."""
    context = panel_context(request, contact, conversation, **extra)
    return _answer(
        request,
        contact,
        context,
        piece="section",
        status=status,
        target="#appointments-panel",
        swap="outerHTML",
    )


def _when(appointment: Appointment) -> str:
    local = timezone.localtime(appointment.start_at)
    return f"{appointment.appointment_type.name} on {local:%a %d %b at %H:%M}"


# --- the views ----------------------------------------------------------------------------------


@require_GET
@require_permission("calendar.book")
def booking(request: HttpRequest, contact_id: int) -> HttpResponse:
    """The pickers and free times (``type``, ``resource``, ``from`` in the query string)."""
    contact = _contact(request, contact_id)
    conversation = _conversation(request, contact, request.GET.get("conversation"))
    return _slots_step(request, contact, conversation, request.GET)


@require_POST
@require_permission("calendar.book")
def hold(request: HttpRequest, contact_id: int) -> HttpResponse:
    """Hold the chosen time (``slot``: ``<resource id>@<ISO start>``) for the contact."""
    contact = _contact(request, contact_id)
    conversation = _conversation(request, contact, request.POST.get("conversation"))
    appointment_type = get_in_tenant(AppointmentType, request.tenant, pk=request.POST.get("type"))
    resource_id, _, raw_start = (request.POST.get("slot") or "").partition("@")
    resource = get_in_tenant(Resource, request.tenant, pk=resource_id)
    try:
        start = dt.datetime.fromisoformat(raw_start)
        appointment = do_hold(
            request.tenant,
            appointment_type=appointment_type,
            resources=[resource],
            contact=contact,
            start=start,
            conversation=conversation,
            acting_user=request.user,
        )
    except ValueError:
        return _slots_step(
            request,
            contact,
            conversation,
            request.POST,
            status=400,
            error="Choose one of the free times listed.",
        )
    except SlotTaken as exc:
        return _respond(
            request,
            contact,
            conversation,
            piece="booking-taken",
            target="#booking",
            status=409,
            booking={
                "type": appointment_type,
                "days": _by_day(exc.nearest, {resource.pk: resource.name}),
                "wanted": start,
                "resource": resource,
            },
            error="Sorry, that time was just taken by someone else. The nearest free times "
            "are below."
            if exc.nearest
            else "Sorry, that time was just taken by someone else, "
            "and nothing is free close to it.",
        )
    except ActionError as exc:
        return _slots_step(
            request,
            contact,
            conversation,
            request.POST,
            status=ACTION_ERROR_STATUS.get(exc.code, 400),
            error=exc.message,
        )
    return _respond(
        request,
        contact,
        conversation,
        piece="booking-hold",
        target="#booking",
        booking={"held": appointment, "resource": resource},
    )


@require_POST
@require_permission("calendar.book")
def confirm(request: HttpRequest, appointment_id: int) -> HttpResponse:
    """Confirm a hold; with ``send_confirmation``, text the contact in the conversation the
    hold was made from (the booking stands whether or not that send goes through)."""
    appointment = _appointment(request, appointment_id)
    contact = appointment.contact
    conversation = _conversation(request, contact, request.POST.get("conversation"))
    try:
        appointment = do_confirm(appointment, acting_user=request.user)
    except HoldExpired as exc:
        # The whole section: the list must lose the hold, and new times are offered.
        return _slots_step(
            request, contact, conversation, {}, status=409, whole_section=True, error=exc.message
        )
    except ActionError as exc:
        return _section(
            request,
            contact,
            conversation,
            status=ACTION_ERROR_STATUS.get(exc.code, 400),
            warning=exc.message,
        )
    notice = f"Booked: {_when(appointment)}."
    warning = ""
    if request.POST.get("send_confirmation") and appointment.conversation_id:
        try:
            do_send_confirmation(appointment, acting_user=request.user)
            notice += " The confirmation was sent to the contact."
        except (ActionError, PermissionDenied) as exc:
            warning = f"The confirmation was not sent: {getattr(exc, 'message', None) or exc}"
    return _section(request, contact, conversation, notice=notice, warning=warning)


@require_POST
@require_permission("calendar.book")
def cancel(request: HttpRequest, appointment_id: int) -> HttpResponse:
    """Cancel an appointment, or release a hold (the time is free again)."""
    appointment = _appointment(request, appointment_id)
    contact = appointment.contact
    conversation = _conversation(request, contact, request.POST.get("conversation"))
    was_hold = appointment.state == AppointmentState.HOLD
    try:
        appointment = do_cancel(appointment, acting_user=request.user)
    except ActionError as exc:
        return _section(
            request,
            contact,
            conversation,
            status=ACTION_ERROR_STATUS.get(exc.code, 400),
            warning=exc.message,
        )
    verb = "Released the hold on" if was_hold else "Cancelled"
    return _section(request, contact, conversation, notice=f"{verb} {_when(appointment)}.")
