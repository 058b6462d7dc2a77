"""Lifecycle events and notifications in the JSON API (mounted at /api/v1/ by omnichannel.api).

``POST /events`` takes ``{type, contact: {id | phone | email | external_id}, data,
idempotency_key}``. Bad input answers 422 with ``errors`` naming each field (``type``,
``contact.phone``, ``data.trip_date``…) and nothing is written. The same ``idempotency_key``
with the same body answers 200 with the first event and does nothing; with another body, 422
``idempotency_key_reused``.
"""

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status
from ninja.pagination import paginate

from notifications.actions import EventInvalid, do_cancel_notification, do_post_event
from notifications.models import Event, Notification
from notifications.selectors import notifications_for_tenant
from omnichannel.actions import ActionError
from omnichannel.api import ApiInput, Paginated, error, permission_required
from omnichannel.tenancy import get_in_tenant

router = Router(tags=["notifications"])
ROUTERS = [router]  # mounted at /api/v1/ by omnichannel.api


class EventIn(ApiInput):
    type: Any = Field(None, description="An event type of the tenant, e.g. booking.confirmed.")
    contact: Any = Field(
        None,
        description='One of {"id": 12}, {"phone": "+14155550111"}, {"email": "a@b.c"} or '
        '{"external_id": {"system": "crm", "id": "C-1"}}.',
    )
    data: Any = Field(
        None,
        description='The event\'s values, e.g. {"booking_id": "B-1", "trip_date": "2026-12-20"}.',
    )
    idempotency_key: Any = Field(None, description="Unique per event; repeats do nothing.")


class NotificationOut(Schema):
    id: int
    event_id: int
    rule_id: int | None
    rule: str | None = Field(None, alias="rule.name")
    contact_id: int
    subject: str
    status: str
    due_at: datetime
    channel: str
    message_id: int | None
    detail: str
    created_at: datetime
    finished_at: datetime | None


class EventOut(Schema):
    id: int
    type: str
    contact_id: int
    subject: str
    data: dict[str, Any]
    received_at: datetime
    notifications: list[NotificationOut]


def _event_body(event_id: int) -> dict:
    event = Event.objects.select_related("event_type").get(pk=event_id)
    notifications = list(
        Notification.objects.filter(event=event).select_related("rule").order_by("due_at", "id")
    )
    return {
        "id": event.pk,
        "type": event.event_type.key,
        "contact_id": event.contact_id,
        "subject": event.subject,
        "data": event.data,
        "received_at": event.received_at,
        "notifications": notifications,
    }


@router.post(
    "/events",
    response={200: EventOut, 201: EventOut},
    summary="Post a lifecycle event (booking confirmed, quote sent…)",
)
@permission_required("notifications.send_events")
def event_post(request: HttpRequest, payload: EventIn):
    """Schedules (or sends now) the notifications of the event type's rules; an event whose type
    reschedules or cancels moves or cancels its subject's pending reminders first."""
    try:
        event, created = do_post_event(request.tenant, payload.dict())
    except EventInvalid as exc:
        return error(request, 422, "invalid", exc.message, errors=exc.errors)
    except ActionError as exc:
        if exc.code == "idempotency_key_reused":
            return error(
                request, 422, exc.code, exc.message, errors={"idempotency_key": exc.message}
            )
        raise
    return Status(201 if created else 200, _event_body(event.pk))


@router.get(
    "/notifications", response=list[NotificationOut], summary="Sent and scheduled notifications"
)
@permission_required("notifications.view")
@paginate(Paginated, max_limit=200)
def notification_list(
    request: HttpRequest,
    contact_id: int | None = None,
    rule_id: int | None = None,
    status: str | None = None,
):
    """Newest due first; filter by contact, rule or status (scheduled, sent, failed…)."""
    return notifications_for_tenant(
        request.tenant, contact_id=contact_id, rule_id=rule_id, status=status
    )


@router.post(
    "/notifications/{notification_id}/cancel",
    response=NotificationOut,
    summary="Cancel a scheduled notification",
)
@permission_required("notifications.manage")
def notification_cancel(request: HttpRequest, notification_id: int):
    """409 when it was already sent, cancelled or skipped."""
    notification = get_in_tenant(Notification, request.tenant, pk=notification_id)
    notification = do_cancel_notification(notification)
    return Notification.objects.select_related("rule").get(pk=notification.pk)
