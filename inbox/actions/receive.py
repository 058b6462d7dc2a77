"""What arrives from providers: inbound messages, delivery status callbacks, inbound media.

Webhooks (inbox.webhooks) verify and journal the request, parse it into normalized events and
call these actions. Each action is one transaction; realtime events and Celery tasks are
scheduled on commit. Provider ids are unique keys, so repeating an event is a no-op.
"""

import logging
import mimetypes
import posixpath
from dataclasses import dataclass
from typing import ClassVar
from urllib.parse import urlsplit

import httpx
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from contacts.actions import (
    InvalidEmail,
    do_set_consent,
    get_or_create_contact_by_email,
    get_or_create_contact_by_phone,
)
from contacts.blocklist import is_blocked
from contacts.models import Consent
from contacts.phones import InvalidPhone, contact_display
from inbox import hooks
from inbox.actions.conversations import get_or_open_active_conversation
from inbox.actions.email_threads import MAX_REFERENCES, thread_inbound
from inbox.actions.fallback import do_fall_back
from inbox.models import (
    STATUS_RANK,
    TERMINAL_FAILURES,
    Attachment,
    Channel,
    Conversation,
    Delivery,
    Inbox,
    Message,
)
from inbox.payloads import conversation_payload, message_payload, message_status_payload
from inbox.providers import get_provider
from inbox.providers.base import (
    InboundMedia,
    MalformedWebhook,
    MessageReceived,
    ProviderError,
    StatusEvent,
    supports,
)
from omnichannel.events import EventType, publish
from omnichannel.outbound import DownloadError, download
from omnichannel.text import clean_text

logger = logging.getLogger(__name__)

# Single-word messages, matched case-insensitively after trimming (Twilio's defaults).
OPT_OUT_KEYWORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "END", "QUIT", "REVOKE", "OPTOUT", "CANCEL"}
)
OPT_IN_KEYWORDS = frozenset({"START", "YES", "UNSTOP"})
HELP_KEYWORDS = frozenset({"HELP", "INFO"})

MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024
MAX_CONTENT_IDS = 100
MEDIA_TIMEOUT = httpx.Timeout(30.0, connect=5.0)

# A send reported as not delivered after the provider accepted it may still fall back.
FALLBACK_CLOSABLE = (Message.Status.SENDING, Message.Status.SENT)

_STATUS_TIME_FIELDS = {
    Message.Status.SENT: "sent_at",
    Message.Status.DELIVERED: "delivered_at",
    Message.Status.READ: "read_at",
    Message.Status.FAILED: "failed_at",
    Message.Status.UNDELIVERED: "failed_at",
}
# A later status implies the earlier ones happened (WhatsApp may skip "delivered" before "read").
_IMPLIED_TIME_FIELDS = {
    Message.Status.DELIVERED: ("sent_at",),
    Message.Status.READ: ("sent_at", "delivered_at"),
}


def keyword_of(body: str) -> str:
    """The opt-out/opt-in/help keyword ``body`` consists of, upper-cased, or ``""``."""
    word = (body or "").strip().upper()
    if word in OPT_OUT_KEYWORDS or word in OPT_IN_KEYWORDS or word in HELP_KEYWORDS:
        return word
    return ""


# ---------------------------------------------------------------------------------------------
# Inbound messages


@dataclass(frozen=True)
class Outcome:
    """What receiving one message did, and the note the webhook journal keeps about it."""

    STORED: ClassVar[str] = "stored"
    DUPLICATE: ClassVar[str] = "duplicate"
    BLOCKED: ClassVar[str] = "blocked"
    UNKNOWN_SENDER: ClassVar[str] = "unknown_sender"
    OWN_ADDRESS: ClassVar[str] = "own_address"  # an email the inbox sent itself (a mail loop)

    kind: str
    note: str
    message: Message | None = None  # the new message, when stored
    existing_id: int | None = None  # the message a duplicate repeats


