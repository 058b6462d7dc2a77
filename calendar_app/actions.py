"""Writes of the calendar: resources and their availability, appointment types, and the
appointment lifecycle (hold → confirmed → completed / cancelled / no-show; a hold nobody
confirms expires).

Two appointments never share a resource's time: the exclusion constraint on
:class:`~calendar_app.models.AppointmentResource` decides. The checks here run first only to
answer better (the conflicting slot and the nearest free ones); when two requests pass them at
the same moment, the constraint refuses the second and :class:`SlotTaken` says the same thing.

Confirmed appointments post lifecycle events to notifications (``appointment.scheduled``,
``appointment.changed``, ``appointment.cancelled``), so the tenant's rules schedule, move and
cancel reminders; every change reaches open pages as ``appointment.created/updated/deleted``.
"""

import datetime as dt
import logging
import re
import secrets
import zoneinfo
from collections.abc import Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.db.backends.postgresql.psycopg_any import DateTimeTZRange
from django.utils import timezone

from calendar_app import hooks
from calendar_app.availability import (
    Slot,
    blocked_range,
    booking_window,
    free_slots,
    load_calendars,
    open_intervals,
    zone_of,
)
from calendar_app.models import (
    BLOCKING_STATES,
    COLOR_PATTERN,
    Appointment,
    AppointmentResource,
    AppointmentState,
    AppointmentType,
    AvailabilityException,
    AvailabilityRule,
    Resource,
)
from contacts.models import Contact
from notifications.actions import EventInvalid, do_post_event
from notifications.models import EventType as LifecycleEventType
from notifications.scheduling import contact_zone
from omnichannel import audit, events
from omnichannel.actions import ActionError
from omnichannel.models import AuditEvent, Tenant, hash_secret

logger = logging.getLogger(__name__)

EXCLUSION_VIOLATION = "23P01"  # SQLSTATE of "conflicting key value violates exclusion constraint"
NEAREST_COUNT = 3
NEAREST_SPAN = dt.timedelta(days=7)
COLOR_RE = re.compile(COLOR_PATTERN)

SCHEDULED, CHANGED, CANCELLED = (
    "appointment.scheduled",
    "appointment.changed",
    "appointment.cancelled",
)


class SlotTaken(ActionError):
    """The time is no longer free on a resource: ``conflict`` is what holds it (start, end),
    ``nearest`` the closest free slots of the same type and resources."""

    def __init__(
        self, message: str, *, conflict: tuple[dt.datetime, dt.datetime] | None, nearest: list
    ) -> None:
        super().__init__(message, code="slot_taken")
        self.conflict = conflict
        self.nearest: list[Slot] = nearest


