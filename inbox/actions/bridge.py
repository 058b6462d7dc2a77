"""A helpdesk bridged into Centro (Chatwoot): its contacts matched to the tenant's, its
conversations mirrored, statuses kept in step both ways, and each bridged event on the
contact's timeline (:class:`inbox.models.BridgeActivity`).

The inbox's provider key names the contact's id over there (``Contact.external_ids[key]``);
nothing here compares provider names. The inbox's switches: ``mirror`` (show the helpdesk's
conversations in Centro), ``create_contacts`` (a contact nobody matches becomes a Centro
contact; otherwise it is listed as an :class:`inbox.models.UnmatchedContact` to link by hand).

Loops: a status change that came from the helpdesk is applied ``from_provider`` and never
pushed back; a change Centro pushes comes back as a webhook with the status the conversation
already has, which changes nothing. Messages Centro posted come back as echoes that only
confirm their delivery.
"""

import logging
from dataclasses import dataclass, replace
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from contacts.actions import (
    InvalidEmail,
    do_link_external_ids,
    get_or_create_contact_by_email,
    get_or_create_contact_by_phone,
)
from contacts.models import Contact
from contacts.phones import InvalidPhone, normalize_phone
from contacts.services import find_contact_by_email, find_contact_by_phone
from inbox import hooks
from inbox.actions.chat_events import _in_flight_by_text, apply_chat_event
from inbox.actions.conversations import do_update_conversation, get_or_open_active_conversation
from inbox.actions.receive import _store_media
from inbox.models import (
    BridgeActivity,
    Conversation,
    Delivery,
    Inbox,
    Message,
    UnmatchedContact,
)
from inbox.payloads import conversation_payload, message_payload
from inbox.providers.base import (
    ConversationChanged,
    MalformedWebhook,
    MessageEchoed,
    MessageEdited,
    MessageReceived,
)
from omnichannel import audit
from omnichannel.actions import ActionError
from omnichannel.events import EventType, publish
from omnichannel.models import AuditEvent
from omnichannel.text import clean_text

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BridgedContact:
    """A contact of the helpdesk: its id there and what it says of them."""

    external_id: str
    name: str = ""
    phone: str = ""
    email: str = ""


def _key(inbox: Inbox) -> str:
    return inbox.provider


def _note(
    inbox: Inbox,
    contact: Contact,
    kind: str,
    summary: str,
    *,
    conversation: Conversation | None = None,
    direction: str = "in",
    at: datetime | None = None,
) -> None:
    BridgeActivity.objects.create(
        tenant_id=inbox.tenant_id,
        contact=contact,
        inbox=inbox,
        conversation=conversation,
        kind=kind,
        direction=direction,
        summary=clean_text(summary)[:300],
        at=at or timezone.now(),
    )


def _by_external_id(inbox: Inbox, external_id: str) -> Contact | None:
    return (
        Contact.objects.for_tenant(inbox.tenant)
        .filter(external_ids__contains={_key(inbox): external_id}, erased_at__isnull=True)
        .order_by("id")
        .first()
    )


def _phone_of(inbox: Inbox, person: BridgedContact) -> str:
    try:
        return normalize_phone(person.phone, inbox.tenant.default_region) if person.phone else ""
    except InvalidPhone:
        return ""


def _by_address(inbox: Inbox, person: BridgedContact) -> Contact | None:
    """The tenant's contact with the person's number (any of theirs, any format: Mexico's
    old ``+52 1`` mobiles included), else with their email address."""
    phone = _phone_of(inbox, person)
    found = find_contact_by_phone(inbox.tenant, phone) if phone else None
    if found is None and person.email:
        found = find_contact_by_email(inbox.tenant, person.email)
    if found is not None and found.erased_at is not None:
        return None
    return found


