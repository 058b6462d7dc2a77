"""Pages of lifecycle notifications: rules, templates and event types under Settings; the log of
a rule and of a contact; cancelling a scheduled notification; the public unsubscribe link."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from campaigns.services import FieldErrors
from contacts.models import Contact
from notifications.actions import (
    do_cancel_notification,
    do_save_event_type,
    do_save_rule,
    do_save_template,
)
from notifications.forms import EventTypeForm, RuleForm, TemplateForm
from notifications.models import Notification, NotificationRule, NotificationTemplate
from notifications.selectors import (
    event_types_for_tenant,
    notifications_for_tenant,
    rule_list_for_tenant,
    template_list_for_tenant,
)
from notifications.unsubscribe import BadUnsubscribeLink, do_unsubscribe, read_token
from omnichannel.actions import ACTION_ERROR_STATUS, ActionError
from omnichannel.settings_views import settings_nav
from omnichannel.tenancy import get_in_tenant, require_permission

LOG_PAGE_SIZE = 50
NAV_KEY = "notification-rules"


def _settings_page(request: HttpRequest, template: str, context: dict, *, status: int = 200):
    codenames = request.membership.role.codenames()
    context = {
        "settings_nav": settings_nav(request, NAV_KEY),
        "tenant": request.tenant,
        "can_manage": "notifications.manage" in codenames,
        **context,
    }
    return render(request, f"notifications/{template}", context, status=status)


def _apply_errors(form, exc: FieldErrors) -> None:
    for field, reason in exc.errors.items():
        form.add_error(
            field if field in form.fields else None,
            f"{field}: {reason}" if field not in form.fields else reason,
        )


# --- rules ---------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@require_permission("notifications.view")
def rules(request: HttpRequest) -> HttpResponse:
    tenant = request.tenant
    form = RuleForm(tenant=tenant)
    status = 200
    if request.method == "POST":
        if not request.membership.has_permission("notifications.manage"):
            return _forbidden(request)
        form, saved = _save_rule(request, None)
        if saved is not None:
            messages.success(request, f"Rule “{saved.name}” created.")
            return redirect("settings:notification-rules")
        status = 400
    context = {
        "rules": rule_list_for_tenant(tenant),
        "event_types": event_types_for_tenant(tenant),
        "form": form,
        "event_type_form": EventTypeForm(),
    }
    return _settings_page(request, "rules.html", context, status=status)


def _save_rule(request: HttpRequest, rule: NotificationRule | None):
    form = RuleForm(request.POST, tenant=request.tenant)
    if not form.is_valid():
        return form, None
    data = form.cleaned_data
    try:
        saved = do_save_rule(
            request.tenant,
            name=data["name"],
            event_type=data["event_type"],
            template=data["template"],
            channels=data["channels"],
            timing=data["timing"],
            offset=data["offset"] or 0,
            unit=data["unit"] or NotificationRule.Unit.DAYS,
            date_key=data["date_key"],
            quiet_hours=data["quiet_hours"],
            quiet_start=data["quiet_start"],
            quiet_end=data["quiet_end"],
            is_active=data["is_active"],
            rule=rule,
        )
    except FieldErrors as exc:
        _apply_errors(form, exc)
        return form, None
    return form, saved


def _forbidden(request: HttpRequest) -> HttpResponse:
    from django.core.exceptions import PermissionDenied

    raise PermissionDenied(
        f"Your role ({request.membership.role.name}) does not allow this (it needs the "
        "“notifications.manage” permission)."
    )


@require_http_methods(["GET", "POST"])
@require_permission("notifications.view")
def rule_detail(request: HttpRequest, pk: int) -> HttpResponse:
    rule = get_in_tenant(
        NotificationRule.objects.select_related("event_type", "template"), request.tenant, pk=pk
    )
    status = 200
    if request.method == "POST":
        if not request.membership.has_permission("notifications.manage"):
            return _forbidden(request)
        form, saved = _save_rule(request, rule)
        if saved is not None:
            messages.success(request, f"Rule “{saved.name}” saved.")
            return redirect("settings:notification-rule", pk=rule.pk)
        status = 400
    else:
        form = RuleForm(initial=RuleForm.initial_for(rule), tenant=request.tenant)
    log = Paginator(notifications_for_tenant(request.tenant, rule_id=rule.pk), LOG_PAGE_SIZE)
    page = log.get_page(request.GET.get("page"))
    context = {"rule": rule, "form": form, "page": page}
    return _settings_page(request, "rule.html", context, status=status)


@require_GET
@require_permission("notifications.view")
def log(request: HttpRequest) -> HttpResponse:
    """Every notification of the tenant, scheduled ones first by default (admins cancel here)."""
    status = request.GET.get("status", Notification.Status.SCHEDULED)
    if status not in Notification.Status.values:
        status = ""
    rows = notifications_for_tenant(request.tenant, status=status or None)
    page = Paginator(rows, LOG_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"page": page, "status": status, "statuses": Notification.Status.choices}
    return _settings_page(request, "log.html", context)


@require_POST
@require_permission("notifications.manage")
def event_type_create(request: HttpRequest) -> HttpResponse:
    form = EventTypeForm(request.POST)
    if form.is_valid():
        try:
            event_type = do_save_event_type(request.tenant, **form.cleaned_data)
        except FieldErrors as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Event type “{event_type.key}” created.")
    else:
        for name, errors in form.errors.items():
            messages.error(request, f"{name}: {errors[0]}")
    return redirect(reverse("settings:notification-rules") + "#event-types")


# --- templates -----------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@require_permission("notifications.view")
def templates(request: HttpRequest) -> HttpResponse:
    status = 200
    form = TemplateForm()
    if request.method == "POST":
        if not request.membership.has_permission("notifications.manage"):
            return _forbidden(request)
        form, saved = _save_template(request, None)
        if saved is not None:
            messages.success(request, f"Template “{saved}” created.")
            return redirect("settings:notification-templates")
        status = 400
    context = {"templates": template_list_for_tenant(request.tenant), "form": form}
    return _settings_page(request, "templates.html", context, status=status)


def _save_template(request: HttpRequest, template: NotificationTemplate | None):
    form = TemplateForm(request.POST)
    if not form.is_valid():
        return form, None
    try:
        saved = do_save_template(request.tenant, template=template, **form.cleaned_data)
    except FieldErrors as exc:
        _apply_errors(form, exc)
        return form, None
    return form, saved


@require_http_methods(["GET", "POST"])
@require_permission("notifications.view")
def template_detail(request: HttpRequest, pk: int) -> HttpResponse:
    template = get_in_tenant(NotificationTemplate, request.tenant, pk=pk)
    status = 200
    if request.method == "POST":
        if not request.membership.has_permission("notifications.manage"):
            return _forbidden(request)
        form, saved = _save_template(request, template)
        if saved is not None:
            messages.success(request, f"Template “{saved}” saved.")
            return redirect("settings:notification-templates")
        status = 400
    else:
        form = TemplateForm(
            initial={
                "name": template.name,
                "key": template.key,
                "language": template.language,
                "category": template.category,
                "subject": template.subject,
                "body": template.body,
                "body_html": template.body_html,
                "whatsapp_content_sid": template.whatsapp_content_sid,
                "whatsapp_variables": TemplateForm.variables_text(template.whatsapp_variables),
            }
        )
    context = {"template": template, "form": form}
    return _settings_page(request, "template.html", context, status=status)


# --- the contact's log, cancelling ---------------------------------------------------------------


@require_GET
@require_permission("notifications.view")
def contact_log(request: HttpRequest, contact_id: int) -> HttpResponse:
    contact = get_in_tenant(Contact, request.tenant, pk=contact_id)
    log = Paginator(notifications_for_tenant(request.tenant, contact_id=contact.pk), LOG_PAGE_SIZE)
    page = log.get_page(request.GET.get("page"))
    context = {
        "contact": contact,
        "page": page,
        "can_manage": request.membership.has_permission("notifications.manage"),
        "section": "contacts",
    }
    template = "notifications/contact_log.html"
    if request.htmx:
        template += "#log"
    return render(request, template, context)


@require_POST
@require_permission("notifications.manage")
def notification_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    notification = get_in_tenant(Notification, request.tenant, pk=pk)
    status = 200
    try:
        notification = do_cancel_notification(notification, acting_user=request.user)
    except ActionError as exc:
        status = ACTION_ERROR_STATUS.get(exc.code, 400)
        messages.error(request, exc.message)
    else:
        messages.success(request, "The notification was cancelled.")
    if request.htmx:
        row = notifications_for_tenant(request.tenant).get(pk=notification.pk)
        return render(
            request,
            "notifications/contact_log.html#row",
            {"notification": row, "can_manage": True},
            status=status,
        )
    back = request.POST.get("next") or reverse(
        "notifications:contact-log", args=[notification.contact_id]
    )
    if not url_has_allowed_host_and_scheme(back, allowed_hosts=None):
        back = reverse("notifications:contact-log", args=[notification.contact_id])
    return redirect(back)


# --- unsubscribe (public, signed) ----------------------------------------------------------------


@csrf_exempt  # the signed token is the credential; mail clients POST one-click without cookies
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a confirmation button (link scanners must not unsubscribe anyone); POST —
    the button or a mail client's RFC 8058 one-click — records the opt-out."""
    try:
        _contact, channel, sender = read_token(token)
    except BadUnsubscribeLink as exc:
        return render(request, "notifications/unsubscribe.html", {"error": str(exc)}, status=400)
    done = False
    if request.method == "POST":
        do_unsubscribe(token)
        done = True
    context = {"done": done, "channel": channel, "sender": sender, "token": token}
    return render(request, "notifications/unsubscribe.html", context)
