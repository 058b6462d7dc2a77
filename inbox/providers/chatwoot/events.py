"""Chatwoot's webhooks: the signature check and the payloads read into normalized events.

The provider's ``verify`` and ``parse`` delegate here. Chatwoot (v4.12+ for account webhooks,
v4.13+ for API inboxes) signs ``"<unix seconds>.<raw body>"`` with HMAC-SHA256 and the target's
secret, in ``X-Chatwoot-Signature: sha256=<hex>`` with the time in ``X-Chatwoot-Timestamp``;
it never retries, and sends one uuid per target per event in ``X-Chatwoot-Delivery``. Older
installs sign nothing: accepted only when the inbox allows it (``allow_unsigned``).

Payload facts relied on (see the provider notes): the top-level ``message_type`` is a word
("incoming", "outgoing", "activity", "template") and ``created_at`` ISO-8601; a conversation's
``id`` is its per-account display id, which Centro keeps as the thread handle; a contact
sender at top level has no ``type``; ``account`` may be missing (before v4.14.2).
"""

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from django.http import HttpRequest

from contacts.phones import InvalidPhone, normalize_phone
from inbox.models import Conversation, Message
from inbox.providers.base import (
    ConversationChanged,
    InboundMedia,
    MalformedWebhook,
    MessageEchoed,
    MessageEdited,
    MessageReceived,
    Unverified,
)
from inbox.providers.chatwoot.credentials import MAX_WEBHOOK_SECRETS

SIGNATURE_HEADER = "X-Chatwoot-Signature"
TIMESTAMP_HEADER = "X-Chatwoot-Timestamp"
DELIVERY_HEADER = "X-Chatwoot-Delivery"
# Chatwoot has no replay protection of its own: an older (or much later) signed request is
# refused as a possible replay.
MAX_SKEW_SECONDS = 300
# What Centro puts in the source_id of the messages it posts (the sending side).
OUR_SOURCE_PREFIX = "centro:"

# Chatwoot's conversation statuses -> Centro's. "resolved" is closed; "snoozed" without a
# wake-up time (until the next reply) has no Centro equivalent and reads as pending.
STATUS_FROM_CHATWOOT = {
    "open": Conversation.Status.OPEN,
    "pending": Conversation.Status.PENDING,
    "snoozed": Conversation.Status.SNOOZED,
    "resolved": Conversation.Status.CLOSED,
}
STATUS_TO_CHATWOOT = {
    Conversation.Status.OPEN: "open",
    Conversation.Status.PENDING: "pending",
    Conversation.Status.SNOOZED: "snoozed",
    Conversation.Status.CLOSED: "resolved",
    Conversation.Status.ARCHIVED: "resolved",
}
MESSAGE_STATUSES = {
    "sent": Message.Status.SENT,
    "delivered": Message.Status.DELIVERED,
    "read": Message.Status.READ,
    "failed": Message.Status.FAILED,
}
# The integer forms found inside conversation.messages[] (and in old payloads).
MESSAGE_TYPES = {0: "incoming", 1: "outgoing", 2: "activity", 3: "template"}
ONCE_EVENTS = ("message_created", "conversation_created", "contact_created")


@dataclass(frozen=True)
class ChatwootContact:
    """The Chatwoot contact an event is about: its id (as text) and what it says of them."""

    external_id: str
    name: str = ""
    phone: str = ""
    email: str = ""


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>``: what Chatwoot sends for ``body`` signed at ``timestamp``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def verify(provider, request: HttpRequest, event_type: str = "") -> bool:
    """True for a request signed with the inbox's webhook secret within the last five
    minutes, or an unsigned one when the inbox allows old Chatwoot; ``Unverified`` (answered
    403, nothing stored) saying why otherwise."""
    sent = request.headers.get(SIGNATURE_HEADER, "").strip()
    stamp = request.headers.get(TIMESTAMP_HEADER, "").strip()
    if not sent and not stamp:
        if provider.inbox.option("allow_unsigned", False):
            return True
        raise Unverified(
            "This webhook is not signed. Chatwoot signs webhooks since version 4.12 (4.13 for "
            "API inboxes): upgrade Chatwoot, or allow unsigned webhooks from older Chatwoot in "
            "this inbox's settings."
        )
    if not sent or not stamp:
        raise Unverified(
            f"The webhook has {'no ' + SIGNATURE_HEADER if not sent else 'no ' + TIMESTAMP_HEADER}"
            "; a signed Chatwoot webhook has both."
        )
    # Each Chatwoot target signs with its own secret (an account webhook's, an API inbox's):
    # the inbox may hold several, separated by spaces or commas.
    secrets = str(provider._credentials().get("webhook_secret") or "").replace(",", " ").split()
    if not secrets:
        raise Unverified(
            "The webhook is signed but this inbox has no Chatwoot webhook secret to check it: "
            "copy the webhook's secret from Chatwoot into the inbox's settings."
        )
    if not stamp.isdigit():
        raise Unverified(f"The {TIMESTAMP_HEADER} header is not a Unix time.")
    skew = time.time() - int(stamp)
    if skew > MAX_SKEW_SECONDS:
        raise Unverified(
            f"The webhook was signed {int(skew)} seconds ago; older than "
            f"{MAX_SKEW_SECONDS // 60} minutes, it is refused as a possible replay."
        )
    if skew < -MAX_SKEW_SECONDS:
        raise Unverified(
            "The webhook's timestamp is in the future; check the Chatwoot server's clock."
        )
    matches = [
        hmac.compare_digest(sent.encode(), signature(secret, stamp, request.body).encode())
        for secret in secrets[:MAX_WEBHOOK_SECRETS]
    ]
    if not any(matches):
        raise Unverified(
            "The webhook's signature does not match this inbox's Chatwoot webhook secret."
        )
    return True


