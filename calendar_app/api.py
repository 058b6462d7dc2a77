"""The calendar in the JSON API (mounted at /api/v1/ by omnichannel.api).

Free slots (``GET /calendar/slots``), appointments (hold or book, confirm, cancel, reschedule,
complete, no-show, list) and what it takes to set them up (resources with their weekly hours and
exceptions, appointment types; PATCH changes only the fields sent, DELETE removes one never
booked and deactivates one that was, so its appointments keep their history). A time that is no
longer free answers 409 ``slot_taken`` with ``error.conflict`` (the start and end of what holds
it) and ``error.nearest`` (the closest free slots); an expired hold answers 409
``hold_expired``. POSTs that create take an ``Idempotency-Key`` header: a repeat answers 200
with the same appointment and does nothing.
"""

import datetime as dt
import re
from datetime import date, datetime, time
from typing import Annotated, Any, Literal

from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import BeforeValidator, StrictBool, StrictInt

from calendar_app.actions import (
    HoldExpired,
    SlotTaken,
    do_add_availability_exception,
    do_book,
    do_cancel,
    do_complete,
    do_confirm,
    do_delete_appointment_type,
    do_delete_resource,
    do_hold,
    do_mark_no_show,
    do_reschedule,
    do_save_appointment_type,
    do_save_resource,
    do_set_ics_token,
)
from calendar_app.availability import free_slots
from calendar_app.feeds import feed_url
from calendar_app.models import (
    Appointment,
    AppointmentResource,
    AppointmentState,
    AppointmentType,
    AvailabilityException,
    AvailabilityRule,
    Resource,
)
from contacts.models import Contact
from inbox.models import Conversation
from omnichannel.actions import ActionError
from omnichannel.api import (
    ApiInput,
    Paginated,
    api,
    error,
    idempotent,
    permission_required,
)
from omnichannel.models import Membership
from omnichannel.tenancy import get_in_tenant

router = Router(tags=["calendar"])
ROUTERS = [router]  # mounted at /api/v1/ by omnichannel.api

MAX_SEARCH_DAYS = 93
EARLIEST_YEAR, LATEST_YEAR = 2000, 2200
# Query parameters with an alias (`from` is a Python keyword), declared once.
SLOTS_FROM = Query(..., alias="from", description="With its UTC offset.")
SLOTS_TO = Query(..., description=f"With its UTC offset; at most {MAX_SEARCH_DAYS} days later.")
LIST_FROM = Query(None, alias="from", description="Ending after this (with its UTC offset).")
LIST_TO = Query(None, description="Starting before this (with its UTC offset).")


