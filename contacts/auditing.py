"""Audit actions of the contacts app (names for ``AuditEvent.Action`` values)."""

from typing import Any

from django.db import models
from django.http import HttpRequest

from omnichannel import audit
from omnichannel.models import AuditEvent, Tenant

Action = AuditEvent.Action
CONTACT_MERGED = Action.CONTACT_MERGED
CONTACT_ERASED = Action.CONTACT_ERASED
CONTACT_DELETED = Action.CONTACT_DELETED
CONSENT_CHANGED = Action.CONTACT_CONSENT_CHANGED
BLOCKLIST_ADDED = Action.BLOCKLIST_ADDED
BLOCKLIST_REMOVED = Action.BLOCKLIST_REMOVED
ATTRIBUTE_DEFINED = Action.ATTRIBUTE_DEFINED
ATTRIBUTE_CHANGED = Action.ATTRIBUTE_CHANGED
ATTRIBUTE_DELETED = Action.ATTRIBUTE_DELETED
EXPORTED = Action.EXPORT
CONTACT_CREATED = Action.CONTACT_CREATED
CONTACT_CHANGED = Action.CONTACT_CHANGED

snapshot = audit.snapshot
changed_fields = audit.changed_fields


def record(
    action: str,
    *,
    tenant: Tenant,
    acting_user=None,
    acting_token=None,
    target: models.Model | None = None,
    request: HttpRequest | None = None,
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    return audit.record(
        action,
        tenant=tenant,
        actor=acting_user,
        token=acting_token,
        target=target,
        request=request,
        data=data,
    )
