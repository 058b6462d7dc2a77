"""Who answers a conversation: round-robin auto-assignment and agents' availability.

An inbox with ``auto_assign`` gives each new conversation to the available agent (of the
inbox's team, or anyone who can reply when it has none) who was picked longest ago. The pick
locks that agent's membership row with SKIP LOCKED, so conversations arriving together go to
different agents instead of queueing behind one lock.
"""

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from inbox.actions.conversations import do_update_conversation
from inbox.models import Conversation, TeamMember
from omnichannel import events
from omnichannel.actions import ActionError
from omnichannel.models import Membership


def _candidates(conversation: Conversation) -> list[int]:
    """Membership ids of the agents who may be picked for ``conversation``."""
    inbox = conversation.inbox
    memberships = Membership.objects.filter(
        tenant_id=conversation.tenant_id,
        availability=Membership.Availability.AVAILABLE,
        user__is_active=True,
    ).select_related("role")
    if inbox.team_id is not None:
        members = TeamMember.objects.filter(team_id=inbox.team_id).values("user_id")
        memberships = memberships.filter(user_id__in=members)
    return [m.pk for m in memberships if m.has_permission("conversations.reply")]


@transaction.atomic
def do_auto_assign(conversation: Conversation):
    """Assign ``conversation`` round robin when its inbox asks for it; the agent or None
    (not wanted, already assigned, or nobody available)."""
    if not conversation.inbox.auto_assign or conversation.assignee_id is not None:
        return None
    candidates = _candidates(conversation)
    if not candidates:
        return None
    picked = (
        Membership.objects.select_for_update(skip_locked=True)
        .filter(pk__in=candidates)
        .order_by(F("last_assigned_at").asc(nulls_first=True), "id")
        .select_related("user")
        .first()
    )
    if picked is None:  # every candidate is being picked by someone else right now
        return None
    Membership.objects.filter(pk=picked.pk).update(last_assigned_at=timezone.now())
    do_update_conversation(
        conversation,
        assignee=picked.user,
        team=conversation.inbox.team if conversation.team_id is None else conversation.team,
        automatic=True,
    )
    return picked.user


def do_set_availability(membership: Membership, availability: str) -> Membership:
    """The agent's own status; only available agents are auto-assigned conversations."""
    if availability not in Membership.Availability.values:
        raise ActionError(
            f"Unknown availability “{availability}”; use one of "
            f"{', '.join(Membership.Availability.values)}."
        )
    if membership.availability != availability:
        membership.availability = availability
        membership.save(update_fields=["availability"])
        events.publish(
            membership.tenant,
            events.EventType.AGENT_STATUS_CHANGED,
            {"user_id": membership.user_id, "availability": availability},
        )
    return membership