def _iso_text(value: Any) -> Any:
    """Date-times arrive as ISO 8601 text: pydantic would otherwise read a number (or a numeric
    string) as a Unix timestamp, which nobody sending a calendar time means."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not re.match(r"^\d{4}-\d{2}-\d{2}", value):
        raise ValueError("must be an ISO 8601 date-time with its offset, e.g. 2026-12-20T10:00:00Z")
    return value


def _text_like(pattern: str, example: str):
    def check(value: Any) -> Any:
        if isinstance(value, str) and re.match(pattern, value):
            return value
        raise ValueError(f"must be text such as {example}")

    return BeforeValidator(check)


IsoDatetime = Annotated[datetime, BeforeValidator(_iso_text)]
IsoDate = Annotated[date, _text_like(r"^\d{4}-\d{2}-\d{2}$", "2026-12-25")]
IsoTime = Annotated[time, _text_like(r"^\d{2}:\d{2}(:\d{2})?$", "09:00")]


@api.exception_handler(SlotTaken)
def on_slot_taken(request: HttpRequest, exc: SlotTaken) -> HttpResponse:
    conflict = (
        {"start": exc.conflict[0].isoformat(), "end": exc.conflict[1].isoformat()}
        if exc.conflict
        else None
    )
    return error(
        request,
        409,
        exc.code,
        exc.message,
        conflict=conflict,
        nearest=[slot.as_dict() for slot in exc.nearest],
    )


@api.exception_handler(HoldExpired)
def on_hold_expired(request: HttpRequest, exc: HoldExpired) -> HttpResponse:
    return error(request, 409, exc.code, exc.message)


def _moment(value: datetime | None, name: str) -> datetime | None:
    """An instant from the request: with its offset, in a sane range (no overflow later)."""
    if value is None:
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        raise ActionError(
            f"“{name}” needs its UTC offset (e.g. 2026-12-20T10:00:00-05:00 or ...Z)."
        )
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise ActionError(f"“{name}” is out of range ({EARLIEST_YEAR} to {LATEST_YEAR}).")
    return value.astimezone(dt.UTC)


# --- Schemas --------------------------------------------------------------------------------------


class WeeklyIn(ApiInput):
    weekday: StrictInt = Field(..., ge=0, le=6, description="0 = Monday ... 6 = Sunday.")
    start: IsoTime = Field(..., description="Local time in the resource's zone, e.g. 09:00.")
    end: IsoTime


class WeeklyOut(Schema):
    weekday: int
    start: time = Field(..., alias="start_time")
    end: time = Field(..., alias="end_time")


class ResourceIn(ApiInput):
    name: str = Field(..., min_length=1, max_length=120)
    kind: Literal["agent", "room", "service"] = "agent"
    timezone: str = Field("", max_length=64, description="IANA name; empty: the tenant's.")
    color: str | None = Field(None, max_length=7, description="#rrggbb")
    user_id: StrictInt | None = Field(None, description="The agent (a member of the tenant).")
    is_active: StrictBool = True
    availability: list[WeeklyIn] | None = Field(
        None, max_length=100, description="Weekly open hours; replaces them when given."
    )


class ResourcePatch(ApiInput):
    """Only the fields sent change."""

    name: str | None = Field(None, min_length=1, max_length=120)
    kind: Literal["agent", "room", "service"] | None = None
    timezone: str | None = Field(None, max_length=64, description="IANA name; empty: the tenant's.")
    color: str | None = Field(None, max_length=7, description="#rrggbb")
    user_id: StrictInt | None = Field(
        None, description="The agent (a member of the tenant); send null to unlink."
    )
    is_active: StrictBool | None = None
    availability: list[WeeklyIn] | None = Field(
        None, max_length=100, description="Weekly open hours; replaces them when given."
    )


class DeletedOut(Schema):
    id: int
    deleted: bool = Field(
        ..., description="True: removed; false: it has appointments, so it was deactivated."
    )


class ResourceOut(Schema):
    id: int
    name: str
    kind: str
    timezone: str
    color: str
    user_id: int | None
    is_active: bool
    availability: list[WeeklyOut] = Field(..., alias="rules")

    @staticmethod
    def resolve_availability(resource: Resource) -> list:
        return list(resource.rules.all())


class ExceptionIn(ApiInput):
    kind: Literal["closed", "open"] = "closed"
    start_date: IsoDate
    end_date: IsoDate | None = None
    start_time: IsoTime | None = None
    end_time: IsoTime | None = None
    reason: str = Field("", max_length=200)


class ExceptionOut(Schema):
    id: int
    resource_id: int
    kind: str
    start_date: date
    end_date: date
    start_time: time | None
    end_time: time | None
    reason: str


class TypeIn(ApiInput):
    name: str = Field(..., min_length=1, max_length=120)
    duration_minutes: StrictInt = Field(30, ge=5, le=1440)
    buffer_before_minutes: StrictInt = Field(0, ge=0, le=1440)
    buffer_after_minutes: StrictInt = Field(0, ge=0, le=1440)
    slot_step_minutes: StrictInt = Field(0, ge=0, le=1440, description="0: the duration.")
    min_notice_minutes: StrictInt = Field(60, ge=0, le=525600)
    horizon_days: StrictInt = Field(60, ge=1, le=365)
    hold_minutes: StrictInt = Field(10, ge=1, le=1440)
    color: str | None = Field(None, max_length=7, description="#rrggbb")
    resource_ids: list[StrictInt] = Field([], max_length=200, description="Empty: any resource.")


class TypePatch(ApiInput):
    """Only the fields sent change."""

    name: str | None = Field(None, min_length=1, max_length=120)
    duration_minutes: StrictInt | None = Field(None, ge=5, le=1440)
    buffer_before_minutes: StrictInt | None = Field(None, ge=0, le=1440)
    buffer_after_minutes: StrictInt | None = Field(None, ge=0, le=1440)
    slot_step_minutes: StrictInt | None = Field(None, ge=0, le=1440)
    min_notice_minutes: StrictInt | None = Field(None, ge=0, le=525600)
    horizon_days: StrictInt | None = Field(None, ge=1, le=365)
    hold_minutes: StrictInt | None = Field(None, ge=1, le=1440)
    color: str | None = Field(None, max_length=7, description="#rrggbb")
    is_active: StrictBool | None = None
    resource_ids: list[StrictInt] | None = Field(
        None, max_length=200, description="Empty: any resource."
    )


class TypeOut(Schema):
    id: int
    name: str
    duration_minutes: int
    buffer_before_minutes: int
    buffer_after_minutes: int
    slot_step_minutes: int
    min_notice_minutes: int
    horizon_days: int
    hold_minutes: int
    color: str
    is_active: bool
    resource_ids: list[int]

    @staticmethod
    def resolve_resource_ids(appointment_type: AppointmentType) -> list[int]:
        return sorted(r.pk for r in appointment_type.resources.all())


class SlotOut(Schema):
    start: datetime
    end: datetime
    resource_ids: list[int]


class SlotsOut(Schema):
    slots: list[SlotOut]


class AppointmentIn(ApiInput):
    type_id: StrictInt
    resource_ids: list[StrictInt] = Field(..., min_length=1, max_length=10)
    contact_id: StrictInt
    start: IsoDatetime = Field(..., description="With its UTC offset.")
    notes: str = Field("", max_length=5000)
    conversation_id: StrictInt | None = Field(None, description="The conversation it came from.")
    confirm: StrictBool = Field(
        False, description="Book it confirmed at once; otherwise a hold to confirm."
    )


class RescheduleIn(ApiInput):
    start: IsoDatetime = Field(..., description="With its UTC offset.")
    resource_ids: list[StrictInt] | None = Field(
        None, min_length=1, max_length=10, description="Other resources; omit to keep them."
    )


class AppointmentOut(Schema):
    id: int
    state: str
    start: datetime = Field(..., alias="start_at")
    end: datetime = Field(..., alias="end_at")
    type_id: int = Field(..., alias="appointment_type_id")
    type: str = Field(..., alias="appointment_type.name")
    color: str = Field(..., alias="appointment_type.color")
    contact_id: int
    contact_name: str = Field(..., alias="contact.name")
    resource_ids: list[int]
    notes: str
    conversation_id: int | None
    hold_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_resource_ids(appointment: Appointment) -> list[int]:
        return sorted(row.resource_id for row in appointment.resource_rows.all())

    @staticmethod
    def resolve_hold_expires_at(appointment: Appointment) -> datetime | None:
        return appointment.hold_expires_at if appointment.state == AppointmentState.HOLD else None


# --- Helpers --------------------------------------------------------------------------------------


def _appointments(tenant):
    return (
        Appointment.objects.for_tenant(tenant)
        .select_related("appointment_type", "contact")
        .prefetch_related(
            Prefetch(
                "resource_rows",
                queryset=AppointmentResource.objects.only("appointment", "resource"),
            )
        )
    )


def _appointment(request: HttpRequest, appointment_id: int) -> Appointment:
    return get_in_tenant(_appointments(request.tenant), request.tenant, pk=appointment_id)


def _resources(request: HttpRequest, ids: list[int]) -> list[Resource]:
    wanted = list(dict.fromkeys(ids))
    found = {r.pk: r for r in Resource.objects.for_tenant(request.tenant).filter(pk__in=wanted)}
    missing = [pk for pk in wanted if pk not in found]
    if missing:
        raise ActionError(f"No resource {missing[0]} in this tenant.", code="not_found")
    return [found[pk] for pk in wanted]


def _member_user(request: HttpRequest, user_id: int):
    membership = (
        Membership.objects.filter(tenant=request.tenant, user_id=user_id)
        .select_related("user")
        .first()
    )
    if membership is None:
        raise ActionError(f"No member {user_id} in this tenant.", code="not_found")
    return membership.user


def _resource_list(tenant):
    return (
        Resource.objects.for_tenant(tenant)
        .prefetch_related(
            Prefetch("rules", queryset=AvailabilityRule.objects.order_by("weekday", "start_time"))
        )
        .order_by("name", "id")
    )


def _type_list(tenant):
    return (
        AppointmentType.objects.for_tenant(tenant)
        .prefetch_related(Prefetch("resources", queryset=Resource.objects.only("id")))
        .order_by("name", "id")
    )


# --- Setup ----------------------------------------------------------------------------------------


@router.get("/calendar/resources", response=list[ResourceOut], summary="Bookable resources")
@permission_required("calendar.view")
@paginate(Paginated, max_limit=200)
def resource_list(request: HttpRequest):
    """Agents, rooms and services, with their weekly open hours (local times in their zone)."""
    return _resource_list(request.tenant)


@router.post("/calendar/resources", response={201: ResourceOut}, summary="Add a resource")
@permission_required("calendar.manage")
def resource_create(request: HttpRequest, payload: ResourceIn):
    user = _member_user(request, payload.user_id) if payload.user_id is not None else None
    weekly = (
        [(w.weekday, w.start, w.end) for w in payload.availability]
        if payload.availability is not None
        else None
    )
    resource = do_save_resource(
        request.tenant,
        name=payload.name,
        kind=payload.kind,
        timezone_name=payload.timezone,
        color=payload.color,
        user=user,
        is_active=payload.is_active,
        weekly=weekly,
    )
    return Status(201, _resource_list(request.tenant).get(pk=resource.pk))


@router.patch(
    "/calendar/resources/{resource_id}", response=ResourceOut, summary="Change a resource"
)
@permission_required("calendar.manage")
def resource_update(request: HttpRequest, resource_id: int, payload: ResourcePatch):
    """Only the fields sent change; `availability` replaces the weekly hours."""
    resource = get_in_tenant(
        Resource.objects.select_related("user"), request.tenant, pk=resource_id
    )
    sent = payload.model_fields_set
    user = resource.user
    if "user_id" in sent:
        user = _member_user(request, payload.user_id) if payload.user_id is not None else None
    for field in ("name", "kind", "is_active"):
        if field in sent and getattr(payload, field) is None:
            raise ActionError(f"“{field}” cannot be null.")
    weekly = None
    if payload.availability is not None:
        weekly = [(w.weekday, w.start, w.end) for w in payload.availability]
    do_save_resource(
        request.tenant,
        resource=resource,
        name=payload.name if "name" in sent else resource.name,
        kind=payload.kind if "kind" in sent else resource.kind,
        timezone_name=(payload.timezone or "") if "timezone" in sent else resource.timezone,
        color=payload.color if "color" in sent and payload.color else resource.color,
        user=user,
        is_active=payload.is_active if "is_active" in sent else resource.is_active,
        weekly=weekly,
    )
    return _resource_list(request.tenant).get(pk=resource.pk)


@router.delete(
    "/calendar/resources/{resource_id}",
    response=DeletedOut,
    summary="Remove a resource (deactivated instead when it has appointments)",
)
@permission_required("calendar.manage")
def resource_delete(request: HttpRequest, resource_id: int):
    resource = get_in_tenant(Resource, request.tenant, pk=resource_id)
    return {"id": resource_id, "deleted": do_delete_resource(resource)}


@router.post(
    "/calendar/resources/{resource_id}/exceptions",
    response={201: ExceptionOut},
    summary="Close a resource on some dates, or open it for extra hours",
)
@permission_required("calendar.manage")
def exception_create(request: HttpRequest, resource_id: int, payload: ExceptionIn):
    resource = get_in_tenant(Resource, request.tenant, pk=resource_id)
    exception = do_add_availability_exception(
        resource,
        kind=payload.kind,
        start_date=payload.start_date,
        end_date=payload.end_date,
        start_time=payload.start_time,
        end_time=payload.end_time,
        reason=payload.reason,
    )
    return Status(201, AvailabilityException.objects.get(pk=exception.pk))


class FeedIn(ApiInput):
    enabled: StrictBool = Field(True, description="False turns the feed off.")


class FeedOut(Schema):
    url: str | None = Field(
        ..., description="The feed's secret URL, shown this once; null when turned off."
    )


@router.post(
    "/calendar/resources/{resource_id}/ics-feed",
    response=FeedOut,
    summary="A new secret ICS feed URL of a resource's confirmed appointments (or none)",
)
@permission_required("calendar.manage")
def feed_set(request: HttpRequest, resource_id: int, payload: FeedIn):
    """Each call makes a new URL (the previous one stops working); `enabled: false` ends it."""
    resource = get_in_tenant(Resource, request.tenant, pk=resource_id)
    raw = do_set_ics_token(resource, enabled=payload.enabled)
    return {"url": feed_url(raw) if raw else None}


@router.get("/calendar/types", response=list[TypeOut], summary="Appointment types")
@permission_required("calendar.view")
@paginate(Paginated, max_limit=200)
def type_list(request: HttpRequest):
    return _type_list(request.tenant)


@router.post("/calendar/types", response={201: TypeOut}, summary="Add an appointment type")
@permission_required("calendar.manage")
def type_create(request: HttpRequest, payload: TypeIn):
    appointment_type = do_save_appointment_type(
        request.tenant,
        name=payload.name,
        duration_minutes=payload.duration_minutes,
        buffer_before_minutes=payload.buffer_before_minutes,
        buffer_after_minutes=payload.buffer_after_minutes,
        slot_step_minutes=payload.slot_step_minutes,
        min_notice_minutes=payload.min_notice_minutes,
        horizon_days=payload.horizon_days,
        hold_minutes=payload.hold_minutes,
        color=payload.color,
        resources=_resources(request, payload.resource_ids),
    )
    return Status(201, _type_list(request.tenant).get(pk=appointment_type.pk))


@router.patch("/calendar/types/{type_id}", response=TypeOut, summary="Change an appointment type")
@permission_required("calendar.manage")
def type_update(request: HttpRequest, type_id: int, payload: TypePatch):
    """Only the fields sent change; `resource_ids` replaces who offers it."""
    appointment_type = get_in_tenant(
        AppointmentType.objects.prefetch_related("resources"), request.tenant, pk=type_id
    )
    sent = payload.model_fields_set
    numbers = {
        field: getattr(payload, field) if field in sent else getattr(appointment_type, field)
        for field in (
            "duration_minutes",
            "buffer_before_minutes",
            "buffer_after_minutes",
            "slot_step_minutes",
            "min_notice_minutes",
            "horizon_days",
            "hold_minutes",
        )
    }
    for field in [*numbers, "name", "is_active", "resource_ids"]:
        if field in sent and getattr(payload, field) is None:
            raise ActionError(f"“{field}” cannot be null.")
    resources = (
        _resources(request, payload.resource_ids)
        if "resource_ids" in sent
        else list(appointment_type.resources.all())
    )
    do_save_appointment_type(
        request.tenant,
        appointment_type=appointment_type,
        name=payload.name if "name" in sent else appointment_type.name,
        color=payload.color if "color" in sent and payload.color else appointment_type.color,
        is_active=payload.is_active if "is_active" in sent else None,
        resources=resources,
        **numbers,
    )
    return _type_list(request.tenant).get(pk=appointment_type.pk)


@router.delete(
    "/calendar/types/{type_id}",
    response=DeletedOut,
    summary="Remove an appointment type (deactivated instead when it was booked)",
)
@permission_required("calendar.manage")
def type_delete(request: HttpRequest, type_id: int):
    appointment_type = get_in_tenant(AppointmentType, request.tenant, pk=type_id)
    return {"id": type_id, "deleted": do_delete_appointment_type(appointment_type)}


# --- Slots ----------------------------------------------------------------------------------------


@router.get("/calendar/slots", response=SlotsOut, summary="Free slots of an appointment type")
@permission_required("calendar.view")
def slot_list(
    request: HttpRequest,
    type: int = Query(..., description="The appointment type."),
    resource: int | None = Query(
        None, description="One resource; omitted: each resource offering the type."
    ),
    from_: IsoDatetime = SLOTS_FROM,
    to: IsoDatetime = SLOTS_TO,
):
    """Slots starting in [from, to), in each resource's weekly hours and exceptions (its own time
    zone, DST included), outside holds and confirmed appointments (buffers included), within the
    type's minimum notice and booking horizon."""
    start, end = _moment(from_, "from"), _moment(to, "to")
    if end <= start:
        raise ActionError("“to” must be after “from”.")
    if end - start > dt.timedelta(days=MAX_SEARCH_DAYS):
        raise ActionError(f"Search at most {MAX_SEARCH_DAYS} days at a time.")
    appointment_type = get_in_tenant(AppointmentType, request.tenant, pk=type)
    if resource is not None:
        resources = [get_in_tenant(Resource, request.tenant, pk=resource)]
        offered = set(appointment_type.resources.values_list("pk", flat=True))
        if offered and resource not in offered:
            resources = []
    else:
        resources = list(
            Resource.objects.for_tenant(request.tenant).filter(is_active=True).order_by("pk")
        )
        offered = set(appointment_type.resources.values_list("pk", flat=True))
        if offered:
            resources = [r for r in resources if r.pk in offered]
    resources = [r for r in resources if r.is_active]
    slots = free_slots(
        resources, appointment_type, start, end, tenant_zone=request.tenant.timezone, together=False
    )
    return {"slots": [slot.as_dict() for slot in slots]}