def _created(inbox: Inbox, person: BridgedContact) -> Contact | None:
    phone = _phone_of(inbox, person)
    try:
        if phone:
            contact, _ = get_or_create_contact_by_phone(
                inbox.tenant,
                phone=phone,
                name=person.name,
                created_via=Contact.CreatedVia.CHATWOOT,
            )
        elif person.email:
            contact, _ = get_or_create_contact_by_email(
                inbox.tenant,
                email=person.email,
                name=person.name,
                created_via=Contact.CreatedVia.CHATWOOT,
            )
        else:
            return None
    except (InvalidPhone, InvalidEmail):
        return None
    if contact is not None and person.email and not contact.email and phone:
        Contact.objects.filter(pk=contact.pk).update(email=person.email[:254])
    return contact


def _remember(inbox: Inbox, contact: Contact, person: BridgedContact, how: str) -> None:
    """Store the helpdesk's id on the contact (once) and put the link on their timeline. A
    contact already linked to another helpdesk contact (a duplicate over there, found by the
    same email address) keeps its link."""
    key = _key(inbox)
    ids = dict(contact.external_ids or {})
    if ids.get(key):
        return
    # Linked, the helpdesk contact gets Centro's attributes (contacts.hooks).
    do_link_external_ids(contact.pk, {key: person.external_id})
    contact.external_ids = {**ids, key: person.external_id}
    _settle_unmatched(inbox, person.external_id, contact)
    _note(
        inbox,
        contact,
        BridgeActivity.Kind.LINKED,
        f"Linked to {inbox.provider_label} contact {person.external_id} ({how}).",
    )


def _settle_unmatched(inbox: Inbox, external_id: str, contact: Contact) -> None:
    """The unmatched row of a contact now linked: kept as a record of the link, without the
    person's name, phone and email (the contact holds them now, and an erasure finds them
    there)."""
    UnmatchedContact.objects.filter(
        inbox=inbox, external_id=external_id, linked_at__isnull=True
    ).update(linked_contact=contact, linked_at=timezone.now(), name="", phone="", email="")


def _unmatched(inbox: Inbox, person: BridgedContact, thread_ref: str) -> None:
    now = timezone.now()
    fields = {
        "name": person.name[:200],
        "phone": person.phone[:40],
        "email": person.email[:254],
        "last_seen_at": now,
    }
    if thread_ref:
        fields["thread_ref"] = thread_ref[:200]
    updated = UnmatchedContact.objects.filter(inbox=inbox, external_id=person.external_id).update(
        seen=F("seen") + 1, **fields
    )
    if updated:
        return
    try:
        with transaction.atomic():
            UnmatchedContact.objects.create(
                tenant_id=inbox.tenant_id,
                inbox=inbox,
                external_id=person.external_id,
                first_seen_at=now,
                **fields,
            )
    except IntegrityError:  # the same contact's other event, concurrently
        UnmatchedContact.objects.filter(inbox=inbox, external_id=person.external_id).update(
            seen=F("seen") + 1, **fields
        )


def do_match_bridged_contact(
    inbox: Inbox, person: BridgedContact | None, *, thread_ref: str = ""
) -> Contact | None:
    """The tenant's contact for the helpdesk's ``person``: by the helpdesk id stored on a
    contact, else by phone number, else by email address (the id is then stored). None when
    nobody matches: created instead when the inbox's ``create_contacts`` is on, else listed as
    unmatched (with ``thread_ref``, the conversation waiting for it)."""
    if person is None or not person.external_id:
        return None
    contact = _by_external_id(inbox, person.external_id)
    if contact is not None:
        return contact
    contact = _by_address(inbox, person)
    if contact is not None:
        _remember(inbox, contact, person, "same phone number or email")
        return contact
    if inbox.option("create_contacts", False):
        contact = _created(inbox, person)
        if contact is not None:
            _remember(inbox, contact, person, "created from it")
            return contact
    _unmatched(inbox, person, thread_ref)
    return None


