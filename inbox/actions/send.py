"""Sending: store the Message and its Delivery in one transaction, deliver after commit.

``do_send_message`` validates and writes (no provider call); ``deliver_message_task`` (Celery,
enqueued on commit) calls :func:`attempt_delivery`, which claims the Delivery with a conditional
UPDATE so it is handed to the provider at most once, and records the outcome. What may have
changed while the message waited (the contact erased, blocklisted or opted out) is checked
again there, right before the provider call: such a message fails with the reason, shown in
the thread. Retryable
provider errors surface as :class:`RetryDelivery`; the task owns the retry policy.
"""

import json
import logging
import math
import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parseaddr
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import F, Max, Q
from django.utils import timezone

from contacts import hooks as contacts_hooks
from contacts.actions import (
    InvalidEmail,
    clean_email,
    do_link_external_ids,
    do_set_consent,
    get_or_create_contact_by_email,
    get_or_create_contact_by_phone,
    is_opted_out,
)
from contacts.blocklist import is_blocked, is_number_blocked
from contacts.models import BlockedAddress, Consent, Contact
from contacts.phones import InvalidPhone, contact_display, format_phone
from inbox import hooks
from inbox.actions.conversations import (
    get_or_open_active_conversation,
    get_or_open_active_conversations,
)
from inbox.actions.email_threads import (
    get_or_open_email_conversation,
    reply_headers,
    reply_subject,
)
from inbox.actions.fallback import FallbackRoute, do_fall_back, fallback_note, fallback_route
from inbox.actions.notify import check_mentions, notify_mentioned
from inbox.availability import reachable
from inbox.models import STATUS_RANK, Conversation, Delivery, Inbox, Message
from inbox.outbound import outbound_message
from inbox.payloads import conversation_payload, message_payload, message_status_payload
from inbox.providers import ProviderError, get_provider
from inbox.providers.anymail.provider import new_message_id
from inbox.providers.base import NotOnChannel, supports
from omnichannel import events
from omnichannel.actions import ActionError
from omnichannel.channels import Channel
from omnichannel.copy_in import copy_in, new_ids
from omnichannel.models import Tenant
from omnichannel.tenancy import acting_for, require_acting_permission

logger = logging.getLogger(__name__)

MAX_BODY_LENGTH = 1600  # Twilio's limit for Body, SMS and WhatsApp alike
MAX_MEDIA = 10
CONTENT_SID = re.compile(r"^HX[0-9a-fA-F]{32}$")
RATE_WINDOW_SECONDS = 3600
# Channels campaigns and cross-channel replies reach a phone through.
SENDABLE_CHANNELS = (Channel.SMS, Channel.WHATSAPP)
# Channels do_send_message sends through (email: to an address, in threads; iMessage and
# Chatwoot: to the contact's phone, or the provider's thread).
DIRECT_CHANNELS = (*SENDABLE_CHANNELS, Channel.IMESSAGE, Channel.CHATWOOT, Channel.EMAIL)
MAX_EMAIL_BODY_LENGTH = 500_000
MAX_EMAIL_COPIES = 20  # CC and BCC addresses each
# Headers the email channel writes itself; callers' ``headers`` cannot replace them.
RESERVED_HEADERS = frozenset(
    {
        "message-id",
        "in-reply-to",
        "references",
        "from",
        "to",
        "cc",
        "bcc",
        "subject",
        "date",
        "sender",
        "reply-to",
        "content-type",
        "content-transfer-encoding",
        "mime-version",
    }
)
HEADER_NAME = re.compile(r"^[!-9;-~]{1,76}$")


def sends_notifications(inbox: Inbox) -> bool:
    """Whether notifications and campaigns may go out through ``inbox``: an inbox whose
    ``notify`` option is off (a bridged Chatwoot the tenant keeps for conversations only) is
    left out; one without the option sends."""
    return bool(inbox.option("notify", True))


