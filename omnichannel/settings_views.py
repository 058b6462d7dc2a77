"""The tenant settings area's core pages: general, members, roles, labels, API tokens, audit
trail. The apps add theirs (``omnichannel.settings_nav``): canned responses, teams and inboxes
(inbox), notifications.

Views parse input, call one action and render; ``ActionError`` messages reach the user with
the status that fits (400 invalid, 403 forbidden, 404 not found, 409 conflict, 410 gone).
"""

from allauth.mfa.models import Authenticator
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Exists, OuterRef
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from omnichannel import actions, audit, permissions
from omnichannel.actions import ACTION_ERROR_STATUS, ActionError
from omnichannel.forms import (
    ApiTokenForm,
    AuditFilterForm,
    InviteForm,
    LabelForm,
    MemberRoleForm,
    RoleForm,
    TenantSettingsForm,
)
from omnichannel.labels import do_create_label, do_delete_label
from omnichannel.models import ApiToken, Invitation, Label, Membership, Role
from omnichannel.permissions import BuiltinRole
from omnichannel.settings_nav import page_parts, sections
from omnichannel.tenancy import SESSION_KEY, get_in_tenant, require_permission

AUDIT_PAGE_SIZE = 50


def settings_nav(request: HttpRequest, current: str) -> list[dict]:
    """The settings sections (the core's and the apps', see ``omnichannel.settings_nav``) the
    member's role may see, ``current`` marked."""
    codenames = request.membership.role.codenames()
    return [
        {
            "url": reverse(f"settings:{section.key}"),
            "label": section.label,
            "current": section.key == current,
        }
        for section in sections()
        if section.permission in codenames
    ]


def _page(
    request: HttpRequest, template: str, context: dict, *, current: str, status: int = 200
) -> HttpResponse:
    context = {"settings_nav": settings_nav(request, current), "tenant": request.tenant, **context}
    return render(request, f"omnichannel/settings/{template}", context, status=status)


def refused_status(request: HttpRequest, exc: ActionError) -> int:
    """Show the action's message and return the status that fits its code."""
    messages.error(request, exc.message)
    return ACTION_ERROR_STATUS.get(exc.code, 400)


def show_form_errors(request: HttpRequest, form) -> None:
    for error in form.errors.get("__all__", []):
        messages.error(request, error)
    for name, errors in form.errors.items():
        if name != "__all__":
            messages.error(request, f"{form.fields[name].label or name.capitalize()}: {errors[0]}")


@require_GET
@require_permission("tenant.view_settings")
def index(request: HttpRequest) -> HttpResponse:
    return redirect("settings:general")


