"""What a contact does besides writing, as their channel reports it: typing and reading.

Typing is only shown (published to the agents viewing the conversation, nothing stored); a
read receipt moves the conversation's sent messages to "read", forward only, the way a status
callback does.
"""

from django.db.models import Q

from contacts.actions import get_or_create_contact_by_phone
from contacts.phones import InvalidPhone, contact_display
from inbox.actions.receive import do_apply_status
from inbox.models import Conversation, Delivery, Inbox, Message
from inbox.providers.base import ReadChanged, StatusEvent, TypingChanged
from omnichannel.events import EventType, publish

# A read receipt covers the conversation's latest sent messages, at most this many.
READ_BATCH = 50
CONTACT_NAME_LENGTH = 60


def conversation_of(inbox: Inbox, *, sender: str, thread_ref: str = "") -> Conversation | None:
    """The active conversation in ``inbox`` the signal is about: the provider's thread when it
    names one, else the sender's."""
    active = Conversation.objects.for_tenant(inbox.tenant).filter(
        inbox=inbox, status__in=Conversation.ACTIVE
    )
    if thread_ref:
        found = active.filter(external_thread_id=thread_ref).select_related("contact").first()
        if found is not None:
            return found
    try:
        contact, _ = get_or_create_contact_by_phone(inbox.tenant, phone=sender, create=False)
    except InvalidPhone:
        return None
    if contact is None:
        return None
    return active.filter(contact=contact).select_related("contact").order_by("-id").first()


def do_note_contact_typing(inbox: Inbox, event: TypingChanged) -> str:
    """Show the agents viewing the conversation that the contact is (no longer) typing."""
    conversation = conversation_of(inbox, sender=event.sender, thread_ref=event.thread_ref)
    if conversation is None:
        return "No active conversation for this typing signal."
    contact = conversation.contact
    name = contact_display(contact, inbox.tenant.default_region)[:CONTACT_NAME_LENGTH]
    publish(
        inbox.tenant,
        EventType.CONTACT_TYPING,
        {"conversation_id": conversation.pk, "typing": event.typing, "name": name},
        conversation=conversation,
    )
    return (
        f"Conversation {conversation.pk}: the contact {'is' if event.typing else 'stopped'} typing."
    )


def do_apply_read(inbox: Inbox, event: ReadChanged) -> str:
    """Move the conversation's messages the contact has now read to "read"."""
    if not event.read:
        return "Marked unread by the contact: nothing changes here."
    conversation = conversation_of(inbox, sender=event.sender, thread_ref=event.thread_ref)
    if conversation is None:
        return "No active conversation for this read receipt."
    unread = (
        Delivery.objects.for_tenant(inbox.tenant)
        .filter(
            message__conversation=conversation,
            inbox=inbox,
            status__in=(Message.Status.SENT, Message.Status.DELIVERED),
        )
        .exclude(provider_message_id="")
        .filter(Q(sent_at__lte=event.read_at) if event.read_at else Q())
        .order_by("-id")
        .values_list("provider_message_id", flat=True)[:READ_BATCH]
    )
    moved = [
        do_apply_status(inbox, StatusEvent(provider_message_id=pid, status=Message.Status.READ))
        for pid in unread
    ]
    return f"Conversation {conversation.pk}: {len(moved)} message(s) read."