# --- Appointments ---------------------------------------------------------------------------------


@router.get("/appointments", response=list[AppointmentOut], summary="Appointments")
@permission_required("calendar.view")
@paginate(Paginated, max_limit=200)
def appointment_list(
    request: HttpRequest,
    resource: int | None = None,
    contact: int | None = None,
    state: Literal["hold", "confirmed", "completed", "cancelled", "no_show", "expired"]
    | None = None,
    from_: IsoDatetime | None = LIST_FROM,
    to: IsoDatetime | None = LIST_TO,
):
    """By start time; filter by resource, contact, state and a time range."""
    appointments = _appointments(request.tenant)
    if resource is not None:
        appointments = appointments.filter(resource_rows__resource_id=resource)
    if contact is not None:
        appointments = appointments.filter(contact_id=contact)
    if state is not None:
        appointments = appointments.filter(state=state)
    if (start := _moment(from_, "from")) is not None:
        appointments = appointments.filter(end_at__gt=start)
    if (end := _moment(to, "to")) is not None:
        appointments = appointments.filter(start_at__lt=end)
    return appointments.order_by("start_at", "id")


@router.get("/appointments/{appointment_id}", response=AppointmentOut, summary="An appointment")
@permission_required("calendar.view")
def appointment_detail(request: HttpRequest, appointment_id: int):
    return _appointment(request, appointment_id)


