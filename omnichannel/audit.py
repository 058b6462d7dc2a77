"""The audit trail: one row per security-relevant change, written in the caller's transaction.

Actions call :func:`record` with the tenant, the target and what changed. Who acted comes from
the arguments or, when the action runs inside a web request, from that request (the signed-in
user, or the API token that authenticated it): :class:`AuditContextMiddleware` keeps the
current request for the duration of the view, so an action never has to be told who called it
to be audited. Refused attempts (403, 401) go through :func:`record_refusal`, throttled.
"""

import hashlib
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpRequest, HttpResponse

from omnichannel.models import ApiToken, AuditEvent, Tenant

# The request being served, for actions that do not name their actor.
_current_request: ContextVar[HttpRequest | None] = ContextVar("audit_request", default=None)


def client_ip(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def current_request() -> HttpRequest | None:
    return _current_request.get()


class AuditContextMiddleware:
    """Remembers the request while it is served (after authentication and tenancy), and
    audits permission refusals raised by views."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        reset = _current_request.set(request)
        try:
            return self.get_response(request)
        finally:
            _current_request.reset(reset)

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        if isinstance(exception, PermissionDenied):
            record_refusal(
                AuditEvent.Action.PERMISSION_DENIED,
                request=request,
                tenant=getattr(request, "tenant", None),
                data={"permission": getattr(exception, "codename", None)},
            )


def _acting_from(request: HttpRequest | None) -> tuple[Any, ApiToken | None]:
    """The user or the API token behind ``request`` (a token wins: the API is not a session)."""
    if request is None:
        return None, None
    token = getattr(request, "api_token", None)
    if token is not None:
        return None, token
    user = getattr(request, "user", None)
    return (user if getattr(user, "is_authenticated", False) else None), None


def record(
    action: AuditEvent.Action,
    *,
    tenant: Tenant | None = None,
    actor=None,
    token: ApiToken | None = None,
    target: models.Model | None = None,
    request: HttpRequest | None = None,
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    if action not in AuditEvent.Action.values:
        raise ValueError(f"{action!r} is not an audit action (add it to AuditEvent.Action).")
    if request is None:
        request = current_request()
    if actor is None and token is None:
        actor, token = _acting_from(request)
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    return AuditEvent.objects.create(
        tenant=tenant,
        actor=actor,
        actor_token=token,
        action=action,
        target_type=target._meta.label if target is not None else "",
        target_id=str(target.pk) if target is not None and target.pk is not None else "",
        target_repr=str(target)[:200] if target is not None else "",
        ip_address=client_ip(request),
        user_agent=(request.META.get("HTTP_USER_AGENT", "")[:300] if request else ""),
        data=data or {},
    )


def snapshot(instance: models.Model, fields: Iterable[str]) -> dict[str, Any]:
    """The values of ``fields`` now, to compare after a change (:func:`changed_fields`)."""
    return {name: getattr(instance, name) for name in fields}


def changed_fields(instance: models.Model, before: dict[str, Any]) -> list[str]:
    """The names of the fields whose value differs from ``before`` (never the values: some
    are secrets or personal data)."""
    return sorted(name for name, value in before.items() if getattr(instance, name) != value)


def record_refusal(
    action: AuditEvent.Action,
    *,
    request: HttpRequest,
    tenant: Tenant | None = None,
    actor=None,
    token: ApiToken | None = None,
    data: dict[str, Any] | None = None,
) -> AuditEvent | None:
    """Audit a refused attempt (403, 401), at most once per actor or address, action and path
    per ``AUDIT_REFUSAL_WINDOW_SECONDS`` (the cache remembers), so a flood of refused requests
    cannot fill the table; None when throttled."""
    if actor is None and token is None:
        actor, token = _acting_from(request)
    if token is not None:
        who = f"k{token.pk}"
    elif getattr(actor, "pk", None) is not None:
        who = f"u{actor.pk}"
    else:
        who = f"ip{client_ip(request) or '-'}"
    digest = hashlib.sha256(f"{action}|{who}|{request.path}".encode()).hexdigest()[:32]
    if not cache.add(f"audit:refusal:{digest}", 1, settings.AUDIT_REFUSAL_WINDOW_SECONDS):
        return None
    payload = {"method": request.method, "path": request.path[:300]}
    payload.update({key: value for key, value in (data or {}).items() if value is not None})
    return record(
        action,
        tenant=tenant,
        actor=actor,
        token=token,
        request=request,
        data=payload,
    )


def audit_events_for_tenant(tenant: Tenant) -> models.QuerySet[AuditEvent]:
    """The tenant's own events plus account events (logins, MFA) of its current members
    (other platform rows, such as another tenant's deletion, stay out)."""
    account = models.Q(action__startswith="auth.") | models.Q(action__startswith="mfa.")
    return (
        AuditEvent.objects.filter(
            models.Q(tenant=tenant)
            | (models.Q(tenant__isnull=True, actor__memberships__tenant=tenant) & account)
        )
        .select_related("actor", "actor_token")
        .distinct()
    )
