"""Settings → Calendar: the tenant's bookable resources (their weekly hours, closures and extra
hours, ICS feed) and appointment types. Everything needs ``calendar.manage``.

Views parse the form and call the setup actions (which audit); a refused value comes back as
the action's message next to the field it is about (``FieldInvalid.field``), with what was
typed kept.
"""

import datetime as dt

from django.contrib import messages
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from calendar_app.actions import (
    FieldInvalid,
    do_add_availability_exception,
    do_delete_appointment_type,
    do_delete_resource,
    do_remove_availability_exception,
    do_save_appointment_type,
    do_save_resource,
    do_set_ics_token,
    do_set_weekly_availability,
)
from calendar_app.feeds import feed_url
from calendar_app.models import (
    AppointmentType,
    AvailabilityException,
    AvailabilityRule,
    Resource,
)
from omnichannel.actions import ActionError
from omnichannel.models import Membership
from omnichannel.settings_views import refused_status, settings_nav
from omnichannel.tenancy import get_in_tenant, require_permission

PERMISSION = "calendar.manage"
NAV_KEY = "calendar"
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
TYPE_NUMBERS = {
    "duration_minutes": 30,
    "buffer_before_minutes": 0,
    "buffer_after_minutes": 0,
    "slot_step_minutes": 0,
    "min_notice_minutes": 60,
    "horizon_days": 60,
    "hold_minutes": 10,
}
RESOURCE_DEFAULTS = {"kind": Resource.Kind.AGENT, "color": "#4f46e5", "is_active": True}
TYPE_DEFAULTS = {**TYPE_NUMBERS, "color": "#0ea5e9", "is_active": True}


class FormInvalid(Exception):
    """A value the form itself cannot read (not a number, not a time), before any action."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _whole_number(data, name: str) -> int:
    raw = (data.get(name) or "").strip()
    try:
        return int(raw)
    except ValueError:
        raise FormInvalid(name, "Enter a whole number.") from None


def _time(data, name: str, *, required: bool = True) -> dt.time | None:
    raw = (data.get(name) or "").strip()
    if not raw:
        if required:
            raise FormInvalid(name, "Enter a time (HH:MM).")
        return None
    try:
        return dt.time.fromisoformat(raw)
    except ValueError:
        raise FormInvalid(name, f"“{raw[:20]}” is not a time (HH:MM).") from None


def _date(data, name: str, *, required: bool = True) -> dt.date | None:
    raw = (data.get(name) or "").strip()
    if not raw:
        if required:
            raise FormInvalid(name, "Enter a date (YYYY-MM-DD).")
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise FormInvalid(name, f"“{raw[:20]}” is not a date (YYYY-MM-DD).") from None


def _refused(request: HttpRequest, exc: Exception) -> tuple[dict, int]:
    """The errors to show and the status: a field's own message next to it (400), anything
    else as a page message with the status its code says."""
    if isinstance(exc, FormInvalid | FieldInvalid):
        return {exc.field: exc.message}, 400
    return {}, refused_status(request, exc)


def _members(tenant) -> list:
    """The tenant's people, for linking an agent resource to its user."""
    return [
        membership.user
        for membership in Membership.objects.filter(tenant=tenant)
        .select_related("user")
        .order_by("user__email")
    ]


def _render(request: HttpRequest, template: str, context: dict, status: int) -> HttpResponse:
    context = {
        "settings_nav": settings_nav(request, NAV_KEY),
        "tenant": request.tenant,
        "weekdays": list(enumerate(WEEKDAYS)),
        **context,
    }
    return render(request, f"calendar_app/settings/{template}", context, status=status)


# --- the list -----------------------------------------------------------------------------------