def payload_of(request: HttpRequest) -> dict:
    """The JSON object the request holds (read once per request)."""
    cached = getattr(request, "_chatwoot_payload", None)
    if cached is not None:
        return cached
    try:
        payload = json.loads(request.body)
    except ValueError as exc:
        raise MalformedWebhook("The Chatwoot webhook is not JSON.") from exc
    if not isinstance(payload, dict):
        raise MalformedWebhook("The Chatwoot webhook is not a JSON object.")
    request._chatwoot_payload = payload
    return payload


def event_name(payload: dict) -> str:
    kind = payload.get("event")
    if not isinstance(kind, str) or not kind.strip():
        raise MalformedWebhook("The Chatwoot webhook has no event.")
    return kind.strip()[:60]


def dedupe_key(payload: dict, body: bytes) -> str:
    """What makes two deliveries one event: Chatwoot builds an event's payload once and posts
    it to every target under its own delivery id, so a created thing is keyed by its id and
    a change by its id and the exact payload (one conversation is resolved, reopened and
    resolved again: three events)."""
    try:
        kind = event_name(payload)
    except MalformedWebhook:
        return ""
    ident = payload.get("id")
    if not isinstance(ident, (int, str)) or isinstance(ident, bool) or ident == "":
        return ""
    if kind in ONCE_EVENTS:
        return f"{kind}:{ident}"[:200]
    return f"{kind}:{str(ident)[:80]}:{hashlib.sha256(body).hexdigest()[:40]}"


def _text(value) -> str:
    return value.strip() if isinstance(value, str) else ""


def _ident(value) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        return ""
    return str(value).strip()[:100]


def _phone(raw: str, region: str) -> str:
    try:
        return normalize_phone(raw, region) if raw else ""
    except InvalidPhone:
        return ""


def contact_of(payload: dict) -> ChatwootContact | None:
    """The contact an event is about: a contact event's own object, else the conversation's
    ``meta.sender`` (a message's or a conversation's), else a customer message's sender."""
    kind = payload.get("event")
    found = None
    if isinstance(kind, str) and kind.startswith("contact_"):
        found = payload
    else:
        conversation = payload.get("conversation")
        if not isinstance(conversation, dict) or "meta" not in conversation:
            conversation = payload  # a conversation event: the payload is the conversation
        meta = conversation.get("meta")
        sender = meta.get("sender") if isinstance(meta, dict) else None
        if isinstance(sender, dict) and sender.get("type", "contact") == "contact":
            found = sender
        elif _message_type(payload) == "incoming" and isinstance(payload.get("sender"), dict):
            found = payload["sender"]
    if not isinstance(found, dict) or not _ident(found.get("id")):
        return None
    return ChatwootContact(
        external_id=_ident(found.get("id")),
        name=_text(found.get("name"))[:200],
        phone=_text(found.get("phone_number"))[:40],
        email=_text(found.get("email"))[:254],
    )


def thread_of(payload: dict) -> str:
    """The conversation's display id, Centro's thread handle for it."""
    conversation = payload.get("conversation")
    if isinstance(conversation, dict):
        return _ident(conversation.get("id") or conversation.get("display_id"))
    kind = payload.get("event")
    if isinstance(kind, str) and kind.startswith("conversation_"):
        return _ident(payload.get("id"))
    return ""


def _message_type(payload: dict) -> str:
    kind = payload.get("message_type")
    if isinstance(kind, int) and not isinstance(kind, bool):
        return MESSAGE_TYPES.get(kind, "")
    return kind if isinstance(kind, str) else ""


def _when(value) -> datetime | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return datetime.fromtimestamp(value, tz=UTC)
    if isinstance(value, str) and value:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return None


def _media(payload: dict) -> tuple[InboundMedia, ...]:
    found = []
    for item in payload.get("attachments") or ():
        if not isinstance(item, dict):
            continue
        url = _text(item.get("data_url"))
        if not url.startswith(("https://", "http://")):
            continue
        kind = _text(item.get("content_type")) or {
            "image": "image/*",
            "audio": "audio/*",
            "video": "video/*",
        }.get(_text(item.get("file_type")), "application/octet-stream")
        found.append(InboundMedia(url=url[:2000], content_type=kind[:100]))
    return tuple(found[:15])