@router.post(
    "/appointments",
    response={200: AppointmentOut, 201: AppointmentOut},
    summary="Hold a slot for a contact, or book it confirmed",
)
@permission_required("calendar.book")
def appointment_create(request: HttpRequest, payload: AppointmentIn):
    """A hold blocks the slot for the type's hold minutes until confirmed; `confirm: true` books
    it at once (its reminders are scheduled). 409 `slot_taken` when the time is not free, with
    `error.conflict` and `error.nearest`."""
    tenant = request.tenant

    def act() -> Appointment:
        start = _moment(payload.start, "start")
        appointment_type = get_in_tenant(AppointmentType, tenant, pk=payload.type_id)
        contact = get_in_tenant(
            Contact.objects.filter(erased_at__isnull=True), tenant, pk=payload.contact_id
        )
        conversation = (
            get_in_tenant(Conversation, tenant, pk=payload.conversation_id)
            if payload.conversation_id is not None
            else None
        )
        action = do_book if payload.confirm else do_hold
        return action(
            tenant,
            appointment_type=appointment_type,
            resources=_resources(request, payload.resource_ids),
            contact=contact,
            start=start,
            notes=payload.notes,
            conversation=conversation,
        )

    def load(appointment_id: int) -> Appointment | None:
        return _appointments(tenant).filter(pk=appointment_id).first()

    return idempotent(request, scope="calendar", fingerprint=payload.dict(), act=act, load=load)


