"""What chat providers (iMessage) report besides new messages from the contact: our own
messages echoed back, reactions, edits and unsends, group renames and members coming and going.
:func:`apply_chat_event` routes one event to its action, for webhooks and catching up alike.

An echo is matched to the send it confirms, never stored twice: by the provider's id once
known, by the echoed ``client_ref``, or, while the send is still in flight, by its text in the
same thread (the provider's own matching is text-based too). An echo that matches nothing was
sent from another device of the account (the Mac, the phone) and joins the thread as an
outbound message, with a Delivery so its later status updates land like any other.
"""

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from contacts.models import Contact
from contacts.phones import format_phone
from inbox.actions.contact_signals import conversation_of
from inbox.actions.receive import _store_media, do_apply_status, do_receive_message
from inbox.models import Conversation, Delivery, Inbox, Message
from inbox.payloads import conversation_payload, message_payload
from inbox.providers.base import (
    GroupChanged,
    MalformedWebhook,
    MessageEchoed,
    MessageEdited,
    MessageReceived,
    ReactionAdded,
    StatusEvent,
)
from omnichannel.events import EventType, publish
from omnichannel.text import clean_text

# How long an unconfirmed send may be matched to an echo by its text.
TEXT_MATCH_WINDOW = timedelta(minutes=10)
MAX_REACTIONS = 20


def _status_event(event: MessageEchoed) -> StatusEvent:
    return StatusEvent(
        provider_message_id=event.external_id,
        status=event.status,
        error_code=event.error_code,
        error_message=event.error_message,
        fall_back=event.fall_back,
    )


def _bind(delivery: Delivery, external_id: str) -> None:
    """Record the provider's id on a send whose echo came first (before the send's answer)."""
    Delivery.objects.filter(pk=delivery.pk, provider_message_id="").update(
        provider_message_id=external_id
    )


def _in_flight_by_text(inbox: Inbox, event: MessageEchoed) -> Delivery | None:
    if not event.body:
        return None
    candidates = Delivery.objects.for_tenant(inbox.tenant).filter(
        inbox=inbox,
        provider_message_id="",
        status__in=(Message.Status.SENDING, Message.Status.SENT),
        created_at__gte=timezone.now() - TEXT_MATCH_WINDOW,
        message__body=event.body,
    )
    if event.thread_ref:
        by_thread = candidates.filter(message__conversation__external_thread_id=event.thread_ref)
        if event.recipient:
            by_thread = by_thread | candidates.filter(recipient=event.recipient)
        candidates = by_thread
    elif event.recipient:
        candidates = candidates.filter(recipient=event.recipient)
    return candidates.order_by("id").first()


@transaction.atomic
def do_record_echo(inbox: Inbox, event: MessageEchoed) -> str:
    """Confirm our send that ``event`` echoes (moving its status forward), or store a message
    sent from another device; the journal note."""
    deliveries = Delivery.objects.for_tenant(inbox.tenant).filter(inbox=inbox)
    known = deliveries.filter(provider_message_id=event.external_id).first()
    if known is None and event.client_ref:
        base, _, part = event.client_ref.partition(".")
        ours = deliveries.filter(client_ref=base).first()
        if ours is not None and part:
            return f"Part {part[:10]} (an attachment) of delivery {ours.pk}: nothing to store."
        if ours is not None:
            _bind(ours, event.external_id)
            known = ours
    if known is None and not event.client_ref:
        known = _in_flight_by_text(inbox, event)
        if known is not None:
            _bind(known, event.external_id)
    if known is not None:
        delivery = do_apply_status(inbox, _status_event(event))
        if delivery is None:
            return f"Delivery {known.pk} is bound to another message id; nothing changed."
        return f"Echo of delivery {delivery.pk}, now {delivery.status}."
    if event.client_ref or event.api_send:
        return "An echo of a send this inbox does not know (another app on the server?)."
    return _store_from_device(inbox, event)