def do_receive_message(inbox: Inbox, event: MessageReceived) -> Outcome:
    """Store a message a contact sent, in the conversation its channel threads it into.

    Every channel comes this way: the provider's id is the dedupe key (``external_id``, or the
    Message-ID of an email; unique per inbox, also under concurrency), a blocklisted sender is
    dropped (as Twilio's blocklists do; the raw request stays in the webhook journal), the
    channel's threading finds the contact and the conversation (:func:`_thread_by_phone`, or
    ``email_threads`` for email), and the shared tail stores the message and its attachments,
    moves the conversation, applies an opt-out/opt-in keyword, calls the ``on_message_received``
    hooks (``inbox.hooks``) and auto-assigns. Nothing is stored for an unknown sender when the
    inbox's ``auto_create_contacts`` setting is off. Raises ``MalformedWebhook`` for a sender
    whose number is not usable.
    """
    existing = _stored_id(inbox, event)
    if existing is None:
        try:
            return _receive(inbox, event)
        except IntegrityError:
            # A concurrent request stored the same message first; everything above rolled back.
            existing = _stored_id(inbox, event)
            if existing is None:
                raise
    return Outcome(
        Outcome.DUPLICATE,
        f"Duplicate {event.external_id[:100]}: already stored as message {existing}.",
        existing_id=existing,
    )


def _dedupe_column(inbox: Inbox) -> str:
    """Where the channel keeps the provider's id: an email's Message-ID has its own column."""
    return "email_message_id" if inbox.kind == Channel.EMAIL else "external_id"


def _stored_id(inbox: Inbox, event: MessageReceived) -> int | None:
    stored = Message.objects.filter(inbox=inbox, **{_dedupe_column(inbox): event.external_id})
    return stored.values_list("pk", flat=True).first()


@transaction.atomic
def _receive(inbox: Inbox, event: MessageReceived) -> Outcome:
    tenant = inbox.tenant
    is_email = inbox.kind == Channel.EMAIL
    by_email = is_email or "@" in event.sender  # an iMessage handle may be an Apple ID email
    if is_blocked(tenant, **{"email" if by_email else "phone": event.sender}):
        logger.info(
            "Dropped inbound %s on inbox %s: blocklisted sender.", event.external_id, inbox.pk
        )
        return Outcome(Outcome.BLOCKED, "Dropped: the sender is on the tenant's blocklist.")
    threaded = _thread_email(inbox, event) if is_email else _thread_by_phone(inbox, event)
    if isinstance(threaded, Outcome):
        return threaded
    conversation, fields = threaded

    received_at = event.received_at or timezone.now()
    # The unique (inbox, external id) keys raise IntegrityError on a concurrent duplicate,
    # which rolls this whole transaction back (see do_receive_message).
    message = Message.objects.create(
        tenant=tenant,
        conversation=conversation,
        inbox=inbox,
        direction=Message.Direction.INBOUND,
        sender_type=Message.SenderType.CONTACT,
        status=Message.Status.RECEIVED,
        created_at=received_at,
        **{_dedupe_column(inbox): event.external_id},
        **fields,
    )
    attachments = _store_media(message, event.media)

    # A snoozed conversation wakes when the contact writes; so does a pending one they have
    # never written in: started by a campaign's send and kept out of the Open view until the
    # contact answers (see get_or_open_active_conversations), or an agent's outbound one set
    # pending to wait for this very answer. One the contact has written in stays pending.
    woke = conversation.status == Conversation.Status.SNOOZED or (
        conversation.status == Conversation.Status.PENDING and conversation.last_inbound_at is None
    )
    Conversation.objects.filter(pk=conversation.pk).update(
        last_message_at=Greatest(Coalesce(F("last_message_at"), received_at), received_at),
        last_inbound_at=Greatest(Coalesce(F("last_inbound_at"), received_at), received_at),
        **({"status": Conversation.Status.OPEN, "snoozed_until": None} if woke else {}),
    )
    # The threading locked the row, so the values read with it are current: what the UPDATE
    # set follows from them without reading the row again.
    conversation.last_message_at = max(filter(None, (conversation.last_message_at, received_at)))
    conversation.last_inbound_at = max(filter(None, (conversation.last_inbound_at, received_at)))
    if woke:
        conversation.status, conversation.snoozed_until = Conversation.Status.OPEN, None

    keyword = message.metadata.get("keyword", "")
    if keyword in OPT_OUT_KEYWORDS or keyword in OPT_IN_KEYWORDS:
        do_set_consent(
            conversation.contact,
            channel=inbox.kind,
            sender=inbox.address,
            status=(
                Consent.Status.OPTED_OUT if keyword in OPT_OUT_KEYWORDS else Consent.Status.OPTED_IN
            ),
            source=Consent.Source.KEYWORD,
            detail=keyword,
        )
    hooks.message_received(message)

    from inbox.tasks.webhooks import fetch_attachment_task

    for attachment in attachments:
        if attachment.status != Attachment.Status.PENDING:
            continue
        transaction.on_commit(lambda pk=attachment.pk: fetch_attachment_task.delay(pk))
    publish(tenant, EventType.MESSAGE_CREATED, message_payload(message))
    publish(tenant, EventType.CONVERSATION_UPDATED, conversation_payload(conversation))
    if inbox.auto_assign and conversation.assignee_id is None:
        from inbox.actions.assignment import do_auto_assign

        conversation.inbox = inbox
        do_auto_assign(conversation)
    return Outcome(
        Outcome.STORED,
        f"Stored as message {message.pk} in conversation {conversation.pk}.",
        message=message,
    )


