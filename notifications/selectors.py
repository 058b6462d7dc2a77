"""Reads of lifecycle notifications (lists are tenant-first and use the tenant-leading indexes)."""

from django.db.models import Count, Q, QuerySet

from notifications.models import EventType, Notification, NotificationRule, NotificationTemplate
from omnichannel.models import Tenant


def notifications_for_tenant(
    tenant: Tenant,
    *,
    contact_id: int | None = None,
    rule_id: int | None = None,
    status: str | None = None,
) -> QuerySet[Notification]:
    rows = Notification.objects.for_tenant(tenant).select_related(
        "rule", "event__event_type", "contact", "message__inbox"
    )
    if contact_id is not None:
        rows = rows.filter(contact_id=contact_id)
    if rule_id is not None:
        rows = rows.filter(rule_id=rule_id)
    if status:
        rows = rows.filter(status=status)
    return rows.order_by("-due_at", "-id")


def rule_list_for_tenant(tenant: Tenant) -> QuerySet[NotificationRule]:
    return (
        NotificationRule.objects.for_tenant(tenant)
        .select_related("event_type", "template")
        .annotate(
            scheduled=Count("notifications", filter=Q(notifications__status="scheduled")),
            sent=Count("notifications", filter=Q(notifications__status="sent")),
        )
        .order_by("event_type__key", "name", "id")
    )


def template_list_for_tenant(tenant: Tenant) -> QuerySet[NotificationTemplate]:
    return NotificationTemplate.objects.for_tenant(tenant).order_by("key", "language")


def event_types_for_tenant(tenant: Tenant) -> QuerySet[EventType]:
    return EventType.objects.for_tenant(tenant).order_by("key")
