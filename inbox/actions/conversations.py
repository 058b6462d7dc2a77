"""Conversation state: status (close, reopen, snooze), assignee and priority.

Each change an agent should see in the thread leaves a *system message*: ``sender_type``
system, ``direction`` out, ``is_private`` True (an internal line of the timeline, never sent to
the contact and never counted as outbound traffic), ``status`` sent, and ``metadata`` saying
what changed (``{"event": "status_changed", "from": ..., "to": ...}``). System messages do not
move ``last_message_at``: a status change must not reorder the inbox.
"""

from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from contacts.models import Contact
from inbox.actions.notify import notify_assigned
from inbox.models import Attachment, Conversation, Inbox, Message
from inbox.payloads import conversation_payload, message_payload
from omnichannel import audit, events
from omnichannel.actions import ActionError
from omnichannel.agent_notifications import do_forget_target_notifications
from omnichannel.models import ApiToken, AuditEvent, Membership
from omnichannel.tenancy import Acting, acting_for, require_acting_permission


class _Unchanged:
    def __repr__(self) -> str:
        return "UNCHANGED"


# ``assignee=None`` means "unassign", so "leave it alone" needs its own marker.
UNCHANGED: Any = _Unchanged()


AUTO_ASSIGNMENT = "auto-assignment"


def _actor_label(acting_user, acting_token: ApiToken | None, automatic: bool = False) -> str:
    if automatic:
        return AUTO_ASSIGNMENT
    if acting_user is not None:
        return acting_user.get_full_name() or acting_user.email
    if acting_token is not None:
        return f"API token “{acting_token.name}”"
    return "the system"


def _user_label(user) -> str:
    return user.get_full_name() or user.email


def check_assignee(conversation: Conversation, user) -> None:
    """An assignee must be a member of the conversation's tenant who can see conversations."""
    membership = (
        Membership.objects.filter(tenant_id=conversation.tenant_id, user=user)
        .select_related("role")
        .first()
    )
    if membership is None or not user.is_active:
        raise ActionError("The assignee is not a member of this tenant.")
    if not membership.has_permission("conversations.view"):
        raise ActionError(
            f"{_user_label(user)} cannot see conversations (their role is "
            f"{membership.role.name}), so they cannot be assigned one."
        )


def _check_status_change(
    conversation: Conversation, status: str, snoozed_until: datetime | None
) -> None:
    if status not in Conversation.Status.values:
        raise ActionError(
            f"Unknown status “{status}”; use one of {', '.join(Conversation.Status.values)}."
        )
    if status == Conversation.Status.SNOOZED:
        if snoozed_until is None:
            raise ActionError("Snoozing needs snoozed_until: when the conversation comes back.")
        if snoozed_until <= timezone.now():
            raise ActionError("snoozed_until must be in the future.")
    elif snoozed_until is not None:
        raise ActionError("snoozed_until only goes with the status snoozed.")
    reopening = conversation.status not in Conversation.ACTIVE and status in Conversation.ACTIVE
    if reopening:
        other = (
            Conversation.objects.filter(
                inbox_id=conversation.inbox_id,
                contact_id=conversation.contact_id,
                status__in=Conversation.ACTIVE,
            )
            .exclude(pk=conversation.pk)
            .values_list("pk", flat=True)
            .first()
        )
        if other is not None:
            raise _reopen_conflict(other)


def _status_verb(old: str, new: str) -> str:
    if new == Conversation.Status.OPEN:
        return "Marked open" if old in Conversation.ACTIVE else "Reopened"
    return {
        Conversation.Status.PENDING: "Marked pending",
        Conversation.Status.CLOSED: "Closed",
        Conversation.Status.ARCHIVED: "Archived",
    }[new]


def _reopen_conflict(other_id: int | None) -> ActionError:
    which = f" (conversation {other_id})" if other_id else ""
    return ActionError(
        "This contact already has an active conversation in this inbox"
        f"{which}; continue there or close it before reopening this one.",
        code="conflict",
    )