def _list_page(
    request: HttpRequest,
    *,
    resource_form: dict | None = None,
    type_form: dict | None = None,
    status: int = 200,
) -> HttpResponse:
    tenant = request.tenant
    resources = list(
        Resource.objects.for_tenant(tenant).select_related("user").order_by("name", "id")
    )
    types = list(
        AppointmentType.objects.for_tenant(tenant)
        .prefetch_related(Prefetch("resources", queryset=Resource.objects.order_by("name", "id")))
        .order_by("name", "id")
    )
    context = {
        "resources": resources,
        "types": types,
        "members": _members(tenant),
        "kinds": Resource.Kind.choices,
        "resource_form": resource_form or {"values": RESOURCE_DEFAULTS, "errors": {}},
        "type_form": type_form or {"values": TYPE_DEFAULTS, "errors": {}, "resource_ids": []},
    }
    return _render(request, "calendar.html", context, status)


@require_GET
@require_permission(PERMISSION)
def calendar_settings(request: HttpRequest) -> HttpResponse:
    return _list_page(request)


# --- resources ----------------------------------------------------------------------------------


def _save_resource(request: HttpRequest, resource: Resource | None) -> Resource:
    data = request.POST
    raw_user = (data.get("user") or "").strip()
    user = (
        get_in_tenant(
            Membership.objects.select_related("user"), request.tenant, user_id=raw_user
        ).user
        if raw_user
        else None
    )
    return do_save_resource(
        request.tenant,
        name=data.get("name", ""),
        kind=data.get("kind", Resource.Kind.AGENT),
        timezone_name=data.get("timezone", ""),
        color=data.get("color") or None,
        user=user,
        is_active=data.get("is_active") == "on",
        resource=resource,
    )


@require_POST
@require_permission(PERMISSION)
def resource_create(request: HttpRequest) -> HttpResponse:
    try:
        resource = _save_resource(request, None)
    except ActionError as exc:
        errors, status = _refused(request, exc)
        form = {"values": request.POST.dict(), "errors": errors}
        return _list_page(request, resource_form=form, status=status)
    messages.success(request, f"Resource “{resource.name}” added; now set its hours.")
    return redirect("settings:calendar-resource", pk=resource.pk)


def _resource(request: HttpRequest, pk: int) -> Resource:
    return get_in_tenant(Resource.objects.select_related("user"), request.tenant, pk=pk)


def _resource_page(
    request: HttpRequest,
    resource: Resource,
    *,
    form: dict | None = None,
    hours_form: dict | None = None,
    exception_form: dict | None = None,
    new_feed_url: str = "",
    status: int = 200,
) -> HttpResponse:
    values = {
        "name": resource.name,
        "kind": resource.kind,
        "user": resource.user_id or "",
        "timezone": resource.timezone,
        "color": resource.color,
        "is_active": resource.is_active,
    }
    context = {
        "resource": resource,
        "rules": list(AvailabilityRule.objects.filter(resource=resource)),
        "exceptions": list(AvailabilityException.objects.filter(resource=resource)),
        "members": _members(request.tenant),
        "kinds": Resource.Kind.choices,
        "exception_kinds": AvailabilityException.Kind.choices,
        "form": form or {"values": values, "errors": {}},
        "hours_form": hours_form or {"values": {}, "errors": {}},
        "exception_form": exception_form or {"values": {"kind": "closed"}, "errors": {}},
        "new_feed_url": new_feed_url,
    }
    return _render(request, "resource.html", context, status)


@require_http_methods(["GET", "POST"])
@require_permission(PERMISSION)
def resource_edit(request: HttpRequest, pk: int) -> HttpResponse:
    resource = _resource(request, pk)
    if request.method == "GET":
        return _resource_page(request, resource)
    try:
        _save_resource(request, resource)
    except ActionError as exc:
        errors, status = _refused(request, exc)
        form = {"values": request.POST.dict(), "errors": errors}
        return _resource_page(request, _resource(request, pk), form=form, status=status)
    messages.success(request, f"Resource “{resource.name}” saved.")
    return redirect("settings:calendar-resource", pk=resource.pk)