class FieldInvalid(ActionError):
    """A setup value the action refuses, naming the input ``field`` it is about, so a form can
    show the message next to that field (the API shows the message alone)."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


class HoldExpired(ActionError):
    def __init__(self, message: str) -> None:
        super().__init__(message, code="hold_expired")


# --- setup --------------------------------------------------------------------------------------


def _check_zone(name: str) -> str:
    name = (name or "").strip()
    if name:
        try:
            zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise FieldInvalid(
                f"“{name[:64]}” is not a time zone (an IANA name such as Europe/Madrid).",
                field="timezone",
            ) from None
    return name


RESOURCE_FIELDS = ("name", "kind", "user_id", "timezone", "color", "is_active")
TYPE_FIELDS = (
    "name",
    "duration_minutes",
    "buffer_before_minutes",
    "buffer_after_minutes",
    "slot_step_minutes",
    "min_notice_minutes",
    "horizon_days",
    "hold_minutes",
    "color",
    "is_active",
)


# What each limit of an appointment type is called in an error (the API's name follows it).
TYPE_LIMIT_WORDS = {
    "duration_minutes": "The duration in minutes",
    "buffer_before_minutes": "The buffer before, in minutes,",
    "buffer_after_minutes": "The buffer after, in minutes,",
    "slot_step_minutes": "The slot step in minutes",
    "min_notice_minutes": "The minimum notice in minutes",
    "horizon_days": "How many days ahead may be booked",
    "hold_minutes": "How many minutes a hold lasts",
}


def _audit_setup(
    created_action: str, changed_action: str, row, *, created: bool, changed: list[str]
) -> None:
    """One audit row for a create, or for a change naming the fields that changed (never
    their values)."""
    if created:
        audit.record(created_action, tenant=row.tenant, target=row)
    elif changed:
        audit.record(
            changed_action,
            tenant=row.tenant,
            target=row,
            data={"changed": sorted(name.removesuffix("_id") for name in changed)},
        )


def _check_color(color: str | None, default: str) -> str:
    color = (color or default).strip()
    if not COLOR_RE.match(color):
        raise FieldInvalid(f"The colour “{color[:20]}” is not #rrggbb.", field="color")
    return color


@transaction.atomic
def do_save_resource(
    tenant: Tenant,
    *,
    name: str,
    kind: str = Resource.Kind.AGENT,
    timezone_name: str = "",
    color: str | None = None,
    user=None,
    is_active: bool = True,
    weekly: Sequence[tuple[int, dt.time, dt.time]] | None = None,
    resource: Resource | None = None,
) -> Resource:
    """Create or change a resource; ``weekly`` (weekday, start, end) replaces its weekly rules
    when given."""
    name = " ".join((name or "").split())
    if not name or len(name) > 120:
        raise FieldInvalid("A resource needs a name of 1 to 120 characters.", field="name")
    if kind not in Resource.Kind.values:
        raise FieldInvalid(f"The kind is one of {', '.join(Resource.Kind.values)}.", field="kind")
    if user is not None and not user.memberships.filter(tenant=tenant).exists():
        raise ActionError("That user is not a member of this tenant.", code="not_found")
    if resource is not None and resource.tenant_id != tenant.pk:
        raise ActionError("No such resource.", code="not_found")
    created = resource is None
    resource = resource or Resource(tenant=tenant)
    before = audit.snapshot(resource, RESOURCE_FIELDS)
    resource.name, resource.kind, resource.user = name, kind, user
    resource.timezone = _check_zone(timezone_name)
    resource.color = _check_color(color, resource.color or "#4f46e5")
    resource.is_active = bool(is_active)
    resource.save()
    changed = audit.changed_fields(resource, before)
    if weekly is not None and _set_weekly(resource, weekly, replace=not created):
        changed.append("availability")
    _audit_setup(
        AuditEvent.Action.CALENDAR_RESOURCE_CREATED,
        AuditEvent.Action.CALENDAR_RESOURCE_CHANGED,
        resource,
        created=created,
        changed=changed,
    )
    return resource


@transaction.atomic
def do_set_weekly_availability(
    resource: Resource, weekly: Sequence[tuple[int, dt.time, dt.time]]
) -> list[AvailabilityRule]:
    """Replace the resource's weekly rules (local times in its zone)."""
    if _set_weekly(resource, weekly, replace=True):
        _audit_setup(
            "",
            AuditEvent.Action.CALENDAR_RESOURCE_CHANGED,
            resource,
            created=False,
            changed=["availability"],
        )
    return list(AvailabilityRule.objects.filter(resource=resource))


def _rule_key(rule: AvailabilityRule) -> tuple:
    return (rule.weekday, rule.start_time, rule.end_time)


def _set_weekly(
    resource: Resource, weekly: Sequence[tuple[int, dt.time, dt.time]], *, replace: bool
) -> bool:
    """Replace the weekly rules; whether they changed."""
    rules = []
    for weekday, start, end in weekly:
        if not (isinstance(weekday, int) and 0 <= weekday <= 6):
            raise FieldInvalid("A weekday is 0 (Monday) to 6 (Sunday).", field="weekday")
        if not start < end:
            raise FieldInvalid(
                f"An interval must start before it ends ({start:%H:%M}-{end:%H:%M}).",
                field="end_time",
            )
        rules.append(
            AvailabilityRule(
                tenant_id=resource.tenant_id,
                resource=resource,
                weekday=weekday,
                start_time=start.replace(second=0, microsecond=0),
                end_time=end.replace(second=0, microsecond=0),
            )
        )
    current = AvailabilityRule.objects.filter(resource=resource)
    old = sorted(_rule_key(rule) for rule in current) if replace else []
    if old == sorted(_rule_key(rule) for rule in rules):
        return False
    current.delete()
    AvailabilityRule.objects.bulk_create(rules)
    return True


@transaction.atomic
def do_add_availability_exception(
    resource: Resource,
    *,
    start_date: dt.date,
    end_date: dt.date | None = None,
    kind: str = AvailabilityException.Kind.CLOSED,
    start_time: dt.time | None = None,
    end_time: dt.time | None = None,
    reason: str = "",
) -> AvailabilityException:
    """A holiday or day off (closed; all day without times) or extra open hours."""
    end_date = end_date or start_date
    if kind not in AvailabilityException.Kind.values:
        raise FieldInvalid("The kind is closed or open.", field="kind")
    if end_date < start_date:
        raise FieldInvalid("The end date is before the start date.", field="end_date")
    if (start_time is None) != (end_time is None):
        raise FieldInvalid(
            "Give both times or neither.",
            field="end_time" if start_time is not None else "start_time",
        )
    if start_time is not None and not start_time < end_time:
        raise FieldInvalid("The start time must be before the end time.", field="end_time")
    if kind == AvailabilityException.Kind.OPEN and start_time is None:
        raise FieldInvalid("Extra open hours need their start and end times.", field="start_time")
    exception = AvailabilityException.objects.create(
        tenant_id=resource.tenant_id,
        resource=resource,
        kind=kind,
        start_date=start_date,
        end_date=end_date,
        start_time=start_time,
        end_time=end_time,
        reason=" ".join((reason or "").split())[:200],
    )
    audit.record(
        AuditEvent.Action.CALENDAR_RESOURCE_CHANGED,
        tenant=resource.tenant,
        target=resource,
        data={"changed": ["exceptions"], "exception_id": exception.pk},
    )
    return exception