def check_may_update_conversation(
    acting: Acting, *, acting_user=None, manages: bool, assignee: Any, team: Any
) -> None:
    """What :func:`do_update_conversation` may change for ``acting`` (see there)."""
    if manages:
        require_acting_permission(
            acting,
            "conversations.manage",
            doing="close, reopen, snooze or prioritise conversations",
        )
    if assignee is not UNCHANGED or team is not UNCHANGED:
        require_acting_permission(acting, "conversations.assign", doing="assign conversations")
    giving = assignee is not UNCHANGED and assignee is not None
    if giving and (acting_user is None or getattr(assignee, "pk", None) != acting_user.pk):
        require_acting_permission(
            acting,
            "conversations.assign_others",
            doing="give conversations to other agents (only take them yourself)",
        )


@transaction.atomic
def do_update_conversation(
    conversation: Conversation,
    *,
    status: str | None = None,
    assignee: Any = UNCHANGED,
    priority: int | None = None,
    snoozed_until: datetime | None = None,
    team: Any = UNCHANGED,
    acting_user=None,
    acting_token: ApiToken | None = None,
    automatic: bool = False,
    side_effect: bool = False,
    from_provider: bool = False,
) -> Conversation:
    """Change status / assignee / team / priority / snooze; ``assignee=None`` unassigns
    (``team=None`` takes the conversation away from its team).

    The permissions are checked here, for pages and the API alike, from what is asked of the
    member (``acting_user``) or token (``acting_token``): status, snooze and priority need
    ``conversations.manage``; an assignee or a team, ``conversations.assign``; an assignee
    other than oneself (anyone, for a token, which is nobody), also
    ``conversations.assign_others``. Refusals raise ``MissingPermission`` (403).
    Auto-assignment (``automatic``) and changes another action makes as its consequence
    (``side_effect``: a merge closing the duplicate's conversations) are not checked again.

    ``snoozed_until`` without ``status`` snoozes (or moves the wake-up time of a snoozed
    conversation). Leaving *snoozed* clears ``snoozed_until``. Reopening a closed conversation
    while the contact has another active one in the same inbox is a conflict (the database
    allows one active conversation per contact and inbox). Nothing changes → nothing is written
    or published.

    A status change of a conversation bridged with a helpdesk (its provider can ``push_status``)
    is pushed there after commit, unless it came from there (``from_provider``).
    """
    if snoozed_until is not None and status is None:
        status = Conversation.Status.SNOOZED
    if not (automatic or side_effect):
        check_may_update_conversation(
            acting_for(conversation.tenant_id, acting_user=acting_user, acting_token=acting_token),
            acting_user=acting_user,
            manages=status is not None or priority is not None,
            assignee=assignee,
            team=team,
        )
    conversation = (
        Conversation.objects.select_for_update(of=("self",))
        .select_related("tenant")
        .get(pk=conversation.pk)
    )
    if status is not None:
        _check_status_change(conversation, status, snoozed_until)
    if priority is not None and priority not in Conversation.Priority.values:
        raise ActionError(
            f"Unknown priority “{priority}”; use one of "
            f"{', '.join(str(v) for v in Conversation.Priority.values)}."
        )
    if assignee is not UNCHANGED and assignee is not None:
        check_assignee(conversation, assignee)
    if team is not UNCHANGED and team is not None and team.tenant_id != conversation.tenant_id:
        raise ActionError("No such team.", code="not_found")

    actor = _actor_label(acting_user, acting_token, automatic)
    changed: list[str] = []
    notes: list[tuple[str, dict]] = []

    if status is not None:
        new_until = snoozed_until if status == Conversation.Status.SNOOZED else None
        if status != conversation.status or new_until != conversation.snoozed_until:
            old = conversation.status
            conversation.status = status
            conversation.snoozed_until = new_until
            changed += ["status", "snoozed_until"]
            if status == Conversation.Status.SNOOZED:
                text = f"Snoozed until {new_until.isoformat()} by {actor}."
            elif old == status:
                text = ""
            else:
                text = f"{_status_verb(old, status)} by {actor}."
            if text:
                notes.append(
                    (
                        text,
                        {
                            "event": "status_changed",
                            "from": old,
                            "to": status,
                            "snoozed_until": new_until.isoformat() if new_until else None,
                        },
                    )
                )

    if assignee is not UNCHANGED and getattr(assignee, "pk", None) != conversation.assignee_id:
        old_id = conversation.assignee_id
        conversation.assignee = assignee
        changed.append("assignee")
        if assignee is None:
            text = f"Unassigned by {actor}."
        else:
            text = f"Assigned to {_user_label(assignee)} by {actor}."
        notes.append(
            (
                text,
                {
                    "event": "assignee_changed",
                    "from": old_id,
                    "to": getattr(assignee, "pk", None),
                },
            )
        )

    if team is not UNCHANGED and getattr(team, "pk", None) != conversation.team_id:
        old_team = conversation.team_id
        conversation.team = team
        changed.append("team")
        text = (
            f"Assigned to the team {team.name} by {actor}." if team else f"Team removed by {actor}."
        )
        notes.append(
            (text, {"event": "team_changed", "from": old_team, "to": getattr(team, "pk", None)})
        )

    if priority is not None and priority != conversation.priority:
        old_priority = conversation.priority
        conversation.priority = priority
        changed.append("priority")
        notes.append(
            (
                f"Priority set to {Conversation.Priority(priority).label.lower()} by {actor}.",
                {"event": "priority_changed", "from": old_priority, "to": priority},
            )
        )

    if not changed:
        return conversation

    try:
        with transaction.atomic():
            conversation.save(update_fields=sorted(set(changed)))
    except IntegrityError as exc:  # a concurrent reopen won the one-active-conversation race
        raise _reopen_conflict(None) from exc

    for text, metadata in notes:
        note = Message.objects.create(
            tenant_id=conversation.tenant_id,
            conversation=conversation,
            inbox_id=conversation.inbox_id,
            direction=Message.Direction.OUTBOUND,
            sender_type=Message.SenderType.SYSTEM,
            author=acting_user,
            body=text,
            is_private=True,
            status=Message.Status.SENT,
            metadata={**metadata, "actor_token_id": getattr(acting_token, "pk", None)},
        )
        events.publish(conversation.tenant, events.EventType.MESSAGE_CREATED, message_payload(note))
        if metadata["event"] == "assignee_changed":
            notify_assigned(conversation, note, actor=acting_user)

    events.publish(
        conversation.tenant,
        events.EventType.CONVERSATION_UPDATED,
        conversation_payload(conversation, changed=changed),
    )
    if "status" in changed and not from_provider:
        from inbox.actions.bridge import push_status_after_commit

        push_status_after_commit(conversation)
    return conversation