@require_POST
@require_permission(PERMISSION)
def resource_delete(request: HttpRequest, pk: int) -> HttpResponse:
    resource = _resource(request, pk)
    if do_delete_resource(resource, acting_user=request.user):
        messages.success(request, f"Resource “{resource.name}” deleted.")
    else:
        messages.success(
            request,
            f"“{resource.name}” has appointments, so it was deactivated instead of deleted: "
            "it takes no new bookings and its history stays.",
        )
    return redirect("settings:calendar")


@require_POST
@require_permission(PERMISSION)
def hours_add(request: HttpRequest, pk: int) -> HttpResponse:
    resource = _resource(request, pk)
    try:
        weekday = _whole_number(request.POST, "weekday")
        start, end = _time(request.POST, "start_time"), _time(request.POST, "end_time")
        current = [
            (rule.weekday, rule.start_time, rule.end_time)
            for rule in AvailabilityRule.objects.filter(resource=resource)
        ]
        do_set_weekly_availability(resource, [*current, (weekday, start, end)])
    except (ActionError, FormInvalid) as exc:
        errors, status = _refused(request, exc)
        hours_form = {"values": request.POST.dict(), "errors": errors}
        return _resource_page(request, resource, hours_form=hours_form, status=status)
    messages.success(request, f"{WEEKDAYS[weekday]} {start:%H:%M}-{end:%H:%M} added.")
    return redirect("settings:calendar-resource", pk=resource.pk)


@require_POST
@require_permission(PERMISSION)
def hours_remove(request: HttpRequest, pk: int, rule_pk: int) -> HttpResponse:
    resource = _resource(request, pk)
    removed = get_in_tenant(AvailabilityRule, request.tenant, pk=rule_pk, resource=resource)
    do_set_weekly_availability(
        resource,
        [
            (rule.weekday, rule.start_time, rule.end_time)
            for rule in AvailabilityRule.objects.filter(resource=resource).exclude(pk=removed.pk)
        ],
    )
    messages.success(
        request,
        f"{WEEKDAYS[removed.weekday]} {removed.start_time:%H:%M}-{removed.end_time:%H:%M} removed.",
    )
    return redirect("settings:calendar-resource", pk=resource.pk)


@require_POST
@require_permission(PERMISSION)
def exception_add(request: HttpRequest, pk: int) -> HttpResponse:
    resource = _resource(request, pk)
    data = request.POST
    try:
        exception = do_add_availability_exception(
            resource,
            start_date=_date(data, "start_date"),
            end_date=_date(data, "end_date", required=False),
            kind=data.get("kind", AvailabilityException.Kind.CLOSED),
            start_time=_time(data, "start_time", required=False),
            end_time=_time(data, "end_time", required=False),
            reason=data.get("reason", ""),
        )
    except (ActionError, FormInvalid) as exc:
        errors, status = _refused(request, exc)
        exception_form = {"values": data.dict(), "errors": errors}
        return _resource_page(request, resource, exception_form=exception_form, status=status)
    what = "Closure" if exception.kind == AvailabilityException.Kind.CLOSED else "Extra hours"
    messages.success(request, f"{what} from {exception.start_date:%Y-%m-%d} added.")
    return redirect("settings:calendar-resource", pk=resource.pk)


@require_POST
@require_permission(PERMISSION)
def exception_remove(request: HttpRequest, pk: int, exception_pk: int) -> HttpResponse:
    resource = _resource(request, pk)
    exception = get_in_tenant(
        AvailabilityException, request.tenant, pk=exception_pk, resource=resource
    )
    do_remove_availability_exception(exception)
    messages.success(request, f"The exception from {exception.start_date:%Y-%m-%d} removed.")
    return redirect("settings:calendar-resource", pk=resource.pk)