@transaction.atomic
def do_remove_availability_exception(exception: AvailabilityException) -> None:
    """Take back a closure or extra hours (the resource's weekly rules apply again)."""
    locked = AvailabilityException.objects.select_for_update().filter(pk=exception.pk).first()
    if locked is None or locked.tenant_id != exception.tenant_id:
        raise ActionError("No such exception.", code="not_found")
    resource = locked.resource
    locked.delete()
    audit.record(
        AuditEvent.Action.CALENDAR_RESOURCE_CHANGED,
        tenant=resource.tenant,
        target=resource,
        data={"changed": ["exceptions"], "removed_exception_id": exception.pk},
    )


@transaction.atomic
def do_save_appointment_type(
    tenant: Tenant,
    *,
    name: str,
    duration_minutes: int = 30,
    buffer_before_minutes: int = 0,
    buffer_after_minutes: int = 0,
    slot_step_minutes: int = 0,
    min_notice_minutes: int = 60,
    horizon_days: int = 60,
    hold_minutes: int = 10,
    color: str | None = None,
    resources: Sequence[Resource] = (),
    is_active: bool | None = None,
    appointment_type: AppointmentType | None = None,
) -> AppointmentType:
    name = " ".join((name or "").split())
    if not name or len(name) > 120:
        raise FieldInvalid("An appointment type needs a name of 1 to 120 characters.", field="name")
    limits = {
        "duration_minutes": (duration_minutes, 5, 24 * 60),
        "buffer_before_minutes": (buffer_before_minutes, 0, 24 * 60),
        "buffer_after_minutes": (buffer_after_minutes, 0, 24 * 60),
        "slot_step_minutes": (slot_step_minutes, 0, 24 * 60),
        "min_notice_minutes": (min_notice_minutes, 0, 365 * 24 * 60),
        "horizon_days": (horizon_days, 1, 365),
        "hold_minutes": (hold_minutes, 1, 24 * 60),
    }
    for field, (value, low, high) in limits.items():
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise FieldInvalid(
                f"{TYPE_LIMIT_WORDS[field]} is a whole number from {low} to {high} ({field}).",
                field=field,
            )
    if slot_step_minutes and slot_step_minutes < 5:
        raise FieldInvalid(
            "The slot step is 0 (one slot per duration) or at least 5 minutes (slot_step_minutes).",
            field="slot_step_minutes",
        )
    if any(r.tenant_id != tenant.pk for r in resources):
        raise ActionError("No such resource.", code="not_found")
    if appointment_type is not None and appointment_type.tenant_id != tenant.pk:
        raise ActionError("No such appointment type.", code="not_found")
    created = appointment_type is None
    appointment_type = appointment_type or AppointmentType(tenant=tenant)
    before = audit.snapshot(appointment_type, TYPE_FIELDS)
    old_resources = (
        set() if created else set(appointment_type.resources.values_list("pk", flat=True))
    )
    for field, (value, _, _) in limits.items():
        setattr(appointment_type, field, value)
    appointment_type.name = name
    appointment_type.color = _check_color(color, appointment_type.color or "#0ea5e9")
    if is_active is not None:
        appointment_type.is_active = bool(is_active)
    appointment_type.save()
    appointment_type.resources.set(resources)
    changed = audit.changed_fields(appointment_type, before)
    if {r.pk for r in resources} != old_resources:
        changed.append("resources")
    _audit_setup(
        AuditEvent.Action.APPOINTMENT_TYPE_CREATED,
        AuditEvent.Action.APPOINTMENT_TYPE_CHANGED,
        appointment_type,
        created=created,
        changed=changed,
    )
    return appointment_type