def _store_from_device(inbox: Inbox, event: MessageEchoed) -> str:
    if Message.objects.filter(inbox=inbox, external_id=event.external_id).exists():
        return f"Message {event.external_id[:100]} is already stored."
    conversation = conversation_of(inbox, sender=event.recipient, thread_ref=event.thread_ref)
    if conversation is None:
        return "Sent from the account's device to someone with no active conversation here."
    at = event.sent_at or timezone.now()
    try:
        with transaction.atomic():
            message = Message.objects.create(
                tenant=inbox.tenant,
                conversation=conversation,
                inbox=inbox,
                direction=Message.Direction.OUTBOUND,
                sender_type=Message.SenderType.AGENT,
                body=clean_text(event.body),
                external_id=event.external_id,
                status=event.status,
                error_code=event.error_code[:20],
                error_message=event.error_message[:500],
                metadata={"from_device": True},
                created_at=at,
            )
            Delivery.objects.create(
                tenant=inbox.tenant,
                message=message,
                inbox=inbox,
                provider=inbox.provider,
                recipient=event.recipient or conversation.contact.phone or "",
                status=event.status,
                provider_message_id=event.external_id,
                attempts=1,
                created_at=at,
                last_attempt_at=at,
                sent_at=at,
            )
    except IntegrityError:
        return f"Message {event.external_id[:100]} is already stored."
    attachments = _store_media(message, event.media)
    from inbox.tasks.webhooks import fetch_attachment_task

    for attachment in attachments:
        transaction.on_commit(lambda pk=attachment.pk: fetch_attachment_task.delay(pk))
    Conversation.objects.filter(pk=conversation.pk).update(
        last_message_at=Greatest(Coalesce(F("last_message_at"), at), at)
    )
    publish(inbox.tenant, EventType.MESSAGE_CREATED, message_payload(message))
    return f"Sent from the account's device: stored as message {message.pk}."


def _message_by_provider_id(inbox: Inbox, external_id: str) -> Message | None:
    """A thread's message by the provider's id: one received (or sent on the device), or one
    Centro sent (the id is on its delivery)."""
    messages = Message.objects.for_tenant(inbox.tenant).select_for_update()
    found = messages.filter(inbox=inbox, external_id=external_id).first()
    if found is None:
        delivery = (
            Delivery.objects.for_tenant(inbox.tenant)
            .filter(inbox=inbox, provider_message_id=external_id)
            .values_list("message_id", flat=True)
            .first()
        )
        found = messages.filter(pk=delivery).first() if delivery else None
    return found


def _updated(message: Message) -> None:
    publish(
        message.tenant,
        EventType.MESSAGE_UPDATED,
        {"id": message.pk, "conversation_id": message.conversation_id},
    )


@transaction.atomic
def do_apply_reaction(inbox: Inbox, event: ReactionAdded) -> str:
    """Show (or take off) a reaction on the message it is about: one per person, the latest."""
    message = _message_by_provider_id(inbox, event.external_id)
    if message is None:
        return f"No message {event.external_id[:100]} to react to."
    reactions = dict((message.metadata or {}).get("reactions") or {})
    sender = event.sender[:200]
    if event.removed:
        if reactions.get(sender) != event.reaction:
            return f"Message {message.pk}: no such reaction to take off."
        del reactions[sender]
    else:
        if reactions.get(sender) == event.reaction:
            return f"Message {message.pk}: the reaction is already shown."
        if len(reactions) >= MAX_REACTIONS and sender not in reactions:
            return f"Message {message.pk}: too many reactions to show another."
        reactions[sender] = clean_text(event.reaction)[:20]
    message.metadata = {**(message.metadata or {}), "reactions": reactions}
    message.save(update_fields=["metadata"])
    _updated(message)
    verb = "took off" if event.removed else "reacted"
    return f"Message {message.pk}: {verb} {event.reaction}."


@transaction.atomic
def do_apply_edit(inbox: Inbox, event: MessageEdited) -> str:
    """A message the contact edited (new text, the first version kept) or unsent."""
    message = _message_by_provider_id(inbox, event.external_id)
    if message is None:
        return f"No message {event.external_id[:100]} to change."
    metadata = dict(message.metadata or {})
    if event.deleted:
        if metadata.get("unsent"):
            return f"Message {message.pk} is already unsent."
        metadata["unsent"] = True
        message.metadata = metadata
        message.save(update_fields=["metadata"])
        _updated(message)
        return f"Message {message.pk} was unsent."
    body = clean_text(event.body)
    if body == message.body:
        return f"Message {message.pk}: the text is unchanged."
    metadata.setdefault("original_body", message.body)
    metadata["edited"] = True
    message.metadata = metadata
    message.body = body
    message.save(update_fields=["metadata", "body"])
    _updated(message)
    return f"Message {message.pk} was edited."