@transaction.atomic
def do_link_unmatched(unmatched: UnmatchedContact, contact: Contact, *, acting_user=None) -> None:
    """Link an unmatched helpdesk contact to ``contact`` (of the same tenant) by hand; its
    conversation mirrors from its next event on."""
    if contact.tenant_id != unmatched.tenant_id or contact.erased_at is not None:
        raise ActionError("No such contact.", code="not_found")
    inbox = Inbox.objects.select_related("tenant").get(pk=unmatched.inbox_id)
    key = _key(inbox)
    current = (contact.external_ids or {}).get(key)
    if current and current != unmatched.external_id:
        raise ActionError(
            f"{contact} is already linked to {inbox.provider_label} contact {current}.",
            code="conflict",
        )
    taken = _by_external_id(inbox, unmatched.external_id)
    if taken is not None and taken.pk != contact.pk:
        raise ActionError(
            f"{inbox.provider_label} contact {unmatched.external_id} is already linked to {taken}.",
            code="conflict",
        )
    person = BridgedContact(unmatched.external_id, unmatched.name, unmatched.phone)
    who = acting_user.get_full_name() or acting_user.email if acting_user else "an admin"
    _remember(inbox, contact, person, f"by {who}")
    _settle_unmatched(inbox, unmatched.external_id, contact)
    audit.record(
        AuditEvent.Action.CONTACT_CHANGED,
        tenant=inbox.tenant,
        actor=acting_user,
        target=contact,
        data={"changed": ["external_ids"], "linked": {_key(inbox): unmatched.external_id}},
    )


def _conversation(
    inbox: Inbox, contact: Contact | None, thread_ref: str, *, open_one: bool
) -> Conversation | None:
    """The Centro conversation mirroring the helpdesk's ``thread_ref`` (locked), opened for
    ``contact`` when ``open_one``. A contact has one active conversation per inbox: a second
    helpdesk conversation active at once gets its own subject to keep them apart."""
    found = (
        Conversation.objects.for_tenant(inbox.tenant)
        .select_for_update()
        .filter(inbox=inbox, external_thread_id=thread_ref)
        .order_by("-id")
        .first()
    )
    if found is not None or not open_one or contact is None or not thread_ref:
        return found
    conversation = get_or_open_active_conversation(inbox, contact)
    if conversation.external_thread_id not in ("", thread_ref):
        subject = f"{inbox.provider_label} conversation #{thread_ref}"[:500]
        conversation = get_or_open_active_conversation(inbox, contact, subject=subject)
    if conversation.external_thread_id != thread_ref:
        conversation.external_thread_id = thread_ref
        Conversation.objects.filter(pk=conversation.pk).update(external_thread_id=thread_ref)
    return conversation


def _sent_by_centro(inbox: Inbox, event: MessageEchoed) -> bool:
    """Whether an "agent's" message is one Centro posted: its delivery has the message's id,
    or, the send's answer not recorded yet, one in flight has its text in the thread."""
    known = (
        Delivery.objects.for_tenant(inbox.tenant)
        .filter(inbox=inbox, provider_message_id=event.external_id)
        .exists()
    )
    return known or _in_flight_by_text(inbox, event) is not None


def _mirroring(inbox: Inbox) -> bool:
    return bool(inbox.option("mirror", False))