def _delete_or_deactivate(locked, original, *, booked: bool, changed, deleted) -> bool:
    """Delete ``locked`` (audited ``deleted``), or, when it was ever ``booked``, only deactivate
    it (audited ``changed``) so that it takes no new bookings and its history stays."""
    if booked:
        if locked.is_active:
            locked.is_active = False
            locked.save(update_fields=["is_active"])
            audit.record(
                changed,
                tenant=locked.tenant,
                target=locked,
                data={"changed": ["is_active"], "reason": "deleted with appointments"},
            )
        original.is_active = False
        return False
    audit.record(deleted, tenant=locked.tenant, target=locked)
    locked.delete()
    return True


@transaction.atomic
def do_delete_resource(resource: Resource, *, acting_user=None) -> bool:
    """Remove a resource; one with appointments (past ones too: they are history) is only
    deactivated, so it takes no new bookings. Whether the row was deleted."""
    locked = Resource.objects.select_for_update().filter(pk=resource.pk).first()
    if locked is None or locked.tenant_id != resource.tenant_id:
        raise ActionError("No such resource.", code="not_found")
    return _delete_or_deactivate(
        locked,
        resource,
        booked=AppointmentResource.objects.filter(resource=locked).exists(),
        changed=AuditEvent.Action.CALENDAR_RESOURCE_CHANGED,
        deleted=AuditEvent.Action.CALENDAR_RESOURCE_DELETED,
    )


@transaction.atomic
def do_delete_appointment_type(appointment_type: AppointmentType, *, acting_user=None) -> bool:
    """Remove an appointment type; one that was ever booked is only deactivated (its
    appointments keep their type). Whether the row was deleted."""
    locked = AppointmentType.objects.select_for_update().filter(pk=appointment_type.pk).first()
    if locked is None or locked.tenant_id != appointment_type.tenant_id:
        raise ActionError("No such appointment type.", code="not_found")
    return _delete_or_deactivate(
        locked,
        appointment_type,
        booked=Appointment.objects.filter(appointment_type=locked).exists(),
        changed=AuditEvent.Action.APPOINTMENT_TYPE_CHANGED,
        deleted=AuditEvent.Action.APPOINTMENT_TYPE_DELETED,
    )


@transaction.atomic
def do_set_ics_token(resource: Resource, *, enabled: bool = True) -> str | None:
    """A new secret for the resource's ICS feed, returned once (only its hash is stored; the
    old URL stops working), or no feed at all (None)."""
    raw = secrets.token_urlsafe(32) if enabled else None
    resource.ics_token = hash_secret(raw) if raw else ""
    resource.save(update_fields=["ics_token"])
    audit.record(
        AuditEvent.Action.CALENDAR_RESOURCE_CHANGED,
        tenant=resource.tenant,
        target=resource,
        data={"changed": ["ics_feed"], "ics_feed": "renewed" if raw else "off"},
    )
    return raw


# --- the booking checks ---------------------------------------------------------------------------


def _aware(moment: Any, what: str = "start") -> dt.datetime:
    if not isinstance(moment, dt.datetime):
        raise ActionError(f"The {what} is an ISO 8601 date-time with its offset.")
    if moment.tzinfo is None:
        raise ActionError(
            f"The {what} needs its UTC offset (e.g. 2026-12-20T10:00:00-05:00 or …Z)."
        )
    return moment.astimezone(dt.UTC)


def _check_parts(
    tenant: Tenant,
    appointment_type: AppointmentType,
    resources: Sequence[Resource],
    contact: Contact | None = None,
) -> list[Resource]:
    if appointment_type.tenant_id != tenant.pk:
        raise ActionError("No such appointment type.", code="not_found")
    if not appointment_type.is_active:
        raise ActionError(f"“{appointment_type.name}” is not offered any more.")
    resources = list({r.pk: r for r in resources}.values())
    if not resources:
        raise ActionError("Choose at least one resource.")
    if any(r.tenant_id != tenant.pk for r in resources):
        raise ActionError("No such resource.", code="not_found")
    inactive = [r.name for r in resources if not r.is_active]
    if inactive:
        raise ActionError(f"{inactive[0]} is not taking appointments.")
    offered_by = set(appointment_type.resources.values_list("pk", flat=True))
    if offered_by and not {r.pk for r in resources} <= offered_by:
        raise ActionError(f"“{appointment_type.name}” is not offered by every resource chosen.")
    if contact is not None and (contact.tenant_id != tenant.pk or contact.erased_at is not None):
        raise ActionError("No such contact.", code="not_found")
    return resources


