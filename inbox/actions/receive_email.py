"""Receiving email: inbound mail parsed into the inbox's normalized event, and ESP tracking
events.

:func:`email_received` turns one parsed inbound email (anymail's ``AnymailInboundMessage``)
into a ``MessageReceived``, which ``inbox.actions.receive.do_receive_message`` stores like any
channel's message. There, an email whose In-Reply-To/References name one of the inbox's
messages joins that thread whoever sent it (a copied colleague's reply stays with the
customer's conversation; its sender is kept in ``metadata`` and shown on the message);
otherwise the sender becomes (or is found as) a contact by email address and the thread is
found by subject + contact (see ``email_threads``). The original text and HTML are kept whole
(the inbox shows the reply without its quoted history), and attachments are stored (with the
Content-IDs of inline parts, which the HTML names in ``cid:`` URLs, in ``metadata``). The RFC
Message-ID is unique per inbox, so a repeated webhook stores nothing.

``do_apply_email_event`` moves the Delivery of a sent email forward (delivered, opened) and
opts the address out of email from the inbox on a hard bounce, a complaint or an unsubscribe.
"""

import hashlib
import logging
import mimetypes
import re

from django.db import transaction
from django.utils.html import strip_tags

from contacts.actions import InvalidEmail, clean_email, contact_for_email, do_set_consent
from contacts.models import Consent
from inbox.actions.email_threads import message_ids
from inbox.actions.receive import do_apply_status
from inbox.models import Delivery, Inbox, Message
from inbox.providers.base import InboundMedia, MalformedWebhook, MessageReceived, StatusEvent
from omnichannel.channels import Channel
from omnichannel.text import clean_text, has_control_chars, is_media_type, shown

logger = logging.getLogger(__name__)

MAX_CONTENT_ID = 300
# The headers that identify an email and its thread: unusable with a control character in them.
ID_HEADERS = ("Message-ID", "In-Reply-To", "References")
_FOLDING = re.compile(r"\r?\n[ \t]+|\t")


def header_text(message, name: str) -> str:
    """Header ``name`` of ``message`` unfolded (continuation lines joined), or ``""``."""
    return _FOLDING.sub(" ", str(message.get(name) or "")).strip()


def check_inbound_email(message, *, event_id: object = None) -> None:
    """Raise ``MalformedWebhook`` when an identifier of the email holds a control character
    (a NUL in a Message-ID or a content type is not an id PostgreSQL can store or match):
    its Message-ID, In-Reply-To and References, its From address, its ESP event id, an
    attachment's content type. Free text (subject, bodies, names) is cleaned when stored."""
    for name in ID_HEADERS:
        value = header_text(message, name)
        if has_control_chars(value):
            raise MalformedWebhook(
                f"The email's {name} header “{shown(value)}” contains control characters."
            )
    sender = message.from_email
    if sender is not None and has_control_chars(str(sender.addr_spec or "")):
        raise MalformedWebhook(
            f"The email's From address “{shown(sender.addr_spec)}” contains control characters."
        )
    if event_id is not None and has_control_chars(str(event_id)):
        raise MalformedWebhook(f"The event id “{shown(event_id)}” contains control characters.")
    for index, part in enumerate([*message.attachments, *message.inlines]):
        content_type = str(part.get_content_type() or "")
        if has_control_chars(content_type):
            raise MalformedWebhook(
                f"Attachment {index + 1}'s content type “{shown(content_type)}” contains "
                "control characters."
            )


def message_id_of(message) -> str:
    """The email's Message-ID as ``<id>``; a stable stand-in derived from its content when it
    has none (so a repeated webhook or a replay of such a message is still recognised)."""
    raw = header_text(message, "Message-ID")
    found = message_ids(raw)
    if found:
        return found[0][:500]
    if raw:
        return f"<{raw.strip('<>')}>"[:500]
    return f"<{_content_digest(message)}@centro.missing-message-id>"


def _content_digest(message) -> str:
    """A digest of what the email says (not of its MIME bytes: anymail builds the message from
    an ESP's JSON with a new multipart boundary each time, so those differ on every parse)."""
    digest = hashlib.sha256()
    fields = [header_text(message, name) for name in ("From", "To", "Cc", "Date", "Subject")]
    for value in [*fields, message.text or "", message.html or ""]:
        digest.update(str(value).encode("utf-8", "surrogatepass") + b"\x00")
    for part in [*message.attachments, *message.inlines]:
        digest.update(str(part.get_filename() or "").encode("utf-8", "surrogatepass") + b"\x00")
        digest.update(part.get_content_bytes() or b"")
    return digest.hexdigest()[:40]


