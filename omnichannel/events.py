"""Realtime events: published to Channels groups once the surrounding transaction commits.

Group names start with the tenant (``t{tenant}``, ``t{tenant}.u{user}``, ``t{tenant}.c{conv}``)
so that a consumer can only ever join groups of the tenant its user belongs to.
"""

import asyncio
import json
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import models, transaction

from omnichannel.models import Tenant
from omnichannel.tenancy import tenant_zone
from omnichannel.zones import recipient_zones, render_in_zones

logger = logging.getLogger(__name__)


class EventType(models.TextChoices):
    MESSAGE_CREATED = "message.created"
    MESSAGE_STATUS_UPDATED = "message.status_updated"
    MESSAGE_UPDATED = "message.updated"
    CONVERSATION_UPDATED = "conversation.updated"
    CONVERSATION_DELETED = "conversation.deleted"
    TYPING_STARTED = "typing.started"
    TYPING_STOPPED = "typing.stopped"
    VIEWERS_CHANGED = "conversation.viewers"
    CONTACT_TYPING = "contact.typing"
    UNREAD_UPDATED = "unread.updated"
    CAMPAIGN_PROGRESS = "campaign.progress"
    CONTACTS_IMPORT_PROGRESS = "contacts.import_progress"
    CONTACTS_BULK_PROGRESS = "contacts.bulk_progress"
    APPOINTMENT_CREATED = "appointment.created"
    APPOINTMENT_CANCELLED = "appointment.cancelled"
    APPOINTMENT_UPDATED = "appointment.updated"
    APPOINTMENT_DELETED = "appointment.deleted"
    CALL_INCOMING = "call.incoming"
    CALL_ANSWERED = "call.answered"
    CALL_ENDED = "call.ended"
    AGENT_STATUS_CHANGED = "agent.status_changed"
    MEMBERSHIP_CHANGED = "membership.changed"
    AGENT_NOTIFICATION_CREATED = "agent_notification.created"
    AGENT_NOTIFICATIONS_READ = "agent_notification.read"


# A tenant-wide event reaches every member's socket; these only those holding the permission.
REQUIRED_PERMISSION = {
    EventType.CAMPAIGN_PROGRESS.value: "campaigns.view",
    EventType.CONTACTS_BULK_PROGRESS.value: "contacts.view",
    EventType.CONVERSATION_DELETED.value: "conversations.view",
    EventType.APPOINTMENT_CREATED.value: "calendar.view",
    EventType.APPOINTMENT_UPDATED.value: "calendar.view",
    EventType.APPOINTMENT_CANCELLED.value: "calendar.view",
    EventType.APPOINTMENT_DELETED.value: "calendar.view",
}


def tenant_group(tenant_id: int) -> str:
    return f"t{tenant_id}"


def user_group(tenant_id: int, user_id: int) -> str:
    return f"t{tenant_id}.u{user_id}"


def conversation_group(tenant_id: int, conversation_id: int) -> str:
    return f"t{tenant_id}.c{conversation_id}"


def publish(
    tenant: Tenant,
    type: EventType | str,
    payload: dict[str, Any],
    *,
    users: Iterable[Any] | None = None,
    conversation: Any | None = None,
    html: str | None = None,
    render_html: Callable[[], str] | None = None,
) -> None:
    """Send an event to the tenant, or only to ``users`` / ``conversation``, after commit.

    ``html`` is a rendered fragment (out-of-band swaps) for browsers; API clients get JSON.
    A fragment showing times is ``render_html`` instead: it is rendered once in each time zone
    its readers use, and each socket gets the one in its reader's.
    Nothing is sent if the transaction rolls back.
    """
    event_type = EventType(type).value
    # Fail in the caller's transaction, not silently after commit: payloads go out as JSON.
    json.dumps(payload)
    if conversation is not None:
        if getattr(conversation, "tenant_id", tenant.pk) != tenant.pk:
            raise ValueError("The conversation belongs to another tenant.")
        groups = [conversation_group(tenant.pk, conversation.pk)]
    elif users is not None:
        groups = sorted({user_group(tenant.pk, getattr(u, "pk", u)) for u in users})
    else:
        groups = [tenant_group(tenant.pk)]
    message = {"type": "centro.event", "event": event_type, "payload": payload, "html": html}
    if render_html is not None:
        message["html_by_zone"] = render_in_zones(render_html, recipient_zones(tenant, users))
        # For a socket whose reader changed zone since it connected (another tab): the
        # tenant's piece, rather than none and a page that stops updating.
        message["default_zone"] = tenant_zone(tenant).key
    transaction.on_commit(lambda: _send([(groups, message)]))


def publish_to_tenants(
    type: EventType | str, payloads: Iterable[tuple[int, dict[str, Any]]]
) -> None:
    """Many tenant-wide events of one type (``(tenant id, payload)`` pairs, such as a batch of
    status callbacks), sent after commit in one go rather than one round trip each."""
    event_type = EventType(type).value
    sends = []
    for tenant_id, payload in payloads:
        json.dumps(payload)
        message = {"type": "centro.event", "event": event_type, "payload": payload, "html": None}
        sends.append(([tenant_group(tenant_id)], message))
    if sends:
        transaction.on_commit(lambda: _send(sends))


def _send(sends: list[tuple[list[str], dict[str, Any]]]) -> None:
    """Runs after commit: a realtime hiccup must never undo or fail the committed write."""
    sends = [(groups, message) for groups, message in sends if groups]
    if not sends:
        return
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        send = async_to_sync(_send_each)
    else:
        # Synchronous code running inside an event loop's thread (a sync driver such as
        # Playwright's, a notebook): async_to_sync refuses to nest, so send from a thread.
        def send(sends):
            worker = threading.Thread(target=asyncio.run, args=(_send_each(sends),))
            worker.start()
            worker.join()

    try:
        send(sends)
    except Exception:
        logger.exception("Could not publish %s", ", ".join(m["event"] for _, m in sends[:5]))


async def _send_each(sends: list[tuple[list[str], dict[str, Any]]]) -> None:
    # One event loop for all of them (each async_to_sync call from plain sync code is a new one).
    for groups, message in sends:
        await _group_send_all(groups, message)


async def _group_send_all(groups: list[str], message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    for group in groups:
        try:
            await layer.group_send(group, message)
        except Exception:
            logger.exception("Could not publish %s to %s", message["event"], group)
