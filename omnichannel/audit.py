"""The audit trail: one row per security-relevant change, written in the caller's transaction."""

from typing import Any

from django.db import models
from django.http import HttpRequest

from omnichannel.models import ApiToken, AuditEvent, Tenant


def client_ip(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


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
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    return AuditEvent.objects.create(
        tenant=tenant,
        actor=actor,
        actor_token=token,
        action=action,
        target_type=target._meta.label if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        target_repr=str(target)[:200] if target is not None else "",
        ip_address=client_ip(request),
        user_agent=(request.META.get("HTTP_USER_AGENT", "")[:300] if request else ""),
        data=data or {},
    )


def audit_events_for_tenant(tenant: Tenant) -> models.QuerySet[AuditEvent]:
    """The tenant's own events plus account events (logins, MFA) of its current members."""
    return (
        AuditEvent.objects.filter(
            models.Q(tenant=tenant)
            | models.Q(tenant__isnull=True, actor__memberships__tenant=tenant)
        )
        .select_related("actor", "actor_token")
        .distinct()
    )