def _text(value: object) -> str:
    """Free text from the email, without what PostgreSQL cannot hold (NUL) or nobody wrote
    (other control characters)."""
    return clean_text(value)


def _addresses(values) -> list[str]:
    """The addresses (lower case) of a To/Cc list; one with a control character is dropped."""
    found = (str(getattr(a, "addr_spec", "") or "") for a in (values or []))
    return [address.lower() for address in found if address and not has_control_chars(address)]


def email_received(message, *, event_id: str = "") -> MessageReceived:
    """One inbound email (anymail's ``AnymailInboundMessage``) as the event every channel hands
    to ``do_receive_message``: its Message-ID as the dedupe key, its text (the HTML's text when
    it has none), HTML, threading headers, addresses, and its parts in hand. Raises
    ``MalformedWebhook`` when the email has no usable sender or an unusable identifier
    (:func:`check_inbound_email`)."""
    check_inbound_email(message, event_id=event_id or None)
    external_id = message_id_of(message)
    sender = message.from_email
    if sender is None or not sender.addr_spec:
        raise MalformedWebhook("The email has no From address.")
    try:
        address = clean_email(sender.addr_spec)
    except InvalidEmail as exc:
        raise MalformedWebhook(f"The email's From address is not usable: {exc}") from exc
    html = _text(message.html)
    text = _text(message.text)
    if not text.strip() and html:
        text = " ".join(strip_tags(html).split())
    metadata: dict = {}
    if event_id:
        metadata["esp_event_id"] = str(event_id)[:100]
    if getattr(message, "spam_detected", None):
        metadata["spam_detected"] = True
    to = _addresses(message.to)
    return MessageReceived(
        external_id=external_id,
        sender=address,
        recipient=to[0] if to else "",
        body=text,
        profile_name=_text(sender.display_name),
        media=tuple(_part(part, index) for index, part in enumerate(_parts_to_store(message))),
        metadata=metadata,
        subject=" ".join(_text(message.subject).split())[:500],
        html=html,
        in_reply_to=tuple(message_ids(header_text(message, "In-Reply-To"))),
        references=tuple(message_ids(header_text(message, "References"))),
        to=tuple(to),
        cc=tuple(_addresses(message.cc)),
    )


def _parts_to_store(message) -> list:
    """Attachments and inline parts, and the images of a multipart/related body that carry a
    Content-ID but no Content-Disposition (some mail clients send their inline images so)."""
    parts = [*message.attachments, *message.inlines]
    for part in message.walk():
        if (
            part.get_content_maintype() == "image"
            and part.get_content_disposition() is None
            and _content_id(part)
        ):
            parts.append(part)
    return parts


def _content_id(part) -> str:
    return _text(str(part.get("Content-ID") or "")).strip().strip("<>").strip()[:MAX_CONTENT_ID]


def _part(part, index: int) -> InboundMedia:
    """An attachment or inline part, with a usable content type and file name."""
    content_type = str(part.get_content_type() or "")
    if not is_media_type(content_type) or len(content_type) > 100:
        content_type = "application/octet-stream"  # what mail clients do with an unusable one
    filename = _text(part.get_filename() or "").strip().replace("/", "_")[:255]
    if not filename:
        filename = f"attachment-{index + 1}{mimetypes.guess_extension(content_type) or ''}"
    return InboundMedia(
        url="",
        content_type=content_type,
        content=part.get_content_bytes() or b"",
        filename=filename,
        content_id=_content_id(part),
    )


# ---------------------------------------------------------------------------------------------
# Tracking events


# anymail's normalized event types -> our delivery statuses (None: no status change).
TRACKING_STATUS = {
    "queued": Message.Status.SENT,
    "sent": Message.Status.SENT,
    "delivered": Message.Status.DELIVERED,
    "opened": Message.Status.READ,
    "clicked": Message.Status.READ,
    "bounced": Message.Status.FAILED,
    "rejected": Message.Status.FAILED,
    "failed": Message.Status.FAILED,
}
# Events after which nothing more is sent to the address from this inbox.
OPT_OUT_EVENTS = {
    "bounced": "hard bounce",
    "complained": "spam complaint",
    "unsubscribed": "unsubscribe",
}


def tracking_event_problem(event) -> str:
    """Why an anymail ``AnymailTrackingEvent`` cannot be applied (its message id or recipient
    is not text, or holds a control character), or ``""``."""
    for label, value in (("message id", event.message_id), ("recipient", event.recipient)):
        if value is None:
            continue
        if not isinstance(value, str):
            return f"the {label} is not text"
        if has_control_chars(value):
            return f"the {label} “{shown(value)}” contains control characters"
    return ""