def apply_chat_event(inbox: Inbox, event, *, new: bool = True) -> str:
    """Apply one message event of a chat provider; the journal's note. ``new``: the provider
    reported the message as new (a webhook's ``new-message``, or catching up), not as an update
    of one it reported before, which never stores a received message (it has no thread)."""
    if event is None:
        return "An event the inbox does not use."
    if isinstance(event, MessageEchoed):
        return do_record_echo(inbox, event)
    if isinstance(event, ReactionAdded):
        return do_apply_reaction(inbox, event)
    if isinstance(event, MessageEdited):
        return do_apply_edit(inbox, event)
    if isinstance(event, GroupChanged):
        return do_apply_group_change(inbox, event)
    if isinstance(event, MessageReceived):
        if not new:
            # An update of a received message (read or downloaded on the Mac).
            stored = Message.objects.filter(inbox=inbox, external_id=event.external_id).exists()
            return (
                "Update of a received message: nothing to change."
                if stored
                else "Update of a received message this inbox never saw: not stored."
            )
        return do_receive_message(inbox, event).note
    raise MalformedWebhook("The message event could not be read.")


GROUP_NOTES = {
    GroupChanged.RENAMED: "{actor} named the group “{title}”.",
    GroupChanged.ADDED: "{actor} added {who} to the group.",
    GroupChanged.REMOVED: "{actor} removed {who} from the group.",
    GroupChanged.LEFT: "{actor} left the group.",
}


def _group_title(conversation: Conversation, title: str) -> str:
    """The subject a renamed group's conversation gets: as a group thread's is built (name,
    then the end of its chat id, see ``receive._group_conversation``)."""
    suffix = conversation.external_thread_id.rsplit(";", 1)[-1][-6:]
    return f"{title} ({suffix})"[:500]


@transaction.atomic
def do_apply_group_change(inbox: Inbox, event: GroupChanged) -> str:
    """A group thread renamed, or a member added, removed or gone: the conversation's subject
    and participants follow, and the thread gets a private note saying what happened (keyed by
    the provider's id of the change, so a repeat changes nothing)."""
    conversation = (
        Conversation.objects.for_tenant(inbox.tenant)
        .select_for_update()
        .select_related("tenant")
        .filter(inbox=inbox, external_thread_id=event.thread_ref, status__in=Conversation.ACTIVE)
        .order_by("-id")
        .first()
    )
    if conversation is None:
        return f"No active conversation for the group {event.thread_ref[:100]}: nothing to change."
    if Message.objects.filter(inbox=inbox, external_id=event.external_id).exists():
        return f"Group change {event.external_id[:100]} is already applied."
    before = list(conversation.participants or [])
    changed = []
    participants = [clean_text(address)[:200] for address in event.participants[:50]]
    if participants and participants != before:
        conversation.participants = participants
        changed.append("participants")
    elif event.action == GroupChanged.LEFT and event.actor in before:
        conversation.participants = [address for address in before if address != event.actor]
        changed.append("participants")
    title = clean_text(event.title).strip()
    if event.action == GroupChanged.RENAMED and title:
        conversation.subject = _group_title(conversation, title)
        changed.append("subject")
    if changed:
        conversation.save(update_fields=changed)
    if event.action == GroupChanged.ADDED:
        moved = [a for a in conversation.participants if a not in before]
    else:
        moved = [a for a in before if a not in conversation.participants]
    names = _names(inbox.tenant, [*moved, event.actor])
    who = ", ".join(names[address] for address in moved) or "someone"
    actor = names[event.actor] if event.actor else "This account"
    body = GROUP_NOTES[event.action].format(actor=actor, who=who, title=title)
    try:
        with transaction.atomic():
            note = Message.objects.create(
                tenant=inbox.tenant,
                conversation=conversation,
                inbox=inbox,
                direction=Message.Direction.OUTBOUND,
                sender_type=Message.SenderType.SYSTEM,
                body=body,
                is_private=True,
                status=Message.Status.SENT,
                external_id=event.external_id,
                metadata={"event": f"group_{event.action}"},
                created_at=event.at or timezone.now(),
            )
    except IntegrityError:
        return f"Group change {event.external_id[:100]} is already applied."
    publish(inbox.tenant, EventType.MESSAGE_CREATED, message_payload(note))
    if changed:
        publish(
            inbox.tenant,
            EventType.CONVERSATION_UPDATED,
            conversation_payload(conversation, changed=changed),
        )
    return f"Group change noted as message {note.pk} in conversation {conversation.pk}."


def _names(tenant, addresses: list[str]) -> dict[str, str]:
    """How the thread names each address: its contact's name, else the formatted number (or
    the email address)."""
    wanted = [address for address in addresses if address]
    named = {}
    for contact in Contact.objects.for_tenant(tenant).filter(
        Q(phone__in=wanted) | Q(email__in=wanted), ~Q(name="")
    ):
        named[contact.phone] = named[contact.email] = contact.name
    return {
        address: named.get(address) or format_phone(address, tenant.default_region)
        for address in wanted
    }