def _check_within_rules(
    tenant: Tenant,
    appointment_type: AppointmentType,
    resources: Sequence[Resource],
    start: dt.datetime,
    now: dt.datetime,
) -> None:
    """The minimum notice, the horizon and every resource's open hours (the courtesy part of
    the checks: they read what the constraint cannot)."""
    earliest, latest = booking_window(appointment_type, now)
    if start < earliest:
        raise ActionError(
            f"“{appointment_type.name}” needs {appointment_type.min_notice_minutes} minutes' "
            f"notice: the earliest start is {earliest.isoformat(timespec='minutes')}."
        )
    if start > latest:
        raise ActionError(
            f"“{appointment_type.name}” can be booked up to {appointment_type.horizon_days} "
            f"days ahead (until {latest.isoformat(timespec='minutes')})."
        )
    end = start + dt.timedelta(minutes=appointment_type.duration_minutes)
    calendars = load_calendars(resources, tenant.timezone, start, end, now=now)
    for resource in resources:
        zone = zone_of(resource, tenant.timezone)
        intervals = open_intervals(
            calendars.rules.get(resource.pk, []),
            calendars.exceptions.get(resource.pk, []),
            zone,
            start,
            end,
        )
        if intervals != [(start, end)]:
            local = start.astimezone(zone)
            raise ActionError(
                f"{resource.name} is not available at {local:%Y-%m-%d %H:%M} ({zone.key})."
            )


def _nearest(
    tenant: Tenant,
    appointment_type: AppointmentType,
    resources: Sequence[Resource],
    start: dt.datetime,
    *,
    exclude_appointment_id: int | None = None,
) -> list[Slot]:
    slots = free_slots(
        resources,
        appointment_type,
        start - NEAREST_SPAN,
        start + NEAREST_SPAN,
        tenant_zone=tenant.timezone,
        exclude_appointment_id=exclude_appointment_id,
    )
    closest = sorted(slots, key=lambda s: (abs(s.start - start), s.start))[:NEAREST_COUNT]
    return sorted(closest, key=lambda s: s.start)


def _conflict(
    resource_ids: Sequence[int],
    during: DateTimeTZRange,
    now: dt.datetime,
    exclude_appointment_id: int | None,
) -> tuple[dt.datetime, dt.datetime] | None:
    """The start and end of an appointment holding part of ``during`` on these resources."""
    rows = (
        AppointmentResource.objects.filter(
            resource_id__in=resource_ids, state__in=BLOCKING_STATES, during__overlap=during
        )
        .exclude(state=AppointmentState.HOLD, hold_expires_at__lte=now)
        .select_related("appointment")
        .order_by("during")
    )
    if exclude_appointment_id is not None:
        rows = rows.exclude(appointment_id=exclude_appointment_id)
    row = rows.first()
    return (row.appointment.start_at, row.appointment.end_at) if row is not None else None


def _external_conflict(
    resource_ids: Sequence[int], during: DateTimeTZRange
) -> tuple[dt.datetime, dt.datetime] | None:
    """The first busy time of a synced external calendar (Google) on this time. The exclusion
    constraint only sees appointments, so for these this check is what refuses."""
    found = hooks.external_busy(resource_ids, during.lower, during.upper)
    busy = sorted(interval for intervals in found.values() for interval in intervals)
    return busy[0] if busy else None


def _slot_taken(
    tenant: Tenant,
    appointment_type: AppointmentType,
    resources: Sequence[Resource],
    start: dt.datetime,
    conflict: tuple[dt.datetime, dt.datetime] | None,
    *,
    exclude_appointment_id: int | None = None,
) -> SlotTaken:
    nearest = _nearest(
        tenant, appointment_type, resources, start, exclude_appointment_id=exclude_appointment_id
    )
    names = ", ".join(r.name for r in resources)
    return SlotTaken(
        f"This time is already taken on {names}"
        + (f" ({len(nearest)} nearest free slots are listed)." if nearest else "."),
        conflict=conflict,
        nearest=nearest,
    )


def _release_expired_on(resource_ids: Sequence[int], during: DateTimeTZRange, now) -> None:
    """Holds past their expiry that still sit on this time (beat has not run yet) let go first,
    so they do not make the constraint refuse someone else."""
    on_this_time = AppointmentResource.objects.filter(
        resource_id__in=resource_ids, state=AppointmentState.HOLD, during__overlap=during
    ).values("appointment_id")
    expired = list(
        Appointment.objects.select_for_update(skip_locked=True)
        .filter(pk__in=on_this_time, state=AppointmentState.HOLD, hold_expires_at__lte=now)
        .values_list("pk", "tenant_id")
    )
    if expired:
        _expire([pk for pk, _ in expired], expired)


def _is_exclusion_violation(exc: IntegrityError) -> bool:
    return getattr(exc.__cause__, "sqlstate", None) == EXCLUSION_VIOLATION


def _write_rows(appointment: Appointment, resources: Sequence[Resource], during) -> None:
    AppointmentResource.objects.bulk_create(
        [
            AppointmentResource(
                tenant_id=appointment.tenant_id,
                appointment=appointment,
                resource=resource,
                during=during,
                state=appointment.state,
                hold_expires_at=appointment.hold_expires_at,
            )
            for resource in resources
        ]
    )


