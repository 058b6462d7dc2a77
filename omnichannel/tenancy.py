"""Tenant resolution, tenant-scoped lookups and permission checks.

Every tenant-owned model inherits :class:`omnichannel.models.TenantOwned`; views reach rows through
``Model.objects.for_tenant(tenant)`` or :func:`get_in_tenant`, which answers the same 404 for
"missing" and "belongs to another tenant".
"""

import zoneinfo
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from omnichannel.models import ApiToken, Membership, Tenant

SESSION_KEY = "centro_tenant_id"


def get_in_tenant[M: models.Model](
    model_or_qs: type[M] | models.QuerySet, tenant: Tenant, **lookup: Any
) -> M:
    """The row matching ``lookup`` inside ``tenant``; 404 when missing or not the tenant's."""
    queryset = model_or_qs if isinstance(model_or_qs, models.QuerySet) else model_or_qs.objects
    try:
        return queryset.filter(tenant=tenant).get(**lookup)
    except (queryset.model.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404(f"No {queryset.model._meta.verbose_name} found.") from exc


def memberships_for(user) -> models.QuerySet[Membership]:
    return (
        Membership.objects.filter(user=user, tenant__is_active=True)
        .select_related("tenant", "role")
        .order_by("tenant__name")
    )


def choose_membership(user, wanted_tenant_id: int | None) -> Membership | None:
    """The membership for ``wanted_tenant_id``, else the user's last used tenant, else the first.

    Reads only: HTTP requests remember the choice in the session, websockets reuse it.
    """
    memberships = memberships_for(user)
    membership = (
        memberships.filter(tenant_id=wanted_tenant_id).first() if wanted_tenant_id else None
    )
    if membership is None:
        preference = getattr(user, "preference", None)
        if preference is not None and preference.last_tenant_id:
            membership = memberships.filter(tenant_id=preference.last_tenant_id).first()
    if membership is None:
        membership = memberships.first()
    return membership


def resolve_membership(request: HttpRequest) -> Membership | None:
    """The membership for the tenant chosen in the session (see :func:`choose_membership`)."""
    wanted = request.session.get(SESSION_KEY)
    membership = choose_membership(request.user, wanted)
    if membership is not None and wanted != membership.tenant_id:
        request.session[SESSION_KEY] = membership.tenant_id
    return membership


def user_has_totp(user) -> bool:
    from allauth.mfa.models import Authenticator

    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


def mfa_setup_pending(membership: Membership, user) -> bool:
    """True while the tenant requires MFA that the user has not set up: no tenant data yet."""
    return membership.tenant.require_mfa and not user_has_totp(user)


# Paths a member of an MFA-enforcing tenant may still reach before setting MFA up.
MFA_SETUP_ALLOWED_PREFIXES = ("/accounts/", "/static/", "/healthz", "/readyz", "/invitations/")


class TenantMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.tenant = None
        request.membership = None
        if request.user.is_authenticated:
            membership = resolve_membership(request)
            if membership is not None:
                request.membership = membership
                request.tenant = membership.tenant
                if not request.path.startswith(MFA_SETUP_ALLOWED_PREFIXES) and mfa_setup_pending(
                    membership, request.user
                ):
                    messages.warning(
                        request,
                        f"{membership.tenant.name} requires two-factor authentication. "
                        "Set up an authenticator app to continue.",
                    )
                    return redirect("mfa_activate_totp")
        return self.get_response(request)


class MissingPermission(PermissionDenied):
    """The project's permission error: a refusal for lack of ``codename``, or (``codename``
    None) of a rule about who may act, such as "only owners". Pages and the API both answer it
    with 403 and audit it (``security.permission_denied``), naming the codename when there is
    one."""

    def __init__(self, message: str, *, codename: str | None = None) -> None:
        super().__init__(message)
        self.codename = codename


# Who performs an action: a member (pages) or an API token. None is the system itself
# (commands, Celery tasks, automation), which is never refused.
Acting = Membership | ApiToken | None


def acting_member(tenant_id: int, user) -> Membership | None:
    """``user``'s membership of the tenant (with its role), to pass to an action as ``acting``."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return Membership.objects.filter(tenant_id=tenant_id, user=user).select_related("role").first()


def acting_for(tenant_id: int, *, acting_user=None, acting_token: ApiToken | None = None) -> Acting:
    """The member or token behind an action that was told ``acting_user`` / ``acting_token``.

    A signed-in user who is not (or no longer) a member of the tenant acts with no permission
    at all: :func:`require_acting_permission` refuses them."""
    if acting_token is not None:
        return acting_token
    if acting_user is None:
        return None
    membership = acting_member(tenant_id, acting_user)
    return membership if membership is not None else NotAMember(acting_user)


class NotAMember:
    """A user acting in a tenant they do not belong to: holds no permission there."""

    def __init__(self, user) -> None:
        self.user = user

    def has_permission(self, codename: str) -> bool:
        return False

    is_owner = False


def require_acting_permission(acting: "Acting | NotAMember", codename: str, *, doing: str) -> None:
    """The one check an action makes for a permission that depends on its arguments (assign
    to someone else, write a note rather than a reply, delete in bulk…): raises
    :class:`MissingPermission` naming ``codename`` unless ``acting`` holds it. ``doing`` says
    what was refused ("assign conversations to other agents"). The system (None) may do
    anything."""
    from omnichannel.permissions import is_known

    if not is_known(codename):
        raise RuntimeError(f"An action requires an undeclared permission {codename!r}.")
    if acting is None or acting.has_permission(codename):
        return
    raise MissingPermission(_refusal_text(acting, doing, codename), codename=codename)


def require_owner(acting: "Acting | NotAMember", *, doing: str) -> None:
    """Some things only an owner (the built-in Owner role) may do, whatever a custom role
    holds: touch another owner, their tokens, the tenant itself."""
    if acting is None or acting.is_owner:
        return
    raise MissingPermission(f"Only an owner can {doing}.")


def _refusal_text(acting: "Acting | NotAMember", doing: str, codename: str) -> str:
    if isinstance(acting, ApiToken):
        return f"This token's role ({acting.role.name}) cannot {doing} (it lacks “{codename}”)."
    if isinstance(acting, NotAMember):
        return f"You are not a member of this tenant, so you cannot {doing}."
    return (
        f"Your role ({acting.role.name}) cannot {doing} (it needs the “{codename}” "
        "permission). Ask a tenant admin."
    )


def require_permission(codename: str) -> Callable:
    """View decorator: a signed-in member of the current tenant holding ``codename``.

    Anonymous users go to the login page; users without a tenant see the "no tenant" page;
    members without the permission get a 403 that names it.
    """
    from omnichannel.permissions import is_known

    # The registry fills in AppConfig.ready(), after views are imported: check on each call.
    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect(f"{reverse(settings.LOGIN_URL)}?next={request.get_full_path()}")
            if request.membership is None:
                return redirect("no-tenant")
            if not is_known(codename):
                raise RuntimeError(f"View requires an undeclared permission {codename!r}.")
            if not request.membership.has_permission(codename):
                raise MissingPermission(
                    f"Your role ({request.membership.role.name}) does not allow this "
                    f"(it needs the “{codename}” permission). Ask a tenant admin.",
                    codename=codename,
                )
            return view(request, *args, **kwargs)

        wrapper.required_permission = codename  # type: ignore[attr-defined]
        return wrapper

    return decorator


def tenant_zone(tenant: Tenant) -> zoneinfo.ZoneInfo:
    """The tenant's time zone, UTC when it is not a valid one."""
    try:
        return zoneinfo.ZoneInfo(tenant.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")
