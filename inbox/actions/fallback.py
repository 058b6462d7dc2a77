"""Fallback: a message whose address cannot be reached on its inbox's channel goes out on the
inbox's fallback inbox (iMessage → SMS, WhatsApp → SMS) as a second Delivery.

The first delivery is marked failed with the reason; the message is not (its status follows
the delivery that carries it now), so hooks on failed deliveries are not told. The message
notes the switch so the thread shows which channel was actually used.
"""

import logging

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
