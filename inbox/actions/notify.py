"""What the inbox tells agents (through the core's notification centre): a conversation
assigned to them, a mention in a private note, a contact's reply in their conversation.

Mentions: a note names members as ``@Name`` (their full name, else their email) and carries
their user ids; only members of the note's tenant who can see conversations are kept, and
only those the text still names (an agent who deleted ``@Name`` took the mention back).
"""

from collections.abc import Iterable
from typing import Any

from django.db.models import QuerySet
from django.urls import reverse

from contacts.phones import contact_display
from inbox.models import Conversation, Message
from omnichannel.actions import ActionError
from omnichannel.agent_notifications import Kind, do_notify, register_kind
from omnichannel.models import Membership, Tenant

ASSIGNED = "inbox.assigned"
MENTIONED = "inbox.mentioned"
REPLY = "inbox.reply"
SERVER_DOWN = "inbox.server_unreachable"
MAX_MENTIONS = 20
PREVIEW = 200


def register_kinds() -> None:
    register_kind(
        Kind(
            ASSIGNED,
            "Assigned to me",
            "A conversation is assigned to you (by someone else or automatically).",
            position=10,
        ),
        Kind(MENTIONED, "Mentioned", "Someone mentions you in a private note.", position=20),
        Kind(
            REPLY,
            "Reply in my conversation",
            "A contact writes in a conversation assigned to you.",
            browser=False,
            position=30,
        ),
        Kind(
            SERVER_DOWN,
            "Channel server unreachable",
            "The server behind a channel (BlueBubbles on a Mac) stops answering, and when it "
            "answers again. Sent to those who manage channels.",
            email=True,
            position=40,
        ),
    )


def user_label(user) -> str:
    return user.get_full_name() or user.email


def mentionable_members(tenant: Tenant) -> QuerySet[Membership]:
    """The tenant's active members, with their user and role (who may see conversations is
    the role's: callers check ``conversations.view``)."""
    return (
        Membership.objects.filter(tenant=tenant, user__is_active=True)
        .select_related("user", "role")
        .order_by("user__first_name", "user__last_name", "user__email")
    )


def check_mentions(tenant: Tenant, body: str, mentions: Iterable[Any]) -> dict[int, str]:
    """The members a note mentions: user id -> ``@Name`` as the body writes it, in order.
    Refuses ids that are not members of ``tenant`` who see conversations (the same answer for
    every such id); drops those the text no longer names."""
    ids: list[int] = []
    for raw in mentions:
        try:
            user_id = int(raw)
        except (TypeError, ValueError):
            raise ActionError("Mentions are user ids.") from None
        if user_id not in ids:
            ids.append(user_id)
    if not ids:
        return {}
    if len(ids) > MAX_MENTIONS:
        raise ActionError(f"A note can mention at most {MAX_MENTIONS} members.")
    members = {
        m.user_id: m
        for m in mentionable_members(tenant).filter(user_id__in=ids)
        if m.has_permission("conversations.view")
    }
    if len(members) != len(ids):
        raise ActionError("You can only mention members of this tenant who see conversations.")
    text = body.casefold()
    found = {}
    for user_id in ids:
        user = members[user_id].user
        for name in (f"@{user_label(user)}", f"@{user.email}"):
            start = text.find(name.casefold())
            if start >= 0:
                found[user_id] = body[start : start + len(name)]
                break
    return found


def _conversation_url(conversation: Conversation) -> str:
    return reverse("inbox:conversation", args=[conversation.pk])


def _contact(conversation: Conversation) -> str:
    """The contact as the inbox names them (a phone as the tenant's agents dial it)."""
    return contact_display(conversation.contact, conversation.tenant.default_region)


def notify_mentioned(message: Message, mentions: Iterable[int], *, actor) -> None:
    if not mentions:
        return
    conversation = message.conversation
    who = user_label(actor) if actor is not None else "Someone"
    do_notify(
        conversation.tenant,
        kind=MENTIONED,
        recipients=list(mentions),
        event_key=f"message:{message.pk}",
        title=f"{who} mentioned you · {_contact(conversation)}",
        text=message.body[:PREVIEW],
        url=f"{_conversation_url(conversation)}#msg-{message.pk}",
        target=conversation,
        actor=actor,
    )


def notify_assigned(conversation: Conversation, note: Message, *, actor) -> None:
    """``note`` is the "Assigned to … by …" line: one notification per assignment."""
    if conversation.assignee_id is None:
        return
    by = f" by {user_label(actor)}" if actor is not None else ""
    do_notify(
        conversation.tenant,
        kind=ASSIGNED,
        recipients=[conversation.assignee_id],
        event_key=f"message:{note.pk}",
        title=f"Assigned to you{by} · {_contact(conversation)}",
        text=f"{conversation.inbox.name}: conversation with {_contact(conversation)}",
        url=_conversation_url(conversation),
        target=conversation,
        actor=actor,
    )


def notify_reply(message: Message) -> None:
    """An ``on_message_received`` hook: the contact wrote in a conversation assigned to
    someone."""
    conversation = message.conversation
    if conversation.assignee_id is None:
        return
    do_notify(
        conversation.tenant,
        kind=REPLY,
        recipients=[conversation.assignee_id],
        event_key=f"message:{message.pk}",
        title=f"{_contact(conversation)} replied",
        text=(message.body or message.subject or "An attachment")[:PREVIEW],
        url=f"{_conversation_url(conversation)}#msg-{message.pk}",
        target=conversation,
    )


def _channel_admins(tenant: Tenant) -> list[int]:
    return [
        member.user_id
        for member in mentionable_members(tenant)
        if member.has_permission("inboxes.manage")
    ]


def notify_server_unreachable(inbox, health) -> None:
    """Once per outage (keyed by when it started)."""
    do_notify(
        inbox.tenant,
        kind=SERVER_DOWN,
        recipients=_channel_admins(inbox.tenant),
        event_key=f"inbox:{inbox.pk}:down:{health.unreachable_since.timestamp():.0f}",
        title=f"{inbox.name}: the server is unreachable",
        text=f"{health.failures} checks in a row failed. Last: {health.last_failure}"[:PREVIEW],
        url=reverse("settings:channel", args=[inbox.pk]),
        target=inbox,
    )


def notify_server_back(inbox, *, since) -> None:
    do_notify(
        inbox.tenant,
        kind=SERVER_DOWN,
        recipients=_channel_admins(inbox.tenant),
        event_key=f"inbox:{inbox.pk}:up:{since.timestamp():.0f}",
        title=f"{inbox.name}: the server answers again",
        text="Missed messages are being caught up.",
        url=reverse("settings:channel", args=[inbox.pk]),
        target=inbox,
    )