def _unknown_sender() -> Outcome:
    return Outcome(
        Outcome.UNKNOWN_SENDER,
        "Not stored: the sender is not a contact and this inbox does not create contacts "
        "(auto_create_contacts is off).",
    )


def _thread_by_phone(inbox: Inbox, event: MessageReceived) -> tuple[Conversation, dict] | Outcome:
    """SMS and WhatsApp: the contact with the sender's number (created, named after their
    profile, unless the inbox does not create contacts) and their one active conversation;
    the message's fields besides the shared ones."""
    profile_name = _text(event.profile_name).strip()
    # A chat handle may be an email address (an Apple ID) rather than a number.
    by_email = "@" in event.sender
    find = get_or_create_contact_by_email if by_email else get_or_create_contact_by_phone
    try:
        contact, created = find(
            inbox.tenant,
            **{"email" if by_email else "phone": event.sender},
            name=profile_name,
            create=bool(inbox.settings.get("auto_create_contacts", True)),
        )
    except (InvalidPhone, InvalidEmail) as exc:
        raise MalformedWebhook(f"The sender is not usable: {exc}") from exc
    if contact is None:
        return _unknown_sender()
    if not created and not contact.name and profile_name:
        contact.name = profile_name[:200]
        contact.save(update_fields=["name", "updated_at"])

    thread_ref = _text(event.thread_ref)[:200]
    if event.group and thread_ref:
        conversation = _group_conversation(inbox, contact, event, thread_ref)
    else:
        conversation = get_or_open_active_conversation(inbox, contact)
    if thread_ref and conversation.external_thread_id != thread_ref:
        conversation.external_thread_id = thread_ref
        Conversation.objects.filter(pk=conversation.pk).update(external_thread_id=thread_ref)
    metadata = {"to": event.recipient, **event.metadata}
    if event.group and contact.pk != conversation.contact_id:
        # Someone else in the group wrote: the bubble says who.
        metadata["group_sender"] = contact_display(contact, inbox.tenant.default_region)
    if profile_name:
        metadata.setdefault("profile_name", profile_name)
    metadata = {
        key: _text(value) if isinstance(value, str) else value for key, value in metadata.items()
    }
    keyword = keyword_of(event.body)
    if keyword:
        metadata["keyword"] = keyword
    return conversation, {"body": _text(event.body), "metadata": metadata}