@transaction.atomic
def do_delete_conversation(
    conversation: Conversation, *, acting_user=None, acting_token: ApiToken | None = None
) -> None:
    """Delete a conversation for good: its messages, their deliveries and attachments (and
    the attachments' files, once committed), read states and labels. The contact stays.

    Other agents' pages drop the row (``conversation.deleted``); the audit row keeps what was
    deleted (ids and counts, never the text)."""
    conversation = (
        Conversation.objects.select_for_update(of=("self",))
        .filter(pk=conversation.pk, tenant_id=conversation.tenant_id)
        .select_related("tenant")
        .first()
    )
    if conversation is None:
        raise ActionError("No such conversation.", code="not_found")
    files = [
        name
        for name in Attachment.objects.filter(
            tenant_id=conversation.tenant_id, message__conversation=conversation
        ).values_list("file", flat=True)
        if name
    ]
    messages = Message.objects.filter(conversation=conversation).count()
    audit.record(
        AuditEvent.Action.CONVERSATION_DELETED,
        tenant=conversation.tenant,
        actor=acting_user,
        token=acting_token,
        target=conversation,
        data={
            "inbox": conversation.inbox_id,
            "contact": conversation.contact_id,
            "messages": messages,
            "attachments": len(files),
        },
    )
    payload = {
        "id": conversation.pk,
        "inbox_id": conversation.inbox_id,
        "contact_id": conversation.contact_id,
    }
    do_forget_target_notifications(conversation.tenant_id, "conversation", [payload["id"]])
    conversation.delete()
    events.publish(conversation.tenant, events.EventType.CONVERSATION_DELETED, payload)
    transaction.on_commit(lambda: _delete_files(files))