@transaction.atomic
def do_bridge_message(inbox: Inbox, event, person: BridgedContact | None) -> str:
    """One message event of the helpdesk; the journal's note.

    Centro's own posts (echoes) only confirm their delivery. Otherwise the contact is matched
    (whether or not the inbox mirrors) and, when the inbox mirrors, the customer's message is
    stored inbound and an agent's reply outbound (its agent named, "via" the helpdesk) in the
    conversation mirroring the helpdesk's; edits change the stored text."""
    if event is None:
        return "An event the inbox does not mirror (a private note or an activity line)."
    if isinstance(event, MessageEchoed) and (event.client_ref or event.api_send):
        return apply_chat_event(inbox, event)
    if isinstance(event, MessageEchoed) and _sent_by_centro(inbox, event):
        # Ours after all: the channel replaced our source_id (a WhatsApp message id) before
        # Chatwoot built the webhook. Only its delivery moves.
        return apply_chat_event(inbox, replace(event, api_send=True))
    if isinstance(event, MessageEdited):
        return apply_chat_event(inbox, event) if _mirroring(inbox) else "Not mirrored."
    thread_ref = getattr(event, "thread_ref", "")
    contact = do_match_bridged_contact(inbox, person, thread_ref=thread_ref)
    if contact is None:
        return (
            "The helpdesk contact matches no contact here: listed as unmatched, nothing mirrored."
            if person
            else "The message names no contact: nothing mirrored."
        )
    if not _mirroring(inbox):
        return f"Matched contact {contact.pk}; the inbox does not mirror conversations."
    if Message.objects.filter(inbox=inbox, external_id=event.external_id).exists():
        return f"Message {event.external_id[:100]} is already stored."
    conversation = _conversation(inbox, contact, thread_ref, open_one=True)
    if conversation is None:
        raise MalformedWebhook("The message names no conversation.")
    if isinstance(event, MessageReceived):
        return _store(inbox, conversation, contact, event, inbound=True)
    if isinstance(event, MessageEchoed):
        return _store(inbox, conversation, contact, event, inbound=False)
    return "An event the inbox does not mirror."


def _store(
    inbox: Inbox,
    conversation: Conversation,
    contact: Contact,
    event: MessageReceived | MessageEchoed,
    *,
    inbound: bool,
) -> str:
    at = (event.received_at if inbound else event.sent_at) or timezone.now()
    metadata = {
        key: clean_text(value) if isinstance(value, str) else value
        for key, value in dict(event.metadata).items()
    }
    try:
        with transaction.atomic():
            message = Message.objects.create(
                tenant_id=inbox.tenant_id,
                conversation=conversation,
                inbox=inbox,
                direction=Message.Direction.INBOUND if inbound else Message.Direction.OUTBOUND,
                sender_type=Message.SenderType.CONTACT if inbound else Message.SenderType.AGENT,
                status=Message.Status.RECEIVED if inbound else event.status,
                body=clean_text(event.body),
                external_id=event.external_id,
                metadata=metadata,
                created_at=at,
            )
    except IntegrityError:
        return f"Message {event.external_id[:100]} is already stored."
    attachments = _store_media(message, event.media)
    times = {"last_message_at": Greatest(Coalesce(F("last_message_at"), at), at)}
    if inbound:
        times["last_inbound_at"] = Greatest(Coalesce(F("last_inbound_at"), at), at)
    Conversation.objects.filter(pk=conversation.pk).update(**times)
    if inbound:
        hooks.message_received(message)
    from inbox.tasks.webhooks import fetch_attachment_task

    for attachment in attachments:
        transaction.on_commit(lambda pk=attachment.pk: fetch_attachment_task.delay(pk))
    label = inbox.provider_label
    if inbound:
        summary = (
            f"Message from the contact in {label} conversation #{conversation.external_thread_id}"
        )
        kind = BridgeActivity.Kind.MESSAGE_IN
    else:
        agent = metadata.get("agent") or "an agent"
        summary = f"Reply by {agent} via {label} in conversation #{conversation.external_thread_id}"
        kind = BridgeActivity.Kind.MESSAGE_OUT
    _note(inbox, contact, kind, summary, conversation=conversation, at=at)
    # The row is locked (``_conversation``): what the UPDATE set follows from what was read.
    conversation.last_message_at = max(filter(None, (conversation.last_message_at, at)))
    if inbound:
        conversation.last_inbound_at = max(filter(None, (conversation.last_inbound_at, at)))
    publish(inbox.tenant, EventType.MESSAGE_CREATED, message_payload(message))
    publish(inbox.tenant, EventType.CONVERSATION_UPDATED, conversation_payload(conversation))
    return f"Mirrored as message {message.pk} in conversation {conversation.pk}."