def _group_conversation(
    inbox: Inbox, contact, event: MessageReceived, thread_ref: str
) -> Conversation:
    """A group thread's one active conversation, found by the provider's thread handle, else
    opened under its first writer with the group's name as its subject (a contact's own
    conversation has none, so the two never collide); its participants kept up to date."""
    conversation = (
        Conversation.objects.select_for_update()
        .filter(inbox=inbox, external_thread_id=thread_ref, status__in=Conversation.ACTIVE)
        .order_by("-id")
        .first()
    )
    if conversation is None:
        name = _text(event.thread_name).strip() or "Group chat"
        label = f"{name} ({thread_ref.rsplit(';', 1)[-1][-6:]})"[:500]
        conversation = get_or_open_active_conversation(inbox, contact, subject=label)
    participants = [_text(address)[:200] for address in event.participants[:50]]
    if participants and participants != conversation.participants:
        conversation.participants = participants
        Conversation.objects.filter(pk=conversation.pk).update(participants=participants)
    return conversation


def _thread_email(inbox: Inbox, event: MessageReceived) -> tuple[Conversation, dict] | Outcome:
    """Email: threaded by its headers, else by subject and contact (``email_threads``); the
    message's fields besides the shared ones. Mail the inbox sent itself is not stored."""
    if event.sender == inbox.address.lower():
        logger.info("Dropped inbound email on inbox %s: sent by the inbox itself.", inbox.pk)
        return Outcome(Outcome.OWN_ADDRESS, "Not stored: the email was sent by this inbox itself.")
    threaded = thread_inbound(inbox, event)
    if threaded is None:
        return _unknown_sender()
    contact, conversation = threaded
    metadata = {
        "from": event.sender,
        "from_name": event.profile_name[:200],
        "to": list(event.to),
        "cc": list(event.cc),
        "references": list(event.references[-MAX_REFERENCES:]),
        **event.metadata,
    }
    if event.in_reply_to:
        metadata["in_reply_to"] = event.in_reply_to[0]
    if contact is None or contact.pk != conversation.contact_id:
        # Someone else in the thread (a copied colleague): the message shows who wrote it.
        metadata["other_sender"] = True
    fields = {"body": event.body, "body_html": event.html, "subject": event.subject}
    return conversation, {**fields, "metadata": metadata}


def _text(value: str) -> str:
    """``value`` without NUL and other control characters (PostgreSQL text and jsonb cannot
    hold NUL)."""
    return clean_text(value)


def _store_media(message: Message, media: tuple[InboundMedia, ...]) -> list[Attachment]:
    """The message's attachments: parts in hand stored now, URLs pending a fetch after commit.
    The Content-IDs of stored parts go into ``metadata``: an email's HTML names its inline
    images by them (``cid:`` URLs), and the inbox shows the stored parts there."""
    limit = int(message.inbox.settings.get("max_attachment_bytes", MAX_ATTACHMENT_BYTES))
    attachments = [_attachment_for(message, item, index, limit) for index, item in enumerate(media)]
    if not attachments:
        return []
    Attachment.objects.bulk_create(attachments)
    content_ids = {}
    for item, attachment in zip(media, attachments, strict=True):
        if item.content_id and attachment.status == Attachment.Status.STORED:
            content_ids[item.content_id] = attachment.pk
    if content_ids:
        message.metadata["content_ids"] = dict(list(content_ids.items())[:MAX_CONTENT_IDS])
        message.save(update_fields=["metadata"])
    return attachments


def _attachment_for(message: Message, media: InboundMedia, index: int, limit: int) -> Attachment:
    attachment = Attachment(
        tenant_id=message.tenant_id,
        message=message,
        content_type=media.content_type[:100],
        filename=media.filename or _filename_for(media.url, media.content_type, index),
        status=Attachment.Status.PENDING,
    )
    if media.content is not None:
        attachment.size = len(media.content)
        if len(media.content) > limit:
            attachment.status = Attachment.Status.FAILED
            attachment.error = (
                f"The attachment is {len(media.content)} bytes, more than the {limit} allowed."
            )
        else:
            attachment.file.save(attachment.filename, ContentFile(media.content), save=False)
            attachment.status = Attachment.Status.STORED
        return attachment
    url_limit = Attachment._meta.get_field("remote_url").max_length
    if len(media.url) > url_limit:
        # Keep the message; this one attachment cannot be fetched.
        attachment.status = Attachment.Status.FAILED
        attachment.error = f"The media URL is longer than {url_limit} characters."
    else:
        attachment.remote_url = media.url
    return attachment


