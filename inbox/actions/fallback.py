"""Fallback: a message whose address cannot be reached on its inbox's channel goes out on the
inbox's fallback route (iMessage → SMS, WhatsApp → SMS) as a second Delivery: its fallback
inbox, or, for a provider that can send SMS itself and an inbox set to (``sms_relay``), the
same inbox as SMS (a BlueBubbles Mac relaying through its paired iPhone).

The first delivery is marked failed with the reason; the message is not (its status follows
the delivery that carries it now), so hooks on failed deliveries are not told. The message
notes the switch so the thread shows which channel was actually used.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from inbox.models import Delivery, Inbox, Message
from inbox.payloads import message_status_payload
from inbox.providers import ProviderError, UnknownProvider, provider_class
from omnichannel.channels import Channel
from omnichannel.events import EventType, publish

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FallbackRoute:
    """Where an inbox's messages go when they cannot go on its channel: ``inbox`` sends them,
    on ``channel`` when that is not the inbox's own (``Delivery.channel``: a relay)."""

    inbox: Inbox
    channel: str = ""

    @property
    def kind(self) -> str:
        return self.channel or self.inbox.kind

    @property
    def name(self) -> str:
        """Who sends, as the thread names it."""
        return f"{self.inbox.name}, the Mac's SMS relay" if self.channel else self.inbox.name

    @property
    def label(self) -> str:
        return Channel(self.kind).label


def can_relay_sms(inbox: Inbox) -> bool:
    """Whether ``inbox``'s provider can send SMS itself (see ``Capabilities.sms_relay``)."""
    try:
        return provider_class(inbox.provider).capabilities.sms_relay
    except UnknownProvider:
        return False


def fallback_route(inbox: Inbox) -> FallbackRoute | None:
    """The inbox's working fallback route, or None when it has none (or it is switched off)."""
    if inbox.sms_relay and can_relay_sms(inbox):
        return FallbackRoute(inbox, Channel.SMS)
    fallback = inbox.fallback_inbox
    if fallback is None or fallback.pk == inbox.pk or not fallback.is_active:
        return None
    return FallbackRoute(fallback)


def fallback_address(delivery: Delivery, route: FallbackRoute) -> str:
    """The contact's address on the route's channel ("" when they have none)."""
    contact = delivery.message.conversation.contact
    return (contact.email if route.kind == Channel.EMAIL else contact.phone) or ""


def fallback_note(inbox: Inbox, route: FallbackRoute, reason: str) -> dict:
    """What the message keeps of the switch, for the thread (``metadata["fallback"]``)."""
    return {
        "from": inbox.get_kind_display(),
        "to": route.label,
        "kind": route.kind,
        "inbox": route.name,
        "reason": reason[:300],
    }


@transaction.atomic
def do_fall_back(
    delivery: Delivery,
    reason: ProviderError,
    *,
    closable: tuple[str, ...] = (Message.Status.SENDING,),
) -> Delivery | None:
    """Close ``delivery`` (being sent, or in one of the ``closable`` statuses: a send the
    provider reports as not delivered later) with ``reason`` and queue the message on its
    inbox's fallback route; the new Delivery, or None when there is no usable route or the
    message fell back already (a message falls back once, never twice; then nothing changed
    and the caller records the failure)."""
    inbox = delivery.inbox
    route = fallback_route(inbox)
    if route is None or delivery.channel:
        return None  # a relayed attempt is itself the fallback
    if delivery.message.conversation.participants:
        return None  # a group thread cannot move to a one-to-one channel
    recipient = fallback_address(delivery, route)
    if not recipient:
        return None
    if Delivery.objects.filter(
        message_id=delivery.message_id, inbox=route.inbox, channel=route.channel
    ).exists():
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
        inbox=route.inbox,
        provider=route.inbox.provider,
        recipient=recipient,
        channel=route.channel,
    )
    message.metadata = {
        **(message.metadata or {}),
        "fallback": fallback_note(inbox, route, reason.message),
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
        "Message %s falls back from inbox %s to %s (%s): %s",
        message.pk,
        inbox.pk,
        route.inbox.pk,
        route.kind,
        reason,
    )
    from inbox.tasks.delivery import deliver_message_task

    transaction.on_commit(lambda: deliver_message_task.delay(second.pk))
    return second


def do_fall_back_undelivered(*, now: datetime | None = None) -> int:
    """Messages sent but never delivered within the inbox's ``fallback_after_minutes`` (off
    when 0, the default) go out on its fallback route, once: some iMessage failures are never
    reported as errors, and a message that reached nobody is worse than two that reached one
    person. Group threads never fall back. Returns how many fell back."""
    now = now or timezone.now()
    moved = 0
    inboxes = Inbox.objects.filter(
        Q(fallback_inbox__isnull=False) | Q(settings__sms_relay=True),
        is_active=True,
        settings__fallback_after_minutes__gt=0,
    )
    for inbox in inboxes:
        minutes = int(inbox.settings.get("fallback_after_minutes") or 0)
        waiting = (
            Delivery.objects.filter(
                inbox=inbox,
                status=Message.Status.SENT,
                channel="",
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
