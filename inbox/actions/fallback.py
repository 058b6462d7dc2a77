"""Fallback: a message whose address cannot be reached on its inbox's channel goes out on the
inbox's fallback inbox (iMessage → SMS, WhatsApp → SMS) as a second Delivery.

The first delivery is marked failed with the reason; the message is not (its status follows
the delivery that carries it now), so hooks on failed deliveries are not told. The message
notes the switch so the thread shows which channel was actually used.
"""

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from inbox.models import Delivery, Message
from inbox.payloads import message_status_payload
from inbox.providers import ProviderError
from omnichannel.channels import Channel
from omnichannel.events import EventType, publish

logger = logging.getLogger(__name__)


def fallback_address(delivery: Delivery, fallback) -> str:
    """The contact's address on the fallback inbox's channel ("" when they have none)."""
    contact = delivery.message.conversation.contact
    return (contact.email if fallback.kind == Channel.EMAIL else contact.phone) or ""


@transaction.atomic
def do_fall_back(
    delivery: Delivery,
    reason: ProviderError,
    *,
    closable: tuple[str, ...] = (Message.Status.SENDING,),
) -> Delivery | None:
    """Close ``delivery`` (being sent, or in one of the ``closable`` statuses: a send the
    provider reports as not delivered later) with ``reason`` and queue the message on its
    inbox's fallback inbox; the new Delivery, or None when there is no usable fallback or the
    message fell back already (a message falls back once, never twice; then nothing changed
    and the caller records the failure)."""
    inbox = delivery.inbox
    fallback = inbox.fallback_inbox
    if fallback is None or fallback.pk == inbox.pk or not fallback.is_active:
        return None
    if delivery.message.conversation.participants:
        return None  # a group thread cannot move to a one-to-one channel
    recipient = fallback_address(delivery, fallback)
    if not recipient:
        return None
    if Delivery.objects.filter(message_id=delivery.message_id, inbox=fallback).exists():
        return None
    closed = Delivery.objects.filter(pk=delivery.pk, status__in=closable).update(
        status=Message.Status.FAILED,
        error_code=reason.code[:20],
        error_message=reason.message[:500],
        failed_at=timezone.now(),
    )
    if not closed:
        return None
    message = delivery.message
    second = Delivery.objects.create(
        tenant_id=delivery.tenant_id,
        message=message,
        inbox=fallback,
        provider=fallback.provider,
        recipient=recipient,
    )
    message.metadata = {
        **(message.metadata or {}),
        "fallback": {
            "from": inbox.get_kind_display(),
            "to": fallback.get_kind_display(),
            "kind": fallback.kind,
            "inbox": fallback.name,
            "reason": reason.message[:300],
        },
    }
    message.status = Message.Status.QUEUED
    Message.objects.filter(pk=message.pk).update(
        metadata=message.metadata, status=message.status, error_code="", error_message=""
    )
    publish(
        message.tenant,
        EventType.MESSAGE_STATUS_UPDATED,
        message_status_payload(message, second),
    )
    logger.info(
        "Message %s falls back from inbox %s to %s: %s", message.pk, inbox.pk, fallback.pk, reason
    )
    from inbox.tasks.delivery import deliver_message_task

    transaction.on_commit(lambda: deliver_message_task.delay(second.pk))
    return second


def do_fall_back_undelivered(*, now: datetime | None = None) -> int:
    """Messages sent but never delivered within the inbox's ``fallback_after_minutes`` (off
    when 0, the default) go out on its fallback inbox, once: some iMessage failures are never
    reported as errors, and a message that reached nobody is worse than two that reached one
    person. Group threads never fall back. Returns how many fell back."""
    from inbox.models import Inbox

    now = now or timezone.now()
    moved = 0
    inboxes = Inbox.objects.filter(
        is_active=True, fallback_inbox__isnull=False, settings__fallback_after_minutes__gt=0
    )
    for inbox in inboxes:
        minutes = int(inbox.settings.get("fallback_after_minutes") or 0)
        waiting = (
            Delivery.objects.filter(
                inbox=inbox,
                status=Message.Status.SENT,
                delivered_at__isnull=True,
                sent_at__lt=now - timedelta(minutes=minutes),
                sent_at__gte=now - timedelta(minutes=minutes) - UNDELIVERED_LOOKBACK,
                message__conversation__participants=[],
            )
            .select_related("inbox__fallback_inbox", "message__conversation__contact")
            .order_by("id")
        )
        reason = ProviderError(
            f"Not delivered by {inbox.get_kind_display()} within {minutes} minutes.",
            code="not_delivered",
            permanent=True,
        )
        for delivery in waiting:
            if do_fall_back(delivery, reason, closable=(Message.Status.SENT,)) is not None:
                moved += 1
    return moved


# How far back the sweep looks: older sends are left as they are (the sweep was off, or down).
UNDELIVERED_LOOKBACK = timedelta(hours=6)