class RetryDelivery(Exception):
    """A retryable provider failure: the Delivery is queued again; try later."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


# --- payloads -------------------------------------------------------------------------------


# --- validation -----------------------------------------------------------------------------


def _resolve_inbox(tenant: Tenant, inbox: Inbox | int | None) -> Inbox | None:
    if inbox is None:
        return None
    inbox_id = inbox.pk if isinstance(inbox, Inbox) else inbox
    found = Inbox.objects.for_tenant(tenant).filter(pk=inbox_id).first()
    if found is None:
        raise ActionError("No inbox found.", code="not_found")
    return found


def _resolve_conversation(
    tenant: Tenant, conversation: Conversation | int | None
) -> Conversation | None:
    if conversation is None:
        return None
    conversation_id = conversation.pk if isinstance(conversation, Conversation) else conversation
    found = (
        Conversation.objects.for_tenant(tenant)
        .select_related("inbox", "contact")
        .filter(pk=conversation_id)
        .first()
    )
    if found is None:
        raise ActionError("No conversation found.", code="not_found")
    return found


def _resolve_contact(tenant: Tenant, contact: Contact | int) -> Contact:
    contact_id = contact.pk if isinstance(contact, Contact) else contact
    found = Contact.objects.for_tenant(tenant).filter(pk=contact_id, erased_at__isnull=True).first()
    if found is None:
        raise ActionError("No contact found.", code="not_found")
    return found


def check_media_urls(media_urls) -> list[str]:
    urls = [str(url).strip() for url in (media_urls or ()) if str(url).strip()]
    if len(urls) > MAX_MEDIA:
        raise ActionError(f"A message carries at most {MAX_MEDIA} attachments.")
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ActionError(f"“{url[:100]}” is not an http(s) URL the provider can fetch.")
    return urls


def check_template(template) -> dict | None:
    """``{"content_sid": "HX…", "variables": {"1": "Ana"}}`` with text values, or ActionError."""
    if template is None:
        return None
    if not isinstance(template, dict):
        raise ActionError("A template is an object with content_sid and variables.")
    sid = str(template.get("content_sid") or "").strip()
    if not CONTENT_SID.match(sid):
        raise ActionError(
            "The template's content_sid must be “HX” followed by 32 hexadecimal characters "
            "(the Content SID of an approved template)."
        )
    variables = template.get("variables") or {}
    if not isinstance(variables, dict):
        raise ActionError('Template variables are an object such as {"1": "Ana"}.')
    cleaned = {}
    for key, value in variables.items():
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ActionError(f"The template variable “{key}” must be text.")
        cleaned[str(key)] = str(value)
    return {"content_sid": sid, "variables": cleaned}


def contact_hourly_limit(inbox: Inbox) -> int:
    """The most specific setting wins: the inbox's, the tenant's, then the platform default."""
    value = (inbox.settings or {}).get("contact_hourly_limit")
    if value is None:
        value = inbox.tenant.contact_hourly_limit
    if value is None:
        value = settings.INBOX_CONTACT_HOURLY_LIMIT
    return int(value)


def contact_reply_hourly_limit(inbox: Inbox) -> int:
    """The limit on agents' replies in a conversation: the tenant's, else the platform default,
    never below the inbox's hourly limit (a reply is never held back more than an automated
    send), and none where the inbox has none (0)."""
    hourly = contact_hourly_limit(inbox)
    if hourly <= 0:
        return 0
    value = inbox.tenant.contact_reply_hourly_limit
    if value is None:
        value = settings.INBOX_CONTACT_REPLY_HOURLY_LIMIT
    return max(int(value), hourly)


def is_conversation_reply(
    tenant: Tenant, contact: Contact, *, acting_user, sender_type: str
) -> bool:
    """An agent (a person signed in, not an API token or the system) answering a contact who
    wrote within the hour, on any channel: a conversation, not the automated flood the hourly
    limit protects contacts from. API replies stay automated: a token cannot tell a person
    from a script."""
    if acting_user is None or sender_type != Message.SenderType.AGENT:
        return False
    since = timezone.now() - timedelta(seconds=RATE_WINDOW_SECONDS)
    return Conversation.objects.filter(
        tenant=tenant, contact=contact, last_inbound_at__gte=since
    ).exists()


def check_contact_rate_limit(
    tenant: Tenant, contact: Contact, *, limit: int, replies: bool = False
) -> None:
    """Count one send to ``contact``; ActionError(rate_limited) past ``limit`` in the window.

    ``replies``: an agent's reply in a conversation, counted apart from automated sends so
    that neither uses up the other's allowance. The window opens with the first send (an
    atomic SET NX of its start) and the count is an atomic INCR shared by every web process
    and worker.
    """
    if limit <= 0:
        return
    base = f"inbox:send-limit:t{tenant.pk}:c{contact.pk}{':replies' if replies else ''}"
    now = time.time()
    cache.add(f"{base}:start", now, timeout=RATE_WINDOW_SECONDS)
    cache.add(f"{base}:count", 0, timeout=RATE_WINDOW_SECONDS)
    try:
        count = cache.incr(f"{base}:count")
    except ValueError:  # the key expired between add and incr: a fresh window
        cache.set(f"{base}:count", 1, timeout=RATE_WINDOW_SECONDS)
        count = 1
    if count > limit:
        started = cache.get(f"{base}:start") or now
        retry_after = max(1, math.ceil(started + RATE_WINDOW_SECONDS - now))
        what = "replies" if replies else "messages"
        raise ActionError(
            f"{contact} has already been sent {limit} {what} in the last hour; "
            f"try again in {math.ceil(retry_after / 60)} minutes.",
            code="rate_limited",
            retry_after=retry_after,
        )


def _last_inbound_at(inbox: Inbox, contact: Contact, conversation: Conversation | None):
    """When the contact last wrote to this inbox (any conversation): the WhatsApp window."""
    latest = (
        Conversation.objects.filter(inbox=inbox, contact=contact)
        .aggregate(latest=Max("last_inbound_at"))
        .get("latest")
    )
    candidates = [t for t in (latest, conversation and conversation.last_inbound_at) if t]
    return max(candidates) if candidates else None


@dataclass(frozen=True)
class SessionWindow:
    """A channel's free-form window (WhatsApp: 24 hours from the contact's last message):
    ``last_inbound_at`` None when they never wrote to the inbox."""

    hours: int
    last_inbound_at: datetime | None

    @property
    def closes_at(self) -> datetime | None:
        if self.last_inbound_at is None:
            return None
        return self.last_inbound_at + timedelta(hours=self.hours)

    @property
    def is_open(self) -> bool:
        closes_at = self.closes_at
        return closes_at is not None and timezone.now() <= closes_at


def session_window(
    inbox: Inbox, contact: Contact, conversation: Conversation | None = None
) -> SessionWindow | None:
    """The window free-form text to ``contact`` through ``inbox`` depends on, None for a
    channel without one (only approved templates go out while it is closed)."""
    hours = get_provider(inbox).capabilities.session_window_hours
    if not hours:
        return None
    return SessionWindow(hours, _last_inbound_at(inbox, contact, conversation))


def check_email_copies(tenant: Tenant, addresses: Sequence[str], label: str) -> list[str]:
    """CC or BCC addresses: valid, lower-case, not blocklisted, without repeats."""
    if isinstance(addresses, str):
        addresses = [a for a in re.split(r"[,;\s]+", addresses) if a]
    cleaned: list[str] = []
    for raw in addresses or ():
        try:
            address = clean_email(str(raw))
        except InvalidEmail as exc:
            raise ActionError(f"{label}: {exc}") from exc
        if is_blocked(tenant, email=address):
            raise _blocked(address, tenant.default_region)
        if address not in cleaned:
            cleaned.append(address)
    if len(cleaned) > MAX_EMAIL_COPIES:
        raise ActionError(f"{label} takes at most {MAX_EMAIL_COPIES} addresses.")
    return cleaned


def check_email_headers(headers: dict[str, str] | None) -> dict[str, str]:
    """Extra headers (``List-Unsubscribe``…): printable names, one-line values, none of ours."""
    if not headers:
        return {}
    if not isinstance(headers, dict):
        raise ActionError("Email headers are an object of header names and text values.")
    cleaned: dict[str, str] = {}
    for name, value in headers.items():
        name = str(name).strip()
        if not HEADER_NAME.match(name):
            raise ActionError(f"“{name[:80]}” is not a valid email header name.")
        if name.lower() in RESERVED_HEADERS:
            raise ActionError(f"The {name} header is set by Centro and cannot be given.")
        if not isinstance(value, str) or "\r" in value or "\n" in value or len(value) > 2000:
            raise ActionError(f"The {name} header must be one line of text.")
        cleaned[name] = value
    return cleaned


# --- the action -----------------------------------------------------------------------------


@transaction.atomic
def do_send_message(
    tenant: Tenant,
    *,
    conversation: Conversation | int | None = None,
    inbox: Inbox | int | None = None,
    to: str | None = None,
    contact: Contact | int | None = None,
    body: str = "",
    media_urls=(),
    template: dict | None = None,
    acting_user=None,
    acting_token=None,
    sender_type: str = Message.SenderType.AGENT,
    is_private: bool = False,
    subject: str = "",
    body_html: str = "",
    cc: Sequence[str] = (),
    bcc: Sequence[str] = (),
    headers: dict[str, str] | None = None,
    mentions: Sequence[int] = (),
    force_fallback: bool = False,
) -> Message:
    """Store an outbound message (or a private note) and queue its delivery after commit.

    ``force_fallback``: the message goes straight out on the inbox's fallback inbox (an agent
    sending an iMessage conversation's message by SMS); the thread notes the switch.

    A new conversation names the ``inbox`` and who to write to: ``to`` (a phone number or an
    email address, the contact found or created) or one of the tenant's contacts (``contact``,
    at their phone or email); it continues the contact's active conversation there, if any.

    A note's ``mentions`` (user ids of members it names as ``@Name``) are notified; ids that
    are not the tenant's members who see conversations are refused (see ``check_mentions``).

    Email inboxes take ``to`` as an email address, a ``subject`` (a reply without one is
    "Re: <the thread's last subject>"), an optional ``body_html``, ``cc``/``bcc`` addresses and
    extra ``headers``; threading headers are computed from the conversation.

    A member (``acting_user``) or token (``acting_token``) needs ``conversations.note`` for a
    private note and ``conversations.reply`` for anything sent: checked here, first, for pages
    and the API alike (``MissingPermission``, 403). Without either, the system sends.
    """
    acting = acting_for(tenant.pk, acting_user=acting_user, acting_token=acting_token)
    if is_private:
        require_acting_permission(acting, "conversations.note", doing="write private notes")
    else:
        require_acting_permission(acting, "conversations.reply", doing="reply to conversations")
    body = body or ""
    subject = " ".join((subject or "").split())[:500]
    body_html = body_html or ""
    conversation = _resolve_conversation(tenant, conversation)
    inbox = _resolve_inbox(tenant, inbox)
    if conversation is not None:
        if inbox is not None and inbox.pk != conversation.inbox_id:
            raise ActionError("The conversation belongs to another inbox.")
        inbox = conversation.inbox
    if inbox is None:
        raise ActionError("Say which conversation to reply in, or which inbox to send from.")
    if sender_type not in Message.SenderType.values or sender_type == Message.SenderType.CONTACT:
        raise ActionError(f"“{sender_type}” cannot send messages.")

    is_email = inbox.kind == Channel.EMAIL
    media_urls = check_media_urls(media_urls)
    template = check_template(template)
    if not is_email and (subject or body_html or cc or bcc or headers):
        raise ActionError("Subject, HTML, CC, BCC and headers are for email inboxes only.")
    if is_email:
        if template:
            raise ActionError("Email inboxes do not send WhatsApp templates.")
        cc = check_email_copies(tenant, cc, "CC")
        bcc = check_email_copies(tenant, bcc, "BCC")
        headers = check_email_headers(headers)
        if is_private and (cc or bcc or headers or body_html):
            raise ActionError("Notes are text only.")
    if is_private:
        if not body.strip():
            raise ActionError("A note needs text.")
        if media_urls or template:
            raise ActionError("Notes are text only.")
        mentioned = check_mentions(tenant, body, mentions)
    elif mentions:
        raise ActionError("Only private notes mention members.")
    elif not (body.strip() or body_html.strip() or media_urls or template):
        raise ActionError("Write a message, attach media or choose a template.")
    if not is_private:
        if not inbox.is_active:
            raise ActionError(f"The inbox “{inbox.name}” is disabled; enable it to send.")
        if inbox.kind not in DIRECT_CHANNELS:
            raise ActionError(f"Sending through {inbox.get_kind_display()} is not supported.")
        limit = MAX_EMAIL_BODY_LENGTH if is_email else MAX_BODY_LENGTH
        if len(body) > limit or len(body_html) > limit:
            raise ActionError(
                f"The message has {max(len(body), len(body_html))} characters; "
                f"the limit is {limit}."
            )

    if conversation is None and contact is not None:
        contact = _resolve_contact(tenant, contact)
        address = contact.email.lower() if is_email else contact.phone
        if not address:
            what = "email address" if is_email else "phone number"
            raise ActionError(
                f"{contact} has no {what} to write to by {inbox.get_kind_display()}; add one "
                "on their contact page, or choose another channel."
            )
        if is_email and not is_private and not subject:
            raise ActionError("An email needs a subject.")
        blocked = (
            is_blocked(tenant, email=address) if is_email else is_blocked(tenant, phone=address)
        )
        if not is_private and blocked:
            raise _blocked(address)
    elif conversation is None:
        if not to:
            what = "an email address" if is_email else "a phone number"
            raise ActionError(f"Say who to send to ({what}) or which conversation.")
        if is_email:
            display_name, parsed = parseaddr(to)
            try:
                address = clean_email(parsed or to)
            except InvalidEmail as exc:
                raise ActionError(str(exc)) from exc
            if is_blocked(tenant, email=address):
                raise _blocked(address, tenant.default_region)
            if not is_private and not subject:
                raise ActionError("An email needs a subject.")
            contact, _ = get_or_create_contact_by_email(
                tenant, email=address, name=display_name, created_via=Contact.CreatedVia.OUTBOUND
            )
            if contact is None:
                raise _blocked(address, tenant.default_region)
        else:
            if is_blocked(tenant, phone=to):
                raise _blocked(to, tenant.default_region)
            try:
                contact, _ = get_or_create_contact_by_phone(
                    tenant, phone=to, created_via=Contact.CreatedVia.OUTBOUND
                )
            except InvalidPhone as exc:
                raise ActionError(str(exc)) from exc
    else:
        contact = conversation.contact
        if is_email and not is_private:
            if not contact.email:
                raise ActionError(f"{contact} has no email address to reply to.")
            if is_blocked(tenant, email=contact.email):
                raise _blocked(contact.email, tenant.default_region)
        elif not is_private and is_blocked(tenant, phone=contact.phone):
            raise _blocked(contact.phone, tenant.default_region)

    if not is_private:
        provider = get_provider(inbox)
        if is_opted_out(contact, channel=inbox.kind, sender=inbox.address):
            raise ActionError(_opted_out(contact, inbox), code="opted_out")
        if media_urls and not provider.capabilities.media:
            raise ActionError(f"{inbox.get_kind_display()} cannot carry attachments.")
        window = session_window(inbox, contact, conversation) if template is None else None
        if window is not None and not window.is_open:
            raise ActionError(
                f"Outside WhatsApp's {window.hours}-hour window: {contact} has not written in "
                f"the last {window.hours} hours, so only an approved template can be sent.",
                code="outside_window",
            )
        if is_conversation_reply(tenant, contact, acting_user=acting_user, sender_type=sender_type):
            check_contact_rate_limit(
                tenant, contact, limit=contact_reply_hourly_limit(inbox), replies=True
            )
        else:
            check_contact_rate_limit(tenant, contact, limit=contact_hourly_limit(inbox))

    if conversation is None:
        if is_email:
            conversation = get_or_open_email_conversation(inbox, contact, subject)
        else:
            conversation = get_or_open_active_conversation(inbox, contact)

    now = timezone.now()
    metadata: dict = {}
    email_message_id = ""
    if is_email and not is_private:
        last_subject, in_reply_to, references = reply_headers(conversation)
        if not subject:
            subject = reply_subject(last_subject or conversation.subject)
        email_message_id = new_message_id(inbox.address)
        if in_reply_to:
            metadata["in_reply_to"] = in_reply_to
            metadata["references"] = references
        if cc:
            metadata["cc"] = cc
        if bcc:
            metadata["bcc"] = bcc
        if headers:
            metadata["headers"] = headers
    if media_urls:
        metadata["media_urls"] = media_urls
    # A reply in an iMessage inbox's SMS chat goes by SMS: its bubble says so from the start.
    if not is_private and conversation.external_thread_id and supports(provider, "thread_service"):
        metadata["service"] = provider.thread_service(conversation.external_thread_id)
    if template:
        metadata["template"] = template
    if acting_token is not None:
        metadata["api_token_id"] = acting_token.pk
    if is_private and mentioned:
        # The names as written, so that the thread highlights them without a query.
        metadata["mentions"] = list(mentioned)
        metadata["mention_names"] = list(mentioned.values())
    message = Message.objects.create(
        tenant=tenant,
        conversation=conversation,
        inbox=inbox,
        direction=Message.Direction.OUTBOUND,
        sender_type=sender_type,
        author=acting_user,
        body=body,
        body_html=body_html,
        subject=subject,
        email_message_id=email_message_id,
        is_private=is_private,
        # A note is never sent: it is complete the moment it is stored.
        status=Message.Status.SENT if is_private else Message.Status.QUEUED,
        metadata=metadata,
        created_at=now,
    )
    if not is_private:
        route = FallbackRoute(inbox)
        if force_fallback:
            route = _forced_fallback(inbox, contact, message)
        delivery = Delivery.objects.create(
            tenant=tenant,
            message=message,
            inbox=route.inbox,
            provider=route.inbox.provider,
            recipient=contact.email.lower() if route.kind == Channel.EMAIL else contact.phone,
            channel=route.channel,
            created_at=now,
        )
        Conversation.objects.filter(pk=conversation.pk).update(last_message_at=now)
        if sender_type == Message.SenderType.AGENT:
            Conversation.objects.filter(
                pk=conversation.pk, first_response_at__isnull=True, last_inbound_at__isnull=False
            ).update(first_response_at=now)
        transaction.on_commit(lambda: _enqueue_delivery(delivery.pk))
    events.publish(tenant, events.EventType.MESSAGE_CREATED, message_payload(message))
    if is_private:
        notify_mentioned(message, mentioned, actor=acting_user)
    else:
        conversation.refresh_from_db()
        events.publish(
            tenant,
            events.EventType.CONVERSATION_UPDATED,
            conversation_payload(conversation),
        )
    return message


def _forced_fallback(inbox: Inbox, contact: Contact, message: Message) -> FallbackRoute:
    """The inbox's fallback route, for a message an agent sends on it on purpose (noted on the
    message like an automatic fallback)."""
    route = fallback_route(inbox)
    if route is None:
        raise ActionError(
            f"The inbox “{inbox.name}” has no active fallback inbox or SMS relay to send by."
        )
    if message.conversation.participants:
        raise ActionError(
            f"A group conversation cannot be sent by {route.label}: it would reach one member only."
        )
    if not (contact.email if route.kind == Channel.EMAIL else contact.phone):
        raise ActionError(f"{contact} has no address to write to by {route.label}.")
    message.metadata = {
        **message.metadata,
        "fallback": fallback_note(inbox, route, "chosen by the agent for this message"),
    }
    message.save(update_fields=["metadata"])
    return route


def _recipient_blocked(tenant_id: int, recipient: str) -> bool:
    if "@" in recipient:
        return BlockedAddress.objects.filter(
            tenant_id=tenant_id, kind=BlockedAddress.Kind.EMAIL, value=recipient.lower()
        ).exists()
    return is_number_blocked(tenant_id, recipient)


def _opted_out(contact: Contact, inbox: Inbox, *, queued: bool = False) -> str:
    """Why nothing goes to an opted-out contact, and what would change it; ``queued``: said
    of a message that was accepted before the opt-out and refused when its turn came."""
    late = " before this message went out, so it was not sent" if queued else ""
    region = inbox.tenant.default_region
    who, sender = contact_display(contact, region), format_phone(inbox.address, region)
    if inbox.kind == Channel.EMAIL:
        return (
            f"{who} is opted out of email from {sender} (a hard bounce, a spam "
            f"complaint or their request){late}; nothing is sent to them."
        )
    return (
        f"{who} opted out of {inbox.get_kind_display()} messages from {sender} "
        f"(STOP){late}; they must reply START before you can message them."
    )


def _blocked(number: str, region: str) -> ActionError:
    return ActionError(
        f"{format_phone(number, region)} is on this tenant's blocklist: nothing is sent to it.",
        code="blocked",
    )


def _enqueue_delivery(delivery_id: int) -> None:
    from inbox.tasks.delivery import deliver_message_task

    deliver_message_task.delay(delivery_id)


# --- delivery (called by the task) ----------------------------------------------------------


def _advance_message(message: Message, status: str, **fields) -> bool:
    """Move the message forward only (a conditional UPDATE); True when it moved."""
    lower = [s for s, rank in STATUS_RANK.items() if rank < STATUS_RANK[status]]
    moved = Message.objects.filter(pk=message.pk, status__in=lower).update(status=status, **fields)
    if moved:
        message.refresh_from_db(fields=["status", "error_code", "error_message"])
        events.publish(
            message.tenant,
            events.EventType.MESSAGE_STATUS_UPDATED,
            message_status_payload(message),
        )
    return bool(moved)


def attempt_delivery(delivery_id: int, *, final_attempt: bool = False) -> Delivery | None:
    """Hand one queued Delivery to its provider, at most once, and record what happened.

    Returns the Delivery (None when it does not exist); raises :class:`RetryDelivery` when the
    provider asks to try again later and ``final_attempt`` is false (then it is queued again).
    """
    now = timezone.now()
    # The claim: only one caller can move it from queued to sending (and only before a send).
    claimed = Delivery.objects.filter(
        pk=delivery_id, status=Message.Status.QUEUED, provider_message_id=""
    ).update(status=Message.Status.SENDING, attempts=F("attempts") + 1, last_attempt_at=now)
    delivery = (
        Delivery.objects.select_related("message", "inbox", "message__conversation__contact")
        .filter(pk=delivery_id)
        .first()
    )
    if delivery is None or not claimed:
        if delivery is not None:
            logger.info("Delivery %s is %s; not sending it again.", delivery_id, delivery.status)
        return delivery
    message, inbox = delivery.message, delivery.inbox
    try:
        if not inbox.is_active:
            raise ProviderError(
                f"The inbox “{inbox.name}” was disabled before the message went out.",
                code="inbox_disabled",
                permanent=True,
            )
        # What may have changed since the message was queued (an agent's reply waiting for a
        # worker, a notification): the contact erased, blocklisted or opted out.
        contact = message.conversation.contact
        if contact.erased_at is not None:
            raise ProviderError(
                "The contact's personal data was erased before this message went out, so it "
                "was not sent; nothing is sent to an erased contact.",
                code="erased",
                permanent=True,
            )
        if _recipient_blocked(delivery.tenant_id, delivery.recipient):
            raise ProviderError(
                f"{delivery.recipient} was put on the blocklist before the message went out, "
                "so it was not sent; remove it from the blocklist to message it again.",
                code="blocked",
                permanent=True,
            )
        # A relayed SMS answers to both the inbox's channel and SMS.
        channels = dict.fromkeys((inbox.kind, delivery.channel or inbox.kind))
        if any(is_opted_out(contact, channel=c, sender=inbox.address) for c in channels):
            raise ProviderError(
                _opted_out(contact, inbox, queued=True),
                code="opted_out",
                permanent=True,
            )
        provider = get_provider(inbox)
        # The provider's thread handle addresses replies in the conversation's own inbox, on
        # its own channel (a relayed SMS goes to the contact's SMS chat).
        thread_ref = (
            message.conversation.external_thread_id
            if message.conversation.inbox_id == inbox.pk and not delivery.channel
            else ""
        )
        if (
            not thread_ref
            and not delivery.channel
            and not reachable(inbox, provider, delivery.recipient)
        ):
            raise NotOnChannel(
                f"{delivery.recipient} is probably not on {inbox.get_kind_display()} "
                "(the provider's availability check said no)."
            )
        result = provider.send(
            outbound_message(
                message,
                recipient=delivery.recipient,
                thread_ref=thread_ref,
                client_ref=_client_ref(delivery),
                channel=delivery.channel,
                contact=contact,
            )
        )
    except NotOnChannel as exc:
        if do_fall_back(delivery, exc) is None:
            _record_failure(delivery, exc)
        delivery.refresh_from_db()
        return delivery
    except ProviderError as exc:
        if exc.permanent or final_attempt:
            _record_failure(delivery, exc)
            return delivery
        Delivery.objects.filter(pk=delivery.pk, status=Message.Status.SENDING).update(
            status=Message.Status.QUEUED,
            error_code=exc.code[:20],
            error_message=exc.message[:500],
        )
        delivery.refresh_from_db()
        raise RetryDelivery(exc.message, retry_after=exc.retry_after) from exc

    # Accepted by the provider: at least "sent" (handed over), further if it already says so.
    # Its echo may have arrived first and recorded the id and a later status already.
    status = result.status
    if STATUS_RANK.get(status, 0) < STATUS_RANK[Message.Status.SENT]:
        status = Message.Status.SENT
    sent_at = timezone.now()
    recorded = {"provider_message_id": result.provider_message_id}
    Delivery.objects.filter(pk=delivery.pk, status=Message.Status.SENDING).update(
        status=status,
        sent_at=sent_at,
        error_code="",
        error_message="",
        **(recorded if result.provider_message_id else {}),
    )
    _advance_message(message, status, error_code="", error_message="")
    _keep_provider_refs(message.conversation, delivery, thread_ref, result)
    Contact.objects.filter(pk=message.conversation.contact_id).filter(
        Q(last_contacted_at__isnull=True) | Q(last_contacted_at__lt=sent_at)
    ).update(last_contacted_at=sent_at)
    delivery.refresh_from_db()
    return delivery


def _keep_provider_refs(
    conversation: Conversation, delivery: Delivery, thread_ref: str, result
) -> None:
    """What the provider chose for this send, kept so the next one goes straight there: the
    thread it found or opened (on the conversation, when the send was on its own inbox and
    channel and the conversation still names the thread it named before), and the contact's
    ids in its system (merged into ``Contact.external_ids``)."""
    new_ref = (result.thread_ref or "")[:200]
    if (
        new_ref
        and new_ref != thread_ref
        and conversation.inbox_id == delivery.inbox_id
        and not delivery.channel
    ):
        Conversation.objects.filter(pk=conversation.pk, external_thread_id=thread_ref).update(
            external_thread_id=new_ref
        )
    if result.contact_ids:
        do_link_external_ids(conversation.contact_id, dict(result.contact_ids))


def _client_ref(delivery: Delivery) -> str:
    """The delivery's reference for providers that echo one, made on its first attempt and
    kept for retries (a provider refuses a second send while the first is in flight)."""
    if not delivery.client_ref:
        ref = f"temp-{uuid.uuid4().hex}"
        Delivery.objects.filter(pk=delivery.pk, client_ref="").update(client_ref=ref)
        delivery.refresh_from_db(fields=["client_ref"])
    return delivery.client_ref


UNKNOWN_OUTCOME = ProviderError(
    "The provider never confirmed this message, so it may or may not have reached the "
    "contact. It is not sent again automatically: check with the contact before resending.",
    code="unknown_outcome",
    permanent=True,
)


def do_settle_stalled_deliveries(*, older_than: timedelta) -> int:
    """Deliveries claimed for sending but never settled (a worker died mid-call) become failed
    with an "unknown outcome": at most once to the person, and the ambiguity is recorded."""
    cutoff = timezone.now() - older_than
    stalled = Delivery.objects.filter(
        status=Message.Status.SENDING, last_attempt_at__lt=cutoff
    ).select_related("message__conversation__contact")
    settled = 0
    for delivery in stalled:
        _record_failure(delivery, UNKNOWN_OUTCOME)
        settled += 1
    if settled:
        logger.warning("Settled %d stalled deliveries as unknown outcome.", settled)
    return settled


def _record_failure(delivery: Delivery, exc: ProviderError) -> None:
    message = delivery.message
    with transaction.atomic():
        failed = Delivery.objects.filter(pk=delivery.pk, status=Message.Status.SENDING).update(
            status=Message.Status.FAILED,
            error_code=exc.code[:20],
            error_message=exc.message[:500],
            failed_at=timezone.now(),
        )
        _advance_message(
            message,
            Message.Status.FAILED,
            error_code=exc.code[:20],
            error_message=exc.message[:500],
        )
        if exc.opt_out:
            do_set_consent(
                message.conversation.contact,
                channel=delivery.inbox.kind,
                sender=delivery.inbox.address,
                status=Consent.Status.OPTED_OUT,
                source=Consent.Source.PROVIDER_ERROR,
                detail=f"{delivery.provider} error {exc.code}",
            )
        delivery.refresh_from_db()
        if failed:
            hooks.delivery_failed(delivery)


# --- recording sends made elsewhere (campaigns) ---------------------------------------------


def _keep_batch_refs(conversations: dict[int, int], rows: list, at: datetime) -> None:
    """:func:`_keep_provider_refs` for a batch, in two statements at most: the threads on the
    conversations that name none, the contacts' ids merged into their ``external_ids``."""
    threads = {
        conversations[row.contact_id]: row.thread_ref[:200] for row in rows if row.thread_ref
    }
    ids = {
        row.contact_id: {str(k)[:50]: str(v)[:100] for k, v in row.contact_ids.items() if v}
        for row in rows
        if row.contact_ids
    }
    linked: dict[int, list[int]] = {}
    with connection.cursor() as cursor:
        if threads:
            cursor.execute(
                f"""
                UPDATE {Conversation._meta.db_table} c SET external_thread_id = v.ref
                FROM unnest(%s::bigint[], %s::text[]) AS v(id, ref)
                WHERE c.id = v.id AND c.external_thread_id = ''
                """,  # noqa: S608  (the table name from the model; values are parameters)
                [list(threads), list(threads.values())],
            )
        if ids:
            cursor.execute(
                f"""
                UPDATE {Contact._meta.db_table} c
                SET external_ids = COALESCE(c.external_ids, '{{}}'::jsonb) || v.ids::jsonb,
                    updated_at = %s
                FROM unnest(%s::bigint[], %s::text[]) AS v(id, ids)
                WHERE c.id = v.id AND NOT COALESCE(c.external_ids, '{{}}'::jsonb) @> v.ids::jsonb
                RETURNING c.tenant_id, c.id
                """,  # noqa: S608
                [at, list(ids), [json.dumps(value) for value in ids.values()]],
            )
            for tenant_id, contact_id in cursor.fetchall():
                linked.setdefault(tenant_id, []).append(contact_id)
    # Newly linked contacts: what connected systems are told of them may change.
    for tenant_id, contact_ids in linked.items():
        contacts_hooks.shared_attributes_changed(tenant_id, contact_ids)