def parse(provider, request: HttpRequest) -> list:
    """The normalized events of a message or conversation webhook (none for what Centro
    never mirrors: private notes, activity lines, typing, widget and inbox events).

    - a customer's message (``incoming``): :class:`MessageReceived`, sender the contact's
      E.164 number (or email address), ``thread_ref`` the conversation's display id;
    - a message Centro posted (``source_id`` ``centro:<ref>``): :class:`MessageEchoed` with
      ``client_ref`` ``<ref>`` and ``api_send`` (never stored as a new message);
    - a Chatwoot agent's (or bot's) reply: :class:`MessageEchoed` with the agent in
      ``metadata``;
    - ``message_updated``: the echo again for our own messages (their status), else
      :class:`MessageEdited` (new text, or ``deleted``);
    - a conversation event: :class:`ConversationChanged` with Centro's status when the event
      says it changed (``changes``: ``snoozed_until`` ISO time, ``event``).
    """
    payload = payload_of(request)
    kind = event_name(payload)
    if kind in ("message_created", "message_updated"):
        return _parse_message(provider, payload, kind)
    if kind.startswith("conversation_") and "typing" not in kind:
        return _parse_conversation(payload, kind)
    return []


def _parse_message(provider, payload: dict, kind: str) -> list:
    message_id = _ident(payload.get("id"))
    if not message_id:
        raise MalformedWebhook("The Chatwoot message has no id.")
    message_type = _message_type(payload)
    if payload.get("private") is True or message_type not in ("incoming", "outgoing", "template"):
        return []  # private notes never reach the customer; activity lines are Chatwoot's own
    thread_ref = thread_of(payload)
    body = payload.get("content") if isinstance(payload.get("content"), str) else ""
    attributes = payload.get("content_attributes")
    attributes = attributes if isinstance(attributes, dict) else {}
    source_id = _text(payload.get("source_id"))
    status = MESSAGE_STATUSES.get(_text(payload.get("status")), Message.Status.SENT)
    region = provider.inbox.tenant.default_region
    person = contact_of(payload)
    address = _phone(person.phone, region) if person else ""
    if person and not address:
        address = person.email
    if source_id.startswith(OUR_SOURCE_PREFIX):
        return [
            MessageEchoed(
                external_id=message_id,
                status=status,
                recipient=address,
                body=body,
                client_ref=source_id[len(OUR_SOURCE_PREFIX) :][:100],
                thread_ref=thread_ref,
                api_send=True,
            )
        ]
    if kind == "message_updated":
        return [
            MessageEdited(
                external_id=message_id, body=body, deleted=attributes.get("deleted") is True
            )
        ]
    sent_at = _when(payload.get("created_at"))
    if message_type == "incoming":
        return [
            MessageReceived(
                external_id=message_id,
                sender=address,
                recipient=provider.inbox.address,
                body=body,
                profile_name=person.name if person else "",
                media=_media(payload),
                received_at=sent_at,
                metadata={"via": "Chatwoot"},
                thread_ref=thread_ref,
            )
        ]
    sender = payload.get("sender") if isinstance(payload.get("sender"), dict) else {}
    return [
        MessageEchoed(
            external_id=message_id,
            status=status,
            recipient=address,
            body=body,
            thread_ref=thread_ref,
            sent_at=sent_at,
            media=_media(payload),
            metadata={
                "via": "Chatwoot",
                "agent": _text(sender.get("name"))[:200],
                "agent_id": _ident(sender.get("id")),
                "agent_type": _text(sender.get("type"))[:20] or "user",
            },
        )
    ]


def _changed_status(payload: dict) -> bool:
    for change in payload.get("changed_attributes") or ():
        if isinstance(change, dict) and "status" in change:
            return True
    return False


def _parse_conversation(payload: dict, kind: str) -> list:
    thread_ref = _ident(payload.get("id"))
    if not thread_ref:
        raise MalformedWebhook("The Chatwoot conversation has no id.")
    says_status = kind in ("conversation_status_changed", "conversation_created") or (
        _changed_status(payload)
    )
    status = STATUS_FROM_CHATWOOT.get(_text(payload.get("status")), "") if says_status else ""
    until = _when(payload.get("snoozed_until"))
    if status == Conversation.Status.SNOOZED and until is None:
        status = Conversation.Status.PENDING
    return [
        ConversationChanged(
            thread_ref=thread_ref,
            status=status,
            changes={"event": kind, "snoozed_until": until.isoformat() if until else None},
        )
    ]


def account_of(payload: dict) -> str:
    """The Chatwoot account id the payload names, when it names one (not before v4.14.2)."""
    account = payload.get("account")
    if not isinstance(account, dict):
        conversation = payload.get("conversation")
        account = conversation.get("account") if isinstance(conversation, dict) else None
    return _ident(account.get("id")) if isinstance(account, dict) else ""
