"""Each agent's own state of a conversation: how far they read it, and whether it is pinned.

These rows belong to one user and change nothing anyone else sees, so they leave no system
message and no audit row. Callers pass a conversation they reached through the tenant
(``get_in_tenant``); the ReadState row carries the conversation's tenant.

A message is *unread* for an agent when it is inbound and newer than their ``last_read_at``
(see ``inbox.queries``). Reads are single upserts (``INSERT … ON CONFLICT``), so opening a
conversation costs one query and two tabs opening it at once cannot collide.
"""

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from inbox.actions.provider_signals import do_relay_read
from inbox.models import Conversation, Message, ReadState
from omnichannel import events
from omnichannel.agent_notifications import do_mark_target_notifications_read


def _upsert(conversation: Conversation, user, **fields) -> None:
    ReadState.objects.bulk_create(
        [
            ReadState(
                tenant_id=conversation.tenant_id, user=user, conversation=conversation, **fields
            )
        ],
        update_conflicts=True,
        unique_fields=["user", "conversation"],
        update_fields=list(fields),
    )


def _publish_unread(conversation: Conversation, user, *, unread: bool) -> None:
    events.publish(
        conversation.tenant,
        events.EventType.UNREAD_UPDATED,
        {"conversation_id": conversation.pk, "user_id": user.pk, "unread": unread},
        users=[user],
    )


@transaction.atomic
def do_mark_read(conversation: Conversation, user, *, at: datetime | None = None) -> datetime:
    """``user`` has read ``conversation`` up to now (or ``at``); returns that moment."""
    moment = at or timezone.now()
    _upsert(conversation, user, last_read_at=moment)
    _publish_unread(conversation, user, unread=False)
    # What the agent was told about the conversation (a reply, a mention) is seen too.
    do_mark_target_notifications_read(conversation.tenant, user, conversation)
    do_relay_read(conversation)
    return moment


@transaction.atomic
def do_mark_unread(conversation: Conversation, user) -> datetime | None:
    """Make the latest inbound message unread again for ``user`` (read up to just before it).

    Without any inbound message there is nothing to be unread: the read mark is cleared.
    """
    latest = (
        Message.objects.filter(conversation=conversation, direction=Message.Direction.INBOUND)
        .order_by("-created_at", "-id")
        .values_list("created_at", flat=True)
        .first()
    )
    moment = latest - timedelta(microseconds=1) if latest else None
    _upsert(conversation, user, last_read_at=moment)
    _publish_unread(conversation, user, unread=latest is not None)
    return moment


def do_set_pinned(conversation: Conversation, user, *, pinned: bool) -> bool:
    """Pin (or unpin) ``conversation`` for ``user`` only; returns the new state."""
    _upsert(conversation, user, pinned=bool(pinned))
    return bool(pinned)


@transaction.atomic
def do_toggle_pin(conversation: Conversation, user) -> bool:
    """Flip ``user``'s pin on ``conversation``; returns the new state."""
    state = (
        ReadState.objects.select_for_update()
        .filter(user=user, conversation=conversation)
        .values_list("pinned", flat=True)
        .first()
    )
    return do_set_pinned(conversation, user, pinned=not state)