@router.post(
    "/appointments/{appointment_id}/confirm",
    response=AppointmentOut,
    summary="Confirm a hold",
)
@permission_required("calendar.book")
def appointment_confirm(request: HttpRequest, appointment_id: int):
    """Confirming twice changes nothing; an expired hold answers 409 `hold_expired`."""
    do_confirm(_appointment(request, appointment_id))
    return _appointment(request, appointment_id)


@router.post("/appointments/{appointment_id}/cancel", response=AppointmentOut, summary="Cancel")
@permission_required("calendar.book")
def appointment_cancel(request: HttpRequest, appointment_id: int):
    """The time is free again and pending reminders are cancelled; cancelling twice changes
    nothing."""
    do_cancel(_appointment(request, appointment_id))
    return _appointment(request, appointment_id)


@router.post(
    "/appointments/{appointment_id}/reschedule",
    response=AppointmentOut,
    summary="Move to another time (or other resources)",
)
@permission_required("calendar.book")
def appointment_reschedule(request: HttpRequest, appointment_id: int, payload: RescheduleIn):
    """Pending reminders move with it; 409 `slot_taken` when the new time is not free."""
    appointment = _appointment(request, appointment_id)
    resources = (
        _resources(request, payload.resource_ids) if payload.resource_ids is not None else None
    )
    do_reschedule(appointment, start=_moment(payload.start, "start"), resources=resources)
    return _appointment(request, appointment_id)


@router.post(
    "/appointments/{appointment_id}/complete",
    response=AppointmentOut,
    summary="Mark as completed",
)
@permission_required("calendar.book")
def appointment_complete(request: HttpRequest, appointment_id: int):
    do_complete(_appointment(request, appointment_id))
    return _appointment(request, appointment_id)


@router.post(
    "/appointments/{appointment_id}/no-show",
    response=AppointmentOut,
    summary="Mark as a no-show",
)
@permission_required("calendar.book")
def appointment_no_show(request: HttpRequest, appointment_id: int):
    do_mark_no_show(_appointment(request, appointment_id))
    return _appointment(request, appointment_id)