def _filename_for(url: str, content_type: str, index: int) -> str:
    name = posixpath.basename(urlsplit(url).path) or f"attachment-{index + 1}"
    if "." not in name:
        name += mimetypes.guess_extension(content_type.split(";")[0].strip()) or ""
    return name[:255]


# ---------------------------------------------------------------------------------------------
# Status callbacks


def _statuses_superseded_by(status: str) -> list[str]:
    """The statuses ``status`` may replace: lower ranks, and terminal failures only for read."""
    rank = STATUS_RANK[status]
    return [
        str(current)
        for current, current_rank in STATUS_RANK.items()
        if current_rank < rank and (current not in TERMINAL_FAILURES or status == "read")
    ]


@transaction.atomic
def do_apply_status(inbox: Inbox, event: StatusEvent) -> Delivery | None:
    """Move the Delivery (and its Message) forward to ``event.status``; the Delivery or None.

    None: no Delivery has this provider id in the inbox's tenant (Twilio also reports messages
    sent outside Centro). Statuses never regress and one conditional UPDATE decides, so late,
    repeated and concurrent callbacks are harmless. A failure with 21610 opts the contact out;
    the ``on_delivery_failed`` hooks hear of a delivery this callback failed.
    """
    delivery = (
        Delivery.objects.for_tenant(inbox.tenant)
        .filter(provider=inbox.provider, provider_message_id=event.provider_message_id)
        .first()
    )
    if delivery is None or not event.provider_message_id:
        return None
    if event.status not in STATUS_RANK:
        return delivery
    if event.fall_back and event.status in TERMINAL_FAILURES:
        reason = ProviderError(
            event.error_message or "The provider reported that the message was not delivered.",
            code=str(event.error_code or "not_delivered"),
            permanent=True,
        )
        if do_fall_back(delivery, reason, closable=FALLBACK_CLOSABLE) is not None:
            delivery.refresh_from_db()
            return delivery
    status = Message.Status(event.status)
    superseded = _statuses_superseded_by(status)
    moment = timezone.now()
    changes: dict = {"status": status}
    for field in (_STATUS_TIME_FIELDS.get(status), *_IMPLIED_TIME_FIELDS.get(status, ())):
        if field:
            changes[field] = Coalesce(F(field), moment)
    error_code = str(event.error_code or "").strip()
    error_message = ""
    if status in TERMINAL_FAILURES:
        # Providers describe their codes (TwilioProvider.parse_status does).
        error_message = (
            event.error_message.strip()
            or (f"The provider reported error {error_code}." if error_code else "")
            or "The provider reported that the message was not delivered."
        )[:500]
        changes.update(error_code=error_code[:20], error_message=error_message)

    moved = Delivery.objects.filter(pk=delivery.pk, status__in=superseded).update(**changes) == 1
    delivery.refresh_from_db()
    if not moved:
        return delivery

    # Mirror onto the message when this is its latest delivery (a fallback is a newer one).
    if not Delivery.objects.filter(message_id=delivery.message_id, pk__gt=delivery.pk).exists():
        message_changes: dict = {"status": status}
        if status in TERMINAL_FAILURES:
            message_changes.update(error_code=error_code[:20], error_message=error_message)
        Message.objects.filter(pk=delivery.message_id, status__in=superseded).update(
            **message_changes
        )

    message = Message.objects.select_related("conversation__contact").get(pk=delivery.message_id)
    if status in TERMINAL_FAILURES and event.opt_out:
        do_set_consent(
            message.conversation.contact,
            channel=inbox.kind,
            sender=inbox.address,
            status=Consent.Status.OPTED_OUT,
            source=Consent.Source.PROVIDER_ERROR,
            detail=f"Error {error_code} on {event.provider_message_id}",
        )
    if status in TERMINAL_FAILURES:
        hooks.delivery_failed(delivery)
    publish(
        inbox.tenant,
        EventType.MESSAGE_STATUS_UPDATED,
        message_status_payload(message, delivery),
    )
    return delivery