class EmailEventResult:
    def __init__(self, delivery: Delivery | None, note: str) -> None:
        self.delivery, self.note = delivery, note


def delivery_for_event(inbox: Inbox, message_id: str) -> Delivery | None:
    """The tenant's Delivery an ESP event names: by the ESP's id, else by our Message-ID."""
    esp_id = (message_id or "").strip().strip("<>")
    if not esp_id:
        return None
    deliveries = Delivery.objects.for_tenant(inbox.tenant).filter(provider=inbox.provider)
    found = deliveries.filter(provider_message_id=esp_id[:100]).first()
    if found is None:
        found = (
            deliveries.filter(message__inbox=inbox, message__email_message_id=f"<{esp_id}>")
            .order_by("-id")
            .first()
        )
    return found


@transaction.atomic
def do_apply_email_event(inbox: Inbox, event) -> EmailEventResult:
    """Apply one anymail ``AnymailTrackingEvent``: the Delivery found (or None) and a note.
    Raises ``MalformedWebhook`` for an event :func:`tracking_event_problem` refuses."""
    problem = tracking_event_problem(event)
    if problem:
        raise MalformedWebhook(f"The event cannot be applied: {problem}.")
    event_type = clean_text(event.event_type)
    delivery = delivery_for_event(inbox, event.message_id or "")
    notes = []
    recipient = (event.recipient or "").strip().lower()
    if delivery is not None and recipient and recipient != delivery.recipient.lower():
        # A CC/BCC recipient's event: it says nothing about the contact's own delivery.
        if event_type in OPT_OUT_EVENTS and not _is_soft_bounce(event):
            notes.append(_opt_out(inbox, None, event, OPT_OUT_EVENTS[event_type]))
        return EmailEventResult(
            delivery, " ".join(notes) or f"{event_type} for copy recipient {recipient}."
        )
    if delivery is not None and event_type in TRACKING_STATUS:
        status = TRACKING_STATUS[event_type]
        detail = " — ".join(
            _text(part).strip() for part in (event.description, event.mta_response) if part
        )
        error_message = ""
        if status == Message.Status.FAILED:
            error_message = (
                f"The email {'bounced' if event_type == 'bounced' else 'was ' + event_type}"
                + (f": {detail}" if detail else ".")
            )[:500]
        do_apply_status(
            inbox,
            StatusEvent(
                provider_message_id=delivery.provider_message_id,
                status=status,
                error_code=clean_text(event.reject_reason or event_type)[:20]
                if status == Message.Status.FAILED
                else "",
                error_message=error_message,
            ),
        )
        delivery.refresh_from_db()
        notes.append(f"Delivery {delivery.pk} is {delivery.status}.")
    if event_type in OPT_OUT_EVENTS and not _is_soft_bounce(event):
        notes.append(_opt_out(inbox, delivery, event, OPT_OUT_EVENTS[event_type]))
    if delivery is None and not notes:
        return EmailEventResult(None, "")
    return EmailEventResult(delivery, " ".join(notes) or f"Ignored {event_type or 'an'} event.")


def _is_soft_bounce(event) -> bool:
    """anymail reports Postmark's SoftBounce as "bounced" too; only hard bounces opt out."""
    esp_event = event.esp_event
    if isinstance(esp_event, dict):
        if esp_event.get("Type") in ("SoftBounce", "Transient", "DnsError"):
            return True
        data = esp_event.get("event-data")
        if isinstance(data, dict) and data.get("severity") == "temporary":
            return True
    return False


def _opt_out(inbox: Inbox, delivery: Delivery | None, event, reason: str) -> str:
    recipient = (event.recipient or (delivery.recipient if delivery else "") or "").lower()
    contact = contact_for_email(inbox.tenant, recipient) if recipient else None
    if contact is None and delivery is not None:
        contact = delivery.message.conversation.contact
    if contact is None:
        return f"No contact has {recipient or 'the address'}; nothing to opt out."
    do_set_consent(
        contact,
        channel=Channel.EMAIL,
        sender=inbox.address,
        status=Consent.Status.OPTED_OUT,
        source=Consent.Source.PROVIDER_ERROR,
        detail=f"{reason.capitalize()} of {recipient} (message {(event.message_id or '')[:80]})",
    )
    return f"{recipient} opted out of email from {inbox.address} ({reason})."