def _delete_files(names: list[str]) -> None:
    """After commit: a rolled-back deletion must still find its files."""
    from django.core.files.storage import default_storage

    for name in names:
        default_storage.delete(name)


def get_or_open_active_conversation(
    inbox: Inbox, contact: Contact, *, subject: str = ""
) -> Conversation:
    """The (locked) active conversation of ``contact`` in ``inbox``, opened when there is none.

    ``subject`` names an email thread (prefixes already removed, see ``email_threads``): a
    contact has one active conversation per subject, matched case-insensitively; other
    channels have none, so one active conversation. A closed or archived conversation is never
    reopened: a new one starts. Two first messages racing are settled by the partial unique
    constraints (one active conversation per contact, or per contact and subject).
    """
    active = Conversation.objects.select_for_update().filter(
        inbox=inbox, contact=contact, status__in=Conversation.ACTIVE, subject__iexact=subject
    )
    conversation = active.order_by("-last_message_at", "-id").first()
    if conversation is not None:
        return conversation
    try:
        with transaction.atomic():
            return Conversation.objects.create(
                tenant_id=inbox.tenant_id,
                inbox=inbox,
                contact=contact,
                subject=subject,
                status=Conversation.Status.OPEN,
            )
    except IntegrityError:
        # Another message opened it meanwhile (for a subject: that thread, or, when the subject
        # cleans to nothing, the contact's subject-less one).
        return active.order_by("-id").first() or Conversation.objects.select_for_update().get(
            inbox=inbox, contact=contact, status__in=Conversation.ACTIVE, subject=""
        )


def get_or_open_active_conversations(
    inbox: Inbox, contact_ids: set[int], *, last_message_at: datetime | None = None
) -> dict[int, int]:
    """The bulk form for subject-less channels (a campaign's chunk), in three queries whatever
    the number of contacts: contact id -> the id of their active conversation in ``inbox``,
    started where there is none. Nothing is locked: a conversation opened meanwhile (a reply)
    is used, and an existing one keeps its status.

    A conversation started here is *pending*, not open: a campaign of 10,000 recipients must
    not put 10,000 rows in the shared Open view, where agents triage what people wrote. Pending
    rather than closed, because it stays the contact's one active conversation: their reply
    (and any later send) lands in it, with the campaign message above, and the receiving side
    opens it then (``receive``: a pending conversation the contact has never written in).

    Conversations started here get ``last_message_at`` (the caller's message is their first),
    so that the caller's update of it finds nothing to change in them."""
    active = Conversation.objects.filter(
        inbox=inbox, contact_id__in=contact_ids, status__in=Conversation.ACTIVE
    )
    found = dict(active.values_list("contact_id", "pk"))
    missing = contact_ids - found.keys()
    if missing:
        Conversation.objects.bulk_create(
            [
                Conversation(
                    tenant_id=inbox.tenant_id,
                    inbox=inbox,
                    contact_id=contact_id,
                    status=Conversation.Status.PENDING,
                    last_message_at=last_message_at,
                )
                for contact_id in missing
            ],
            ignore_conflicts=True,  # a reply opened one meanwhile: use that
        )
        found.update(active.filter(contact_id__in=missing).values_list("contact_id", "pk"))
    return found