def _same_status(conversation: Conversation, status: str) -> bool:
    """Whether the helpdesk's ``status`` is what the conversation already is (its echo of
    Centro's own change): closed and archived are both its "resolved"; a snoozed one stays
    snoozed whatever wake-up time comes back."""
    if status == Conversation.Status.CLOSED:
        return conversation.status not in Conversation.ACTIVE
    return conversation.status == status


@transaction.atomic
def do_bridge_conversation(
    inbox: Inbox, event: ConversationChanged, person: BridgedContact | None
) -> str:
    """A helpdesk conversation created or changed: its contact matched and, when the inbox
    mirrors, its Centro conversation opened; a status it reports applied (never pushed back,
    and a no-op when the conversation already has it)."""
    contact = do_match_bridged_contact(inbox, person, thread_ref=event.thread_ref)
    conversation = _conversation(
        inbox, contact, event.thread_ref, open_one=_mirroring(inbox) and contact is not None
    )
    if conversation is None:
        if contact is None and person is not None:
            return "The helpdesk contact matches no contact here: listed as unmatched."
        return f"No conversation mirrors {event.thread_ref[:100]}: nothing to change."
    if not event.status:
        return f"Conversation {conversation.pk} mirrors {event.thread_ref[:100]}."
    if _same_status(conversation, event.status):
        return f"Conversation {conversation.pk} is already {conversation.status}."
    until = event.changes.get("snoozed_until")
    status = event.status
    snoozed_until = datetime.fromisoformat(until) if until else None
    if status == Conversation.Status.SNOOZED and (
        snoozed_until is None or snoozed_until <= timezone.now()
    ):
        status, snoozed_until = Conversation.Status.PENDING, None
    before = conversation.status
    try:
        do_update_conversation(
            conversation,
            status=status,
            snoozed_until=snoozed_until if status == Conversation.Status.SNOOZED else None,
            side_effect=True,
            from_provider=True,
        )
    except ActionError as exc:
        return f"Conversation {conversation.pk} kept its status: {exc}"
    _note(
        inbox,
        conversation.contact,
        BridgeActivity.Kind.STATUS,
        f"{inbox.provider_label} conversation #{event.thread_ref} went from {before} to {status}.",
        conversation=conversation,
    )
    return f"Conversation {conversation.pk} is now {status}."


def push_status_after_commit(conversation: Conversation) -> None:
    """After a Centro status change of a bridged conversation: tell the other side, once the
    change is committed (a rolled-back change pushes nothing). Providers that cannot take it
    (no ``push_status``) are left alone."""
    from inbox.providers import UnknownProvider, provider_class

    if not conversation.external_thread_id:
        return
    key = Inbox.objects.filter(pk=conversation.inbox_id).values_list("provider", flat=True).first()
    try:
        pushes = callable(getattr(provider_class(key or ""), "push_status", None))
    except UnknownProvider:
        return
    if not pushes:
        return
    from inbox.tasks.bridge import push_status_task

    transaction.on_commit(lambda pk=conversation.pk: push_status_task.delay(pk))


def do_push_status(conversation_id: int) -> str:
    """Push the conversation's status as it is now (a later change meanwhile wins) to the
    helpdesk; ``ProviderError`` when it could not (the task retries the temporary ones)."""
    from inbox.providers import get_provider

    conversation = (
        Conversation.objects.select_related("inbox__tenant", "contact")
        .filter(pk=conversation_id)
        .first()
    )
    if conversation is None or not conversation.external_thread_id:
        return "Nothing to push: the conversation is gone or not bridged."
    inbox = conversation.inbox
    get_provider(inbox).push_status(
        conversation.external_thread_id, conversation.status, conversation.snoozed_until
    )
    _note(
        inbox,
        conversation.contact,
        BridgeActivity.Kind.STATUS,
        f"Status {conversation.status} sent to {inbox.provider_label} conversation "
        f"#{conversation.external_thread_id}.",
        conversation=conversation,
        direction="out",
    )
    return f"Pushed {conversation.status}."