# ---------------------------------------------------------------------------------------------
# Inbound media


class AttachmentFetchError(Exception):
    """A media download that did not work; ``retryable`` ones may work later."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable


def _media_auth(inbox: Inbox, url: str) -> tuple[str, str] | httpx.Auth | None:
    """The credentials the inbox's provider sends with this media URL, if any (it decides
    which hosts may see them)."""
    provider = get_provider(inbox)
    return provider.fetch_media(url) if supports(provider, "fetch_media") else None


def _provider_download(inbox: Inbox, url: str, limit: int) -> tuple[bytes, str] | None:
    """The media when the inbox's provider hands it out through its own API (Evolution's
    base64 route); None for a URL fetched with a plain GET."""
    provider = get_provider(inbox)
    if not supports(provider, "download_media"):
        return None
    try:
        return provider.download_media(url, limit=limit)
    except ProviderError as exc:
        raise DownloadError(exc.message, retryable=not exc.permanent) from exc


def do_fetch_attachment(attachment: Attachment) -> Attachment:
    """Download a pending attachment into storage; raises ``AttachmentFetchError``.

    Permanent problems (not http(s), 4xx, too big) mark the attachment failed before raising;
    retryable ones (timeouts, 5xx, 429) leave it pending for the caller's retry policy.
    """
    if attachment.status != Attachment.Status.PENDING:
        return attachment
    url = attachment.remote_url
    if urlsplit(url).scheme not in ("http", "https"):
        _fail(attachment, "The media URL is not an http(s) URL.")
    inbox = attachment.message.inbox
    limit = int(inbox.settings.get("max_attachment_bytes", MAX_ATTACHMENT_BYTES))

    try:
        fetched = _provider_download(inbox, url, limit)
        # Media URLs redirect to the provider's storage: every hop is checked.
        content, content_type = fetched or download(
            url, limit=limit, timeout=MEDIA_TIMEOUT, auth=_media_auth(inbox, url)
        )
    except DownloadError as exc:
        if not exc.retryable:
            _fail(attachment, f"The media could not be fetched: {exc.message}")
        raise AttachmentFetchError(
            f"The media could not be fetched now: {exc.message}", retryable=True
        ) from exc
    size = len(content)

    with transaction.atomic():
        locked = Attachment.objects.select_for_update().get(pk=attachment.pk)
        if locked.status != Attachment.Status.PENDING:
            return locked
        locked.file.save(locked.filename or "attachment", ContentFile(content), save=False)
        locked.size = size
        locked.content_type = (locked.content_type or content_type)[:100]
        locked.status = Attachment.Status.STORED
        locked.error = ""
        locked.save(update_fields=["file", "size", "content_type", "status", "error"])
        _publish_attachment_changed(locked)
    return locked


def do_mark_attachment_failed(attachment: Attachment, error: str) -> None:
    with transaction.atomic():
        changed = Attachment.objects.filter(
            pk=attachment.pk, status=Attachment.Status.PENDING
        ).update(status=Attachment.Status.FAILED, error=error[:300])
        if changed:
            _publish_attachment_changed(attachment)


def _publish_attachment_changed(attachment: Attachment) -> None:
    """The message now shows its media (or why it could not be fetched) on open pages."""
    message = Message.objects.only("id", "conversation_id").get(pk=attachment.message_id)
    publish(
        attachment.tenant,
        EventType.MESSAGE_UPDATED,
        {"id": message.pk, "conversation_id": message.conversation_id},
    )


def _fail(attachment: Attachment, error: str):
    do_mark_attachment_failed(attachment, error)
    raise AttachmentFetchError(error, retryable=False)


__all__ = [
    "HELP_KEYWORDS",
    "OPT_IN_KEYWORDS",
    "OPT_OUT_KEYWORDS",
    "AttachmentFetchError",
    "Outcome",
    "do_apply_status",
    "do_fetch_attachment",
    "do_mark_attachment_failed",
    "do_receive_message",
    "keyword_of",
]