# --- the lifecycle -------------------------------------------------------------------------------


def _create(
    tenant: Tenant,
    *,
    state: str,
    appointment_type: AppointmentType,
    resources: Sequence[Resource],
    contact: Contact,
    start: dt.datetime,
    notes: str,
    conversation,
    acting_user,
) -> Appointment:
    now = timezone.now()
    start = _aware(start)
    resources = _check_parts(tenant, appointment_type, resources, contact)
    if conversation is not None and (
        conversation.tenant_id != tenant.pk or conversation.contact_id != contact.pk
    ):
        raise ActionError("No such conversation for this contact.", code="not_found")
    if len(notes or "") > 5000:
        raise ActionError("Notes are at most 5000 characters.")
    _check_within_rules(tenant, appointment_type, resources, start, now)
    during = blocked_range(appointment_type, start)
    ids = [r.pk for r in resources]
    _release_expired_on(ids, during, now)
    if (
        conflict := _conflict(ids, during, now, None) or _external_conflict(ids, during)
    ) is not None:
        raise _slot_taken(tenant, appointment_type, resources, start, conflict)
    appointment = Appointment(
        tenant=tenant,
        contact=contact,
        appointment_type=appointment_type,
        start_at=start,
        end_at=start + dt.timedelta(minutes=appointment_type.duration_minutes),
        notes=notes or "",
        conversation=conversation,
        state=state,
        hold_expires_at=(
            now + dt.timedelta(minutes=appointment_type.hold_minutes)
            if state == AppointmentState.HOLD
            else None
        ),
        created_by=acting_user,
    )
    try:
        with transaction.atomic():
            appointment.save()
            _write_rows(appointment, resources, during)
    except IntegrityError as exc:
        if not _is_exclusion_violation(exc):
            raise
        # Another request took the time between our check and our insert: the constraint
        # decided. (Its transaction has committed, so we see it now.)
        conflict = _conflict(ids, during, timezone.now(), None)
        raise _slot_taken(tenant, appointment_type, resources, start, conflict) from None
    if state == AppointmentState.CONFIRMED:
        _post_lifecycle(appointment, SCHEDULED, "scheduled", resources)
        hooks.appointment_changed(appointment, "confirmed")
    _publish(appointment, events.EventType.APPOINTMENT_CREATED, ids)
    return appointment


@transaction.atomic
def do_hold(
    tenant: Tenant,
    *,
    appointment_type: AppointmentType,
    resources: Sequence[Resource],
    contact: Contact,
    start: dt.datetime,
    notes: str = "",
    conversation=None,
    acting_user=None,
) -> Appointment:
    """Hold a slot for the contact while they decide: it blocks the time for the type's
    ``hold_minutes``; :func:`do_confirm` makes it an appointment. Raises :class:`SlotTaken`."""
    return _create(
        tenant,
        state=AppointmentState.HOLD,
        appointment_type=appointment_type,
        resources=resources,
        contact=contact,
        start=start,
        notes=notes,
        conversation=conversation,
        acting_user=acting_user,
    )


@transaction.atomic
def do_book(
    tenant: Tenant,
    *,
    appointment_type: AppointmentType,
    resources: Sequence[Resource],
    contact: Contact,
    start: dt.datetime,
    notes: str = "",
    conversation=None,
    acting_user=None,
) -> Appointment:
    """Book a confirmed appointment in one step (its reminders are scheduled). Raises
    :class:`SlotTaken`."""
    return _create(
        tenant,
        state=AppointmentState.CONFIRMED,
        appointment_type=appointment_type,
        resources=resources,
        contact=contact,
        start=start,
        notes=notes,
        conversation=conversation,
        acting_user=acting_user,
    )


def _locked(appointment: Appointment) -> Appointment:
    locked = (
        Appointment.objects.select_for_update(of=("self",))
        .select_related("appointment_type", "contact__tenant", "tenant")
        .filter(pk=appointment.pk, tenant_id=appointment.tenant_id)
        .first()
    )
    if locked is None:
        raise ActionError("No such appointment.", code="not_found")
    return locked


def _refuse_expired_hold(appointment: Appointment, now: dt.datetime) -> None:
    if appointment.state == AppointmentState.EXPIRED or (
        appointment.state == AppointmentState.HOLD and appointment.hold_expires_at <= now
    ):
        raise HoldExpired(
            "This hold expired at "
            f"{appointment.hold_expires_at.isoformat(timespec='seconds')} and its slot was "
            "released; hold a slot again (it may have been taken)."
        )