# --- General ----------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@require_permission("tenant.view_settings")
def general(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _update_general(request)
    return _general_page(request, _settings_form(request.tenant))


def _settings_form(tenant) -> TenantSettingsForm:
    return TenantSettingsForm(
        initial={
            "name": tenant.name,
            "timezone": tenant.timezone,
            "default_region": tenant.default_region,
            "contact_hourly_limit": tenant.contact_hourly_limit,
            "contact_reply_hourly_limit": tenant.contact_reply_hourly_limit,
            "require_mfa": tenant.require_mfa,
        }
    )


def _general_page(request: HttpRequest, form, *, status: int = 200) -> HttpResponse:
    membership = request.membership
    can_manage = membership.has_permission("tenant.manage_settings")
    if not can_manage:
        for field in form.fields.values():
            field.disabled = True
    # The danger zone: owners only (the permission, and the built-in Owner role).
    can_delete = (
        membership.has_permission("tenant.delete") and membership.role.builtin == BuiltinRole.OWNER
    )
    return _page(
        request,
        "general.html",
        {"form": form, "can_manage": can_manage, "can_delete": can_delete},
        current="general",
        status=status,
    )


@require_POST
@require_permission("tenant.delete")
def tenant_delete(request: HttpRequest) -> HttpResponse:
    """Delete the tenant once its name was typed; the member lands in another tenant of theirs
    or on the page saying they have none."""
    name = request.tenant.name
    try:
        actions.do_delete_tenant(
            request.tenant,
            confirm_name=request.POST.get("confirm_name", ""),
            acting=request.membership,
            request=request,
        )
    except ActionError as exc:
        status = refused_status(request, exc)
        return _general_page(request, _settings_form(request.tenant), status=status)
    request.session.pop(SESSION_KEY, None)
    messages.success(request, f"The tenant “{name}” and all its data were deleted.")
    return redirect("home")


@require_permission("tenant.manage_settings")
def _update_general(request: HttpRequest) -> HttpResponse:
    form = TenantSettingsForm(request.POST)
    if not form.is_valid():
        return _general_page(request, form, status=400)
    try:
        actions.do_update_tenant_settings(
            request.tenant,
            name=form.cleaned_data["name"],
            timezone_name=form.cleaned_data["timezone"],
            default_region=form.cleaned_data["default_region"],
            contact_hourly_limit=form.cleaned_data["contact_hourly_limit"],
            contact_reply_hourly_limit=form.cleaned_data["contact_reply_hourly_limit"],
            require_mfa=form.cleaned_data["require_mfa"],
            acting=request.membership,
            request=request,
        )
    except ActionError as exc:
        return _general_page(request, form, status=refused_status(request, exc))
    messages.success(request, "Settings saved.")
    return redirect("settings:general")


# --- Members and invitations ------------------------------------------------------------------


def _members_page(
    request: HttpRequest, *, invite_form: InviteForm | None = None, status: int = 200
) -> HttpResponse:
    tenant = request.tenant
    has_totp = Authenticator.objects.filter(user=OuterRef("user_id"), type=Authenticator.Type.TOTP)
    members = (
        Membership.objects.filter(tenant=tenant)
        .select_related("user", "role")
        .annotate(has_mfa=Exists(has_totp))
        .order_by("user__email")
    )
    invitations = (
        Invitation.objects.filter(tenant=tenant, accepted_at__isnull=True, revoked_at__isnull=True)
        .select_related("role", "invited_by")
        .order_by("-created_at")
    )
    roles = list(Role.objects.filter(tenant=tenant).order_by("id"))
    context = {
        "members": members,
        "invitations": invitations,
        "roles": roles,
        "invite_form": invite_form or InviteForm(tenant=tenant),
        "can_invite": request.membership.has_permission("members.invite"),
        "can_manage": request.membership.has_permission("members.manage"),
    }
    return _page(request, "members.html", context, current="members", status=status)


@require_GET
@require_permission("members.view")
def members(request: HttpRequest) -> HttpResponse:
    return _members_page(request)


@require_POST
@require_permission("members.invite")
def member_invite(request: HttpRequest) -> HttpResponse:
    form = InviteForm(request.POST, tenant=request.tenant)
    if not form.is_valid():
        return _members_page(request, invite_form=form, status=400)
    try:
        invitation, _ = actions.do_invite_member(
            request.tenant,
            email=form.cleaned_data["email"],
            role=form.cleaned_data["role"],
            acting=request.membership,
            request=request,
        )
    except ActionError as exc:
        return _members_page(request, invite_form=form, status=refused_status(request, exc))
    messages.success(request, f"Invitation sent to {invitation.email}.")
    return redirect("settings:members")


@require_POST
@require_permission("members.manage")
def member_role(request: HttpRequest, pk: int) -> HttpResponse:
    membership = get_in_tenant(
        Membership.objects.select_related("user", "role"), request.tenant, pk=pk
    )
    form = MemberRoleForm(request.POST, tenant=request.tenant)
    if not form.is_valid():
        show_form_errors(request, form)
        return _members_page(request, status=400)
    try:
        actions.do_change_member_role(
            membership, role=form.cleaned_data["role"], acting=request.membership, request=request
        )
    except ActionError as exc:
        return _members_page(request, status=refused_status(request, exc))
    messages.success(request, f"{membership.user.email} is now {membership.role.name}.")
    return redirect("settings:members")


@require_POST
@require_permission("members.manage")
def member_remove(request: HttpRequest, pk: int) -> HttpResponse:
    membership = get_in_tenant(
        Membership.objects.select_related("user", "role"), request.tenant, pk=pk
    )
    try:
        actions.do_remove_member(membership, acting=request.membership, request=request)
    except ActionError as exc:
        return _members_page(request, status=refused_status(request, exc))
    messages.success(request, f"{membership.user.email} was removed from {request.tenant.name}.")
    return redirect("settings:members")


@require_POST
@require_permission("members.invite")
def invitation_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    invitation = get_in_tenant(Invitation, request.tenant, pk=pk)
    actions.do_revoke_invitation(invitation, acting=request.membership, request=request)
    messages.success(request, f"The invitation of {invitation.email} was revoked.")
    return redirect("settings:members")


# --- Roles ------------------------------------------------------------------------------------


def _roles_page(request: HttpRequest, *, status: int = 200) -> HttpResponse:
    tenant_roles = (
        Role.objects.filter(tenant=request.tenant)
        .annotate(member_count=Count("memberships"))
        .order_by("id")
    )
    return _page(
        request,
        "roles.html",
        {
            "builtin_roles": [r for r in tenant_roles if r.is_builtin],
            "custom_roles": [r for r in tenant_roles if not r.is_builtin],
        },
        current="roles",
        status=status,
    )


@require_GET
@require_permission("roles.manage")
def roles(request: HttpRequest) -> HttpResponse:
    return _roles_page(request)


def _role_form_page(
    request: HttpRequest, form: RoleForm, *, role: Role | None = None, status: int = 200
) -> HttpResponse:
    return _page(
        request,
        "role_form.html",
        {
            "form": form,
            "role": role,
            "groups": permissions.grouped(),
            "selected": role.codenames() if role and role.is_builtin else form.selected(),
        },
        current="roles",
        status=status,
    )


@require_http_methods(["GET", "POST"])
@require_permission("roles.manage")
def role_create(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _role_form_page(request, RoleForm())
    form = RoleForm(request.POST)
    if not form.is_valid():
        return _role_form_page(request, form, status=400)
    try:
        role = actions.do_create_role(
            request.tenant,
            name=form.cleaned_data["name"],
            description=form.cleaned_data["description"],
            codenames=form.cleaned_data["permissions"],
            acting=request.membership,
            request=request,
        )
    except ActionError as exc:
        return _role_form_page(request, form, status=refused_status(request, exc))
    messages.success(request, f"Role “{role.name}” created.")
    return redirect("settings:roles")


@require_http_methods(["GET", "POST"])
@require_permission("roles.manage")
def role_edit(request: HttpRequest, pk: int) -> HttpResponse:
    role = get_in_tenant(Role, request.tenant, pk=pk)
    if request.method == "GET":
        initial = {
            "name": role.name,
            "description": role.description,
            "permissions": sorted(role.permissions),
        }
        return _role_form_page(request, RoleForm(initial=initial), role=role)
    form = RoleForm(request.POST)
    if not form.is_valid():
        return _role_form_page(request, form, role=role, status=400)
    try:
        actions.do_update_role(
            role,
            name=form.cleaned_data["name"],
            codenames=form.cleaned_data["permissions"],
            acting=request.membership,
            request=request,
        )
    except ActionError as exc:
        return _role_form_page(request, form, role=role, status=refused_status(request, exc))
    messages.success(request, f"Role “{role.name}” saved.")
    return redirect("settings:roles")


@require_POST
@require_permission("roles.manage")
def role_delete(request: HttpRequest, pk: int) -> HttpResponse:
    role = get_in_tenant(Role, request.tenant, pk=pk)
    try:
        actions.do_delete_role(role, acting=request.membership, request=request)
    except ActionError as exc:
        return _roles_page(request, status=refused_status(request, exc))
    messages.success(request, f"Role “{role.name}” deleted.")
    return redirect("settings:roles")


# --- Labels and canned responses ---------------------------------------------------------------


def labels_page(
    request: HttpRequest,
    *,
    label_form: LabelForm | None = None,
    status: int = 200,
    **part_state,
) -> HttpResponse:
    """The labels, then the parts other apps add to the page (the inbox: canned responses);
    an app's view that renders the page again passes its part's ``part_state``."""
    tenant = request.tenant
    labels = Label.objects.for_tenant(tenant).annotate(used=Count("conversation_labels"))
    context = {
        "labels": labels.order_by("name", "id"),
        "label_form": label_form or LabelForm(),
        "can_manage_labels": request.membership.has_permission("tenant.manage_settings"),
        "part_templates": [],
    }
    for part in page_parts("labels"):
        context.update(part.context(request, **part_state))
        context["part_templates"].append(part.template)
    return _page(request, "labels.html", context, current="labels", status=status)


@require_GET
@require_permission("canned_responses.manage")
def labels(request: HttpRequest) -> HttpResponse:
    return labels_page(request)


@require_POST
@require_permission("canned_responses.manage")
@require_permission("tenant.manage_settings")
def label_create(request: HttpRequest) -> HttpResponse:
    form = LabelForm(request.POST)
    if not form.is_valid():
        show_form_errors(request, form)
        return labels_page(request, label_form=form, status=400)
    try:
        label = do_create_label(
            request.tenant, name=form.cleaned_data["name"], color=form.cleaned_data["color"]
        )
    except ActionError as exc:
        return labels_page(request, label_form=form, status=refused_status(request, exc))
    messages.success(request, f"Label “{label.name}” created.")
    return redirect("settings:labels")


@require_POST
@require_permission("canned_responses.manage")
@require_permission("tenant.manage_settings")
def label_delete(request: HttpRequest, pk: int) -> HttpResponse:
    label = get_in_tenant(Label, request.tenant, pk=pk)
    do_delete_label(label)
    messages.success(request, f"Label “{label.name}” deleted; it was taken off its conversations.")
    return redirect("settings:labels")


# --- API tokens -------------------------------------------------------------------------------


def _api_tokens_page(
    request: HttpRequest, *, form: ApiTokenForm | None = None, status: int = 200
) -> HttpResponse:
    tokens = (
        ApiToken.objects.filter(tenant=request.tenant)
        .select_related("role", "created_by")
        .order_by("-created_at")
    )
    context = {
        "tokens": tokens,
        "form": form or ApiTokenForm(tenant=request.tenant),
        # Only owners revoke owners' tokens (do_revoke_api_token refuses the others).
        "is_owner": request.membership.is_owner,
    }
    return _page(request, "api_tokens.html", context, current="api-tokens", status=status)


@require_GET
@require_permission("api_tokens.manage")
def api_tokens(request: HttpRequest) -> HttpResponse:
    return _api_tokens_page(request)


@never_cache
@require_POST
@require_permission("api_tokens.manage")
def api_token_create(request: HttpRequest) -> HttpResponse:
    form = ApiTokenForm(request.POST, tenant=request.tenant)
    if not form.is_valid():
        return _api_tokens_page(request, form=form, status=400)
    try:
        token, raw = actions.do_create_api_token(
            request.tenant,
            name=form.cleaned_data["name"],
            role=form.cleaned_data["role"],
            acting=request.membership,
            request=request,
        )
    except ActionError as exc:
        return _api_tokens_page(request, form=form, status=refused_status(request, exc))
    # The raw value exists only in this response: it is never stored nor shown again.
    return _page(
        request,
        "api_token_created.html",
        {"token": token, "raw_token": raw},
        current="api-tokens",
        status=201,
    )


@require_POST
@require_permission("api_tokens.manage")
def api_token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_in_tenant(ApiToken, request.tenant, pk=pk)
    actions.do_revoke_api_token(token, acting=request.membership, request=request)
    messages.success(request, f"Token “{token.name}” revoked; it no longer works.")
    return redirect("settings:api-tokens")


# --- Audit trail ------------------------------------------------------------------------------


@require_GET
@require_permission("audit.view")
def audit_trail(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET)
    events = audit.audit_events_for_tenant(request.tenant).order_by("-created_at", "-id")
    action = form.cleaned_data["action"] if form.is_valid() else ""
    if action:
        events = events.filter(action=action)
    page = Paginator(events, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    return _page(
        request,
        "audit.html",
        {"form": form, "page": page, "action": action},
        current="audit",
    )
