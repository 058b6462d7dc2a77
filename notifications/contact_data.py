"""A contact's lifecycle events and notifications for GDPR: erased with the contact, and
exported with it.

Registered on ``contacts.hooks`` (``NotificationsConfig.ready``). Events and notifications stay
(with their type, rule, status, channel, dates and message), so the rules' statistics still add
up; the data the host system posted goes (``{}``), the idempotency key becomes
``erased:<event id>`` (host systems often build keys from names or emails), and subjects and
the notes on notifications ("Email: Ana García has no email address") are masked. Scheduled
notifications are cancelled: there is nobody to send them to any more.
"""

from typing import Any

from django.db import transaction
from django.db.models import CharField, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from contacts.models import Contact
from contacts.personal_data import PersonalData
from notifications.models import Event, Notification

CANCELLED_NOTE = "Cancelled: the contact's personal data was erased."


def _iso(value) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


@transaction.atomic
def erase_notification_data(contact: Contact, personal: PersonalData) -> dict[str, int]:
    """Erase the person from events and notifications (see the module docstring)."""
    events = Event.objects.filter(tenant_id=contact.tenant_id, contact=contact)
    notifications = Notification.objects.filter(tenant_id=contact.tenant_id, contact=contact)
    # A worker sending one holds its row (FOR UPDATE): this waits for it, then sees it sent.
    cancelled = notifications.filter(status=Notification.Status.SCHEDULED).update(
        status=Notification.Status.CANCELLED,
        finished_at=timezone.now(),
        lease_token=None,
        lease_expires_at=None,
        detail=CANCELLED_NOTE,
    )
    masked = []
    for notification in notifications.only("subject", "detail"):
        subject, detail = personal.mask(notification.subject), personal.mask(notification.detail)
        if (subject, detail) != (notification.subject, notification.detail):
            notification.subject, notification.detail = subject, detail
            masked.append(notification)
    Notification.objects.bulk_update(masked, ["subject", "detail"], batch_size=500)
    erased_notifications = notifications.update(data={})

    renamed = [
        Event(pk=event.pk, subject=personal.mask(event.subject))
        for event in events.only("subject")
        if personal.mentions(event.subject)
    ]
    Event.objects.bulk_update(renamed, ["subject"], batch_size=500)
    erased_events = events.update(
        data={},
        idempotency_key=Concat(Value("erased:"), Cast("pk", CharField()), output_field=CharField()),
    )
    return {
        "lifecycle_events_erased": erased_events,
        "notifications_erased": erased_notifications,
        "notifications_cancelled": cancelled,
    }


def export_notification_data(contact: Contact, personal: PersonalData) -> dict[str, Any]:
    """The events host systems posted about them and the notifications they led to. Two
    queries."""
    events = (
        Event.objects.filter(tenant_id=contact.tenant_id, contact=contact)
        .select_related("event_type")
        .order_by("received_at", "id")
    )
    notifications = (
        Notification.objects.filter(tenant_id=contact.tenant_id, contact=contact)
        .select_related("rule")
        .order_by("due_at", "id")
    )
    return {
        "lifecycle_events": [
            {
                "id": e.pk,
                "type": e.event_type.key,
                "subject": e.subject,
                "data": e.data,
                "idempotency_key": e.idempotency_key,
                "received_at": _iso(e.received_at),
            }
            for e in events
        ],
        "notifications": [
            {
                "id": n.pk,
                "event_id": n.event_id,
                "rule": n.rule.name if n.rule else None,
                "status": n.status,
                "channel": n.channel,
                "due_at": _iso(n.due_at),
                "subject": n.subject,
                "data": n.data,
                "detail": n.detail,
                "message_id": n.message_id,
                "finished_at": _iso(n.finished_at),
            }
            for n in notifications
        ],
    }