def _set_state(appointment: Appointment, state: str, **fields: Any) -> None:
    appointment.state = state
    for name, value in fields.items():
        setattr(appointment, name, value)
    appointment.save(update_fields=["state", "updated_at", *fields])
    AppointmentResource.objects.filter(appointment=appointment).update(
        state=state, hold_expires_at=appointment.hold_expires_at
    )


def _resource_ids(appointment: Appointment) -> list[int]:
    return list(
        AppointmentResource.objects.filter(appointment=appointment)
        .order_by("resource_id")
        .values_list("resource_id", flat=True)
    )


@transaction.atomic
def do_confirm(appointment: Appointment, *, acting_user=None) -> Appointment:
    """Confirm a hold (its reminders are scheduled). Confirming twice is a no-op; a hold past
    its expiry is refused with :class:`HoldExpired`, released by beat or not."""
    locked = _locked(appointment)
    if locked.state == AppointmentState.CONFIRMED:
        return locked
    _refuse_expired_hold(locked, timezone.now())
    if locked.state != AppointmentState.HOLD:
        raise ActionError(
            f"This appointment is {locked.get_state_display().lower()}; only a hold can be "
            "confirmed.",
            code="conflict",
        )
    _set_state(locked, AppointmentState.CONFIRMED, hold_expires_at=None)
    resources = list(Resource.objects.filter(bookings__appointment=locked).order_by("pk"))
    _post_lifecycle(locked, SCHEDULED, "scheduled", resources)
    hooks.appointment_changed(locked, "confirmed")
    _publish(locked, events.EventType.APPOINTMENT_UPDATED, [r.pk for r in resources])
    return locked


@transaction.atomic
def do_cancel(appointment: Appointment, *, acting_user=None) -> Appointment:
    """Cancel a hold or an appointment: its time is free again and its pending reminders are
    cancelled. Cancelling twice is a no-op."""
    locked = _locked(appointment)
    if locked.state in (AppointmentState.CANCELLED, AppointmentState.EXPIRED):
        return locked
    if locked.state not in BLOCKING_STATES:
        raise ActionError(
            f"This appointment is {locked.get_state_display().lower()}; it cannot be cancelled.",
            code="conflict",
        )
    was_confirmed = locked.state == AppointmentState.CONFIRMED
    _set_state(
        locked, AppointmentState.CANCELLED, cancelled_at=timezone.now(), hold_expires_at=None
    )
    if was_confirmed:
        _post_lifecycle(locked, CANCELLED, "cancelled", [])
        hooks.appointment_changed(locked, "cancelled")
    _publish(locked, events.EventType.APPOINTMENT_DELETED, _resource_ids(locked))
    return locked


@transaction.atomic
def do_reschedule(
    appointment: Appointment,
    *,
    start: dt.datetime,
    resources: Sequence[Resource] | None = None,
    acting_user=None,
) -> Appointment:
    """Move a hold or an appointment to ``start`` (and other ``resources`` when given); a
    confirmed one's pending reminders move with it. Raises :class:`SlotTaken`."""
    locked = _locked(appointment)
    now = timezone.now()
    _refuse_expired_hold(locked, now)
    if locked.state not in BLOCKING_STATES:
        raise ActionError(
            f"This appointment is {locked.get_state_display().lower()}; it cannot be moved.",
            code="conflict",
        )
    tenant, appointment_type = locked.tenant, locked.appointment_type
    start = _aware(start)
    current = list(Resource.objects.filter(bookings__appointment=locked).order_by("pk"))
    resources = _check_parts(tenant, appointment_type, current if resources is None else resources)
    _check_within_rules(tenant, appointment_type, resources, start, now)
    during = blocked_range(appointment_type, start)
    ids = [r.pk for r in resources]
    _release_expired_on(ids, during, now)
    if (
        conflict := _conflict(ids, during, now, locked.pk) or _external_conflict(ids, during)
    ) is not None:
        raise _slot_taken(
            tenant, appointment_type, resources, start, conflict, exclude_appointment_id=locked.pk
        )
    if start == locked.start_at and ids == [r.pk for r in current]:
        return locked  # nothing moves
    locked.start_at = start
    locked.end_at = start + dt.timedelta(minutes=appointment_type.duration_minutes)
    locked.version += 1
    try:
        with transaction.atomic():
            locked.save(update_fields=["start_at", "end_at", "version", "updated_at"])
            AppointmentResource.objects.filter(appointment=locked).exclude(
                resource_id__in=ids
            ).delete()
            AppointmentResource.objects.filter(appointment=locked).update(during=during)
            kept = set(_resource_ids(locked))
            _write_rows(locked, [r for r in resources if r.pk not in kept], during)
    except IntegrityError as exc:
        if not _is_exclusion_violation(exc):
            raise
        conflict = _conflict(ids, during, timezone.now(), locked.pk)
        raise _slot_taken(
            tenant, appointment_type, resources, start, conflict, exclude_appointment_id=locked.pk
        ) from None
    if locked.state == AppointmentState.CONFIRMED:
        _post_lifecycle(locked, CHANGED, f"changed:{locked.version}", resources)
        hooks.appointment_changed(locked, "rescheduled")
    _publish(locked, events.EventType.APPOINTMENT_UPDATED, ids)
    return locked