@dataclass
class OutboundRecord:
    """One message a bulk sender handed to the provider (``error`` None: accepted) or that the
    provider refused, to be recorded in the contact's conversation."""

    contact_id: int | None
    recipient: str
    body: str
    metadata: dict
    attempts: int  # including this one
    provider_message_id: str = ""
    error: ProviderError | None = None
    # What the provider chose (``ProviderResult.thread_ref`` and ``contact_ids``), kept as a
    # delivery keeps them: the thread on a conversation that names none, the contact's ids.
    thread_ref: str = ""
    contact_ids: dict = field(default_factory=dict)


def do_record_outbound_batch(
    inbox: Inbox, rows: list[OutboundRecord], *, at: datetime
) -> list[int | None]:
    """Record sends made outside :func:`attempt_delivery` (a campaign's chunk) in a fixed
    number of queries: each contact's active conversation (started pending where there is
    none, so that it enters the Open view when the contact replies), one system Message (an
    automated send: the inbox report does not count it as an agent's reply; the thread shows
    it as an outbound bubble, see ``inbox_ui.automated_label``) and one Delivery per row, the
    conversations' ``last_message_at`` and the reached contacts' ``last_contacted_at``, all at
    ``at``. Returns the message id of each row, None for a row without a contact (deleted
    since). Runs in the caller's transaction, so the caller's own bookkeeping of the sends
    commits with these rows or not at all; the ``on_delivery_failed`` hooks hear of the refused
    ones."""
    conversations = get_or_open_active_conversations(
        inbox, {row.contact_id for row in rows if row.contact_id}, last_message_at=at
    )
    recorded = [row for row in rows if row.contact_id in conversations]
    if not recorded:
        return [None] * len(rows)
    # COPY, with ids taken first: no 1,000-parameter INSERT for PostgreSQL to parse and plan.
    message_ids = new_ids(Message, len(recorded))
    failed = [i for i, row in enumerate(recorded) if row.error]
    delivery_ids = new_ids(Delivery, len(recorded)) if failed else None
    messages, deliveries = [], []
    for i, (row, message_id) in enumerate(zip(recorded, message_ids, strict=True)):
        status = Message.Status.FAILED if row.error else Message.Status.SENT
        error_code = row.error.code[:20] if row.error else ""
        error_message = row.error.message[:500] if row.error else ""
        messages.append(
            {
                "id": message_id,
                "tenant_id": inbox.tenant_id,
                "conversation_id": conversations[row.contact_id],
                "inbox_id": inbox.pk,
                "direction": Message.Direction.OUTBOUND,
                "sender_type": Message.SenderType.SYSTEM,
                "body": row.body,
                "status": status,
                "error_code": error_code,
                "error_message": error_message,
                "metadata": row.metadata,
                "created_at": at,
            }
        )
        deliveries.append(
            {
                **({"id": delivery_ids[i]} if delivery_ids else {}),
                "tenant_id": inbox.tenant_id,
                "message_id": message_id,
                "inbox_id": inbox.pk,
                "provider": inbox.provider,
                "recipient": row.recipient,
                "status": status,
                "provider_message_id": row.provider_message_id,
                "attempts": row.attempts,
                "error_code": error_code,
                "error_message": error_message,
                "created_at": at,
                "last_attempt_at": at,
                "sent_at": None if row.error else at,
                "failed_at": at if row.error else None,
            }
        )
    copy_in(Message, messages, at)
    copy_in(Delivery, deliveries, at)
    # Rewriting a row moves every index entry of it (last_message_at is indexed): only the
    # conversations that were not just started with it.
    Conversation.objects.filter(pk__in=set(conversations.values())).exclude(
        last_message_at=at
    ).update(last_message_at=at)
    reached = [row.contact_id for row in recorded if row.error is None]
    Contact.objects.filter(pk__in=reached).filter(
        Q(last_contacted_at__isnull=True) | Q(last_contacted_at__lt=at)
    ).update(last_contacted_at=at)
    _keep_batch_refs(conversations, [row for row in recorded if row.error is None], at)
    for i in failed:
        delivery = Delivery(**deliveries[i])
        delivery.message = Message(**messages[i])
        hooks.delivery_failed(delivery)
    stored = iter(message_ids)
    return [next(stored) if row.contact_id in conversations else None for row in rows]