@require_POST
@require_permission(PERMISSION)
def resource_feed(request: HttpRequest, pk: int) -> HttpResponse:
    """A new secret feed URL, shown on this response only (only its hash is kept), or none."""
    resource = _resource(request, pk)
    raw = do_set_ics_token(resource, enabled=request.POST.get("enabled") != "off")
    if raw is None:
        messages.success(request, f"The calendar feed of “{resource.name}” is off.")
        return redirect("settings:calendar-resource", pk=resource.pk)
    return _resource_page(request, resource, new_feed_url=feed_url(raw))


# --- appointment types --------------------------------------------------------------------------


def _save_type(request: HttpRequest, appointment_type: AppointmentType | None) -> AppointmentType:
    data = request.POST
    numbers = {name: _whole_number(data, name) for name in TYPE_NUMBERS}
    ids = set(data.getlist("resources"))
    resources = list(
        Resource.objects.for_tenant(request.tenant).filter(
            pk__in=[int(i) for i in ids if i.isdigit()]
        )
    )
    if len(resources) != len(ids):
        raise FormInvalid("resources", "Choose among this tenant's resources.")
    return do_save_appointment_type(
        request.tenant,
        name=data.get("name", ""),
        color=data.get("color") or None,
        resources=resources,
        is_active=data.get("is_active") == "on",
        appointment_type=appointment_type,
        **numbers,
    )


def _type_form(request: HttpRequest, errors: dict) -> dict:
    return {
        "values": request.POST.dict(),
        "errors": errors,
        "resource_ids": [int(i) for i in request.POST.getlist("resources") if i.isdigit()],
    }


@require_POST
@require_permission(PERMISSION)
def type_create(request: HttpRequest) -> HttpResponse:
    try:
        appointment_type = _save_type(request, None)
    except (ActionError, FormInvalid) as exc:
        errors, status = _refused(request, exc)
        return _list_page(request, type_form=_type_form(request, errors), status=status)
    messages.success(request, f"Appointment type “{appointment_type.name}” added.")
    return redirect("settings:calendar")


def _appointment_type(request: HttpRequest, pk: int) -> AppointmentType:
    return get_in_tenant(AppointmentType, request.tenant, pk=pk)


def _type_page(
    request: HttpRequest,
    appointment_type: AppointmentType,
    *,
    form: dict | None = None,
    status: int = 200,
) -> HttpResponse:
    if form is None:
        values = {name: getattr(appointment_type, name) for name in TYPE_DEFAULTS}
        values["name"] = appointment_type.name
        ids = list(appointment_type.resources.values_list("pk", flat=True))
        form = {"values": values, "errors": {}, "resource_ids": ids}
    context = {
        "appointment_type": appointment_type,
        "resources": list(Resource.objects.for_tenant(request.tenant).order_by("name", "id")),
        "type_form": form,
    }
    return _render(request, "type.html", context, status)


@require_http_methods(["GET", "POST"])
@require_permission(PERMISSION)
def type_edit(request: HttpRequest, pk: int) -> HttpResponse:
    appointment_type = _appointment_type(request, pk)
    if request.method == "GET":
        return _type_page(request, appointment_type)
    try:
        _save_type(request, appointment_type)
    except (ActionError, FormInvalid) as exc:
        errors, status = _refused(request, exc)
        return _type_page(
            request,
            _appointment_type(request, pk),
            form=_type_form(request, errors),
            status=status,
        )
    messages.success(request, f"Appointment type “{appointment_type.name}” saved.")
    return redirect("settings:calendar")


@require_POST
@require_permission(PERMISSION)
def type_delete(request: HttpRequest, pk: int) -> HttpResponse:
    appointment_type = _appointment_type(request, pk)
    if do_delete_appointment_type(appointment_type, acting_user=request.user):
        messages.success(request, f"Appointment type “{appointment_type.name}” deleted.")
    else:
        messages.success(
            request,
            f"“{appointment_type.name}” was booked before, so it was deactivated instead of "
            "deleted: it is not offered any more and its appointments keep it.",
        )
    return redirect("settings:calendar")