def _finish(appointment: Appointment, state: str) -> Appointment:
    locked = _locked(appointment)
    if locked.state == state:
        return locked
    if locked.state != AppointmentState.CONFIRMED:
        raise ActionError(
            f"This appointment is {locked.get_state_display().lower()}; only a confirmed one "
            "can be marked so.",
            code="conflict",
        )
    if locked.start_at > timezone.now():
        raise ActionError("This appointment has not started yet.", code="conflict")
    _set_state(locked, state)
    _publish(locked, events.EventType.APPOINTMENT_UPDATED, _resource_ids(locked))
    return locked


@transaction.atomic
def do_complete(appointment: Appointment, *, acting_user=None) -> Appointment:
    """The appointment took place."""
    return _finish(appointment, AppointmentState.COMPLETED)


@transaction.atomic
def do_mark_no_show(appointment: Appointment, *, acting_user=None) -> Appointment:
    """The contact did not come."""
    return _finish(appointment, AppointmentState.NO_SHOW)


def _expire(ids: list[int], tenants: list[tuple[int, int]]) -> None:
    Appointment.objects.filter(pk__in=ids).update(
        state=AppointmentState.EXPIRED, updated_at=timezone.now()
    )
    # The constraint lets the time go; the rows keep when the hold expired.
    AppointmentResource.objects.filter(appointment_id__in=ids).update(
        state=AppointmentState.EXPIRED
    )
    events.publish_to_tenants(
        events.EventType.APPOINTMENT_DELETED,
        [
            (tenant_id, {"id": pk, "state": AppointmentState.EXPIRED.value})
            for pk, tenant_id in tenants
        ],
    )


@transaction.atomic
def do_release_expired_holds(*, limit: int = 1000) -> int:
    """Beat: let go of holds past their expiry (every tenant), so their time is free again.
    Holds being confirmed right now are skipped (their confirm decides)."""
    expired = list(
        Appointment.objects.select_for_update(skip_locked=True)
        .filter(state=AppointmentState.HOLD, hold_expires_at__lte=timezone.now())
        .order_by("hold_expires_at")
        .values_list("pk", "tenant_id")[:limit]
    )
    if expired:
        _expire([pk for pk, _ in expired], expired)
    return len(expired)


# --- side effects ---------------------------------------------------------------------------------


def realtime_payload(appointment: Appointment, resource_ids: Sequence[int]) -> dict:
    return {
        "id": appointment.pk,
        "state": appointment.state,
        "start": appointment.start_at.isoformat(),
        "end": appointment.end_at.isoformat(),
        "appointment_type_id": appointment.appointment_type_id,
        "contact_id": appointment.contact_id,
        "resource_ids": list(resource_ids),
    }


def _publish(appointment: Appointment, event_type, resource_ids: Sequence[int]) -> None:
    events.publish(appointment.tenant, event_type, realtime_payload(appointment, resource_ids))


def _post_lifecycle(
    appointment: Appointment, type_key: str, step: str, resources: Sequence[Resource]
) -> None:
    """Tell notifications (its rules schedule, move or cancel the reminders). A tenant that
    removed the event type gets no reminders; the booking stands either way."""
    tenant = appointment.tenant
    if not LifecycleEventType.objects.for_tenant(tenant).filter(key=type_key).exists():
        return
    data: dict[str, Any] = {"appointment_id": str(appointment.pk)}
    if type_key != CANCELLED:
        zone = contact_zone(appointment.contact)
        agents = [r.name for r in resources if r.kind == Resource.Kind.AGENT]
        data["appointment_at"] = appointment.start_at.astimezone(zone).isoformat()
        data["agent_name"] = ", ".join(agents or [r.name for r in resources])
    try:
        do_post_event(
            tenant,
            {
                "type": type_key,
                "contact": {"id": appointment.contact_id},
                "data": data,
                "idempotency_key": f"calendar:appointment:{appointment.pk}:{step}",
            },
        )
    except (EventInvalid, ActionError) as exc:
        logger.warning(
            "Appointment %s: the %s event was not accepted: %s", appointment.pk, type_key, exc
        )
