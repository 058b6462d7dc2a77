"""Inbox routes of the JSON API (mounted by omnichannel.api at /api/v1/).

Messages, conversations, inboxes and the messaging report, all scoped to the calling token's
tenant: an id of another tenant answers 404, exactly like a missing one.

``POST /messages`` and ``POST /conversations/{id}/messages`` honour an ``Idempotency-Key``
header: the first request with a key sends and answers 201; a repeat within 24 hours answers
200 with the same message and sends nothing (:func:`omnichannel.api.idempotent`).
"""

import json
from datetime import datetime
from typing import Any, Literal

from django.contrib.auth import get_user_model
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status
from ninja.responses import NinjaJSONEncoder

from contacts.actions import InvalidEmail, clean_email
from contacts.phones import InvalidPhone, normalize_phone
from inbox.actions.conversations import (
    UNCHANGED,
    do_delete_conversation,
    do_update_conversation,
)
from inbox.actions.inboxes import (
    do_create_inbox,
    do_update_inbox,
    do_update_inbox_credentials,
    webhook_urls,
)
from inbox.actions.macros import describe_step, do_run_macro
from inbox.models import Attachment, Conversation, Delivery, Inbox, Macro, Message, Team
from inbox.providers.credentials import mask_secret_id
from inbox.selectors import (
    ConversationFilters,
    conversation_list_for_api,
    conversations_for_tenant,
    macros_for_member,
    macros_with_steps,
    messages_for_conversation,
    messages_with_details,
    messaging_report,
)
from omnichannel.actions import ActionError
from omnichannel.api import ApiInput, error_responses, idempotent, permission_required
from omnichannel.channels import Channel
from omnichannel.pagination import InvalidCursor
from omnichannel.tenancy import get_in_tenant

router = Router(tags=["inbox"])
ROUTERS = [router]  # mounted at /api/v1/ by omnichannel.api
User = get_user_model()

SENDABLE_CHANNELS = Literal["sms", "whatsapp", "email"]
CHANNELS = Literal["sms", "whatsapp", "email", "imessage", "chatwoot", "voice"]
STATUSES = Literal["open", "pending", "snoozed", "closed", "archived"]
PRIORITY_NAMES = {p.value: p.label.lower() for p in Conversation.Priority}
PRIORITY_VALUES = {name: value for value, name in PRIORITY_NAMES.items()}
PRIORITIES = Literal["none", "low", "medium", "high", "urgent"]


# --- Schemas ------------------------------------------------------------------------------------


class InboxRef(Schema):
    id: int
    name: str
    channel: str
    address: str


class ContactRef(Schema):
    id: int
    name: str
    phone: str
    email: str


class UserRef(Schema):
    id: int
    email: str
    name: str


class ConversationOut(Schema):
    id: int
    channel: str
    status: str
    priority: str
    subject: str = Field("", description="An email thread's subject (without Re:).")
    inbox: InboxRef
    contact: ContactRef
    assignee: UserRef | None
    team_id: int | None
    snoozed_until: datetime | None
    last_message_at: datetime | None
    last_inbound_at: datetime | None
    first_response_at: datetime | None
    created_at: datetime
    last_message_preview: str | None


class ConversationPage(Schema):
    items: list[ConversationOut]
    next_cursor: str | None = Field(..., description="Pass as `cursor` for the next page.")


class DeliveryOut(Schema):
    id: int
    inbox_id: int
    provider: str
    recipient: str
    status: str
    provider_message_id: str
    attempts: int
    error_code: str
    error_message: str
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    read_at: datetime | None
    failed_at: datetime | None


class AttachmentOut(Schema):
    id: int
    content_type: str
    filename: str
    size: int | None
    status: str
    url: str | None = Field(..., description="Where the stored file is served, once fetched.")


class MessageOut(Schema):
    id: int
    conversation_id: int
    inbox_id: int
    direction: str
    sender_type: str
    author: UserRef | None
    private: bool
    mentions: list[int] = Field(default_factory=list, description="Notes: mentioned user ids.")
    status: str
    body: str
    subject: str = Field("", description="Email only.")
    email_message_id: str = Field("", description="Email only: the RFC 5322 Message-ID.")
    error_code: str
    error_message: str
    external_id: str
    created_at: datetime
    deliveries: list[DeliveryOut]
    attachments: list[AttachmentOut]


class MessagePage(Schema):
    items: list[MessageOut]
    next_cursor: str | None


class TemplateIn(ApiInput):
    content_sid: str = Field(..., min_length=1, max_length=64, description="Twilio Content SID.")
    variables: dict[str, str] = Field(default_factory=dict)


class EmailFieldsIn(ApiInput):
    subject: str = Field(
        "",
        max_length=500,
        description="Email only; a reply without one is “Re: ” and the thread's last subject.",
    )
    body_html: str = Field("", description="Email only: the HTML body (the text body is `body`).")
    cc: list[str] = Field(default_factory=list, max_length=20, description="Email only.")
    bcc: list[str] = Field(default_factory=list, max_length=20, description="Email only.")
    headers: dict[str, str] = Field(
        default_factory=dict, description="Email only: extra headers such as List-Unsubscribe."
    )


class SendIn(EmailFieldsIn):
    channel: SENDABLE_CHANNELS
    to: str | None = Field(
        None,
        description="E.164 or a national number of the tenant's region; an email address for "
        "email.",
    )
    body: str = ""
    media_urls: list[str] = Field(default_factory=list, max_length=10)
    conversation_id: int | None = None
    template: TemplateIn | None = None
    inbox_id: int | None = Field(None, description="Which inbox, when the tenant has several.")


class ReplyIn(EmailFieldsIn):
    body: str = ""
    media_urls: list[str] = Field(default_factory=list, max_length=10)
    template: TemplateIn | None = None
    private: bool = Field(False, description="An internal note: stored, never sent.")
    by_fallback: bool = Field(
        False,
        description=(
            "Send this message on the inbox's fallback inbox (an iMessage conversation's "
            "message by SMS); 400 when the inbox has none."
        ),
    )
    mentions: list[int] = Field(
        default_factory=list,
        max_length=20,
        description=(
            "A private note's mentioned members (user ids), each named in the body as @Name "
            "or @email; they are notified. Ids of non-members answer 400."
        ),
    )


class ConversationPatchIn(ApiInput):
    status: STATUSES | None = None
    assignee_id: int | None = Field(None, description="A member's user id; null unassigns.")
    team_id: int | None = Field(None, description="A team's id; null removes the team.")
    priority: PRIORITIES | None = None
    snoozed_until: datetime | None = Field(None, description="With a UTC offset; in the future.")


class InboxOut(Schema):
    id: int
    name: str
    channel: str
    provider: str
    address: str
    is_active: bool
    settings: dict[str, Any]
    has_credentials: bool
    account_sid: str | None = Field(..., description="Masked: enough to recognise the account.")
    messaging_service_sid: str | None
    api_base_url: str | None
    esp: str | None = Field(None, description="Email: the sending service (postmark, smtp…).")
    webhook_urls: dict[str, str] = Field(
        ...,
        description="The URLs to paste at the provider, by event type and endpoint: Twilio's "
        "`inbound` and `status` (status callbacks); an ESP's `inbound` and `tracking`.",
    )
    fallback_inbox_id: int | None = Field(
        None, description="Where messages go when the address is not on this channel."
    )
    sms_relay: bool = Field(
        False,
        description="Messages that cannot go on this channel go out as SMS through the inbox's "
        "own account instead of a fallback inbox (BlueBubbles: the Mac's relay through its "
        "paired iPhone).",
    )
    created_at: datetime


class InboxList(Schema):
    items: list[InboxOut]


MACRO_STEP_KINDS = Literal[
    "add_label",
    "remove_label",
    "assign_me",
    "assign_agent",
    "assign_team",
    "send_canned",
    "add_note",
    "close",
    "snooze",
]


class MacroStepOut(Schema):
    position: int
    kind: MACRO_STEP_KINDS
    description: str = Field(..., description="The step in words, as agents see it.")


class MacroOut(Schema):
    id: int
    name: str
    steps: list[MacroStepOut]


class MacroList(Schema):
    items: list[MacroOut]


class MacroRunOut(Schema):
    conversation: ConversationOut
    steps: list[str] = Field(..., description="The steps that ran, in order, in words.")


class InboxIn(ApiInput):
    name: str = Field("", max_length=100)
    channel: SENDABLE_CHANNELS
    provider: str = Field(
        "twilio", max_length=20, description="A registered provider: twilio or anymail."
    )
    address: str = Field(..., description="The sender: a number (E.164) or an email address.")
    credentials: dict[str, Any] = Field(
        ...,
        description="Twilio: account_sid and auth_token; optional api_base_url, "
        "messaging_service_sid. Email (anymail): esp and its settings (e.g. server_token for "
        "postmark; host, port, username, password, use_tls for smtp) and webhook_secret "
        "“user:password” (plus webhook_signing_key for mailgun).",
    )
    settings: dict[str, Any] = Field(default_factory=dict)


class InboxPatchIn(ApiInput):
    name: str | None = Field(None, max_length=100)
    is_active: bool | None = None
    fallback_inbox_id: int | None = Field(
        None, description="Another inbox of the tenant, or null for none."
    )
    sms_relay: bool | None = Field(
        None,
        description="true: fall back to SMS through this inbox's own account (BlueBubbles' "
        "Mac relay; needs the paired iPhone's Text Message Forwarding), which clears "
        "fallback_inbox_id; a fallback_inbox_id turns it off.",
    )
    messages_per_second: float | None = Field(
        None,
        description="How fast campaigns may send from this inbox (one an hour to 1000 a "
        "second); left out, the provider's default (iMessage: one every 3 s, since bulk "
        "iMessage from one Apple ID gets it flagged) or CAMPAIGN_SENDER_RATE.",
    )
    credentials: dict[str, Any] | None = Field(
        None,
        description='Only the keys that change: a value replaces the stored one, null or "" '
        "removes it; checked by the provider's schema as at creation (credentials.manage).",
    )


class ReportTotals(Schema):
    sent: int
    delivered: int
    failed: int
    read: int
    inbound: int
    open_conversations: int
    pending_conversations: int
    snoozed_conversations: int
    first_responses: int
    avg_first_response_seconds: float | None
    responses: int = Field(
        ..., description="Customer messages (the first of each unanswered run) an agent answered."
    )
    avg_response_seconds: float | None = Field(
        ..., description="Their mean wait until the agent's reply, in seconds."
    )


class ChannelReport(ReportTotals):
    channel: str


class AgentReport(Schema):
    agent: UserRef | None = Field(
        ..., description="The agent who replied; null for replies sent with an API token."
    )
    responses: int
    avg_response_seconds: float | None


class MessagingReportOut(Schema):
    days: int
    since: datetime
    until: datetime
    channels: list[ChannelReport]
    agents: list[AgentReport]
    totals: ReportTotals


# --- Serialisation ------------------------------------------------------------------------------


def _user(user) -> dict | None:
    if user is None:
        return None
    return {"id": user.pk, "email": user.email, "name": user.get_full_name()}


def conversation_out(conversation: Conversation) -> dict:
    inbox, contact = conversation.inbox, conversation.contact
    return {
        "id": conversation.pk,
        "channel": inbox.kind,
        "status": conversation.status,
        "priority": PRIORITY_NAMES.get(conversation.priority, str(conversation.priority)),
        "subject": conversation.subject,
        "inbox": {
            "id": inbox.pk,
            "name": inbox.name,
            "channel": inbox.kind,
            "address": inbox.address,
        },
        "contact": {
            "id": contact.pk,
            "name": contact.name,
            "phone": contact.phone,
            "email": contact.email,
        },
        "assignee": _user(conversation.assignee),
        "team_id": conversation.team_id,
        "snoozed_until": conversation.snoozed_until,
        "last_message_at": conversation.last_message_at,
        "last_inbound_at": conversation.last_inbound_at,
        "first_response_at": conversation.first_response_at,
        "created_at": conversation.created_at,
        "last_message_preview": getattr(conversation, "last_message_preview", None),
    }


def _delivery_out(delivery: Delivery) -> dict:
    return {name: getattr(delivery, name) for name in DeliveryOut.model_fields}


def _attachment_out(attachment: Attachment) -> dict:
    return {
        "id": attachment.pk,
        "content_type": attachment.content_type,
        "filename": attachment.filename,
        "size": attachment.size,
        "status": attachment.status,
        "url": attachment.file.url if attachment.file else None,
    }


def message_out(message: Message) -> dict:
    """Needs ``author`` selected and ``deliveries`` / ``attachments`` prefetched."""
    return {
        "id": message.pk,
        "conversation_id": message.conversation_id,
        "inbox_id": message.inbox_id,
        "direction": message.direction,
        "sender_type": message.sender_type,
        "author": _user(message.author),
        "private": message.is_private,
        "mentions": message.metadata.get("mentions", []),
        "status": message.status,
        "body": message.body,
        "subject": message.subject,
        "email_message_id": message.email_message_id,
        "error_code": message.error_code,
        "error_message": message.error_message,
        "external_id": message.external_id,
        "created_at": message.created_at,
        "deliveries": [_delivery_out(d) for d in message.deliveries.all()],
        "attachments": [_attachment_out(a) for a in message.attachments.all()],
    }


def inbox_out(inbox: Inbox) -> dict:
    credentials = inbox.get_credentials()
    sid = credentials.get("account_sid")
    return {
        "id": inbox.pk,
        "name": inbox.name,
        "channel": inbox.kind,
        "provider": inbox.provider,
        "address": inbox.address,
        "is_active": inbox.is_active,
        "settings": inbox.settings,
        "has_credentials": bool(
            (credentials.get("account_sid") and credentials.get("auth_token"))
            or credentials.get("esp")
        ),
        "esp": credentials.get("esp"),
        "account_sid": mask_secret_id(sid) if sid else None,
        "messaging_service_sid": inbox.option("messaging_service_sid"),
        "api_base_url": inbox.option("api_base_url"),
        "webhook_urls": webhook_urls(inbox),
        "fallback_inbox_id": inbox.fallback_inbox_id,
        "sms_relay": inbox.sms_relay,
        "created_at": inbox.created_at,
    }


def inbox_json(inbox: Inbox) -> str:
    """The body of ``GET /inboxes/{id}`` for ``inbox``, for commands that print the same."""
    data = InboxOut.model_validate(inbox_out(inbox)).model_dump(by_alias=True)
    return json.dumps(data, cls=NinjaJSONEncoder)


# --- Helpers ------------------------------------------------------------------------------------


def _conversation(request: HttpRequest, conversation_id: int) -> Conversation:
    return get_in_tenant(
        conversations_for_tenant(request.tenant), request.tenant, pk=conversation_id
    )


def _pick_inbox(tenant, channel: str, inbox_id: int | None) -> Inbox:
    label = Channel(channel).label
    if inbox_id is not None:
        inbox = get_in_tenant(Inbox, tenant, pk=inbox_id)
        if inbox.kind != channel:
            raise ActionError(
                f"Inbox {inbox.pk} is a {inbox.get_kind_display()} inbox, not {label}."
            )
        if not inbox.is_active:
            raise ActionError(f"Inbox {inbox.pk} is disabled; enable it or choose another.")
        return inbox
    inboxes = list(
        Inbox.objects.for_tenant(tenant).filter(kind=channel, is_active=True).order_by("id")[:21]
    )
    if not inboxes:
        raise ActionError(
            f"This tenant has no active {label} inbox. Connect one (POST /api/v1/inboxes) first."
        )
    if len(inboxes) > 1:
        ids = ", ".join(str(i.pk) for i in inboxes[:20])
        raise ActionError(
            f"This tenant has several active {label} inboxes ({ids}); choose one with inbox_id."
        )
    return inboxes[0]


def _template(template: TemplateIn | None) -> dict | None:
    if template is None:
        return None
    return {"content_sid": template.content_sid, "variables": dict(template.variables)}


def _idempotent_send(request: HttpRequest, fingerprint: dict, send) -> HttpResponse | Status:
    """``send()`` once per Idempotency-Key: (201, message json) or the earlier message (200)."""

    def load(message_id: int) -> dict | None:
        message = messages_with_details(request.tenant).filter(pk=message_id).first()
        return message_out(message) if message is not None else None

    return idempotent(request, scope="inbox", fingerprint=fingerprint, act=send, load=load)


# --- Messages -----------------------------------------------------------------------------------


@router.post(
    "/messages",
    response={200: MessageOut, 201: MessageOut},
    summary="Send a message (SMS or WhatsApp) to a phone number",
    openapi_extra=error_responses(429),
)
@permission_required("conversations.reply")
def message_send(request: HttpRequest, payload: SendIn):
    """Sends through the tenant's active inbox of `channel` (`inbox_id` chooses among several),
    into the contact's open conversation (a new one when there is none) or `conversation_id`.
    The message is stored at once with status `queued`; the provider call happens right after.
    Send an `Idempotency-Key` header to make retries safe: a repeat answers 200 with the same
    message and sends nothing."""
    from inbox.actions.send import do_send_message

    tenant = request.tenant
    conversation = None
    if payload.conversation_id is not None:
        conversation = _conversation(request, payload.conversation_id)
        if conversation.inbox.kind != payload.channel:
            raise ActionError(
                f"Conversation {conversation.pk} is on {conversation.inbox.get_kind_display()}, "
                f"not {Channel(payload.channel).label}."
            )
        if payload.inbox_id is not None and payload.inbox_id != conversation.inbox_id:
            raise ActionError(
                f"Conversation {conversation.pk} belongs to inbox {conversation.inbox_id}, "
                f"not {payload.inbox_id}."
            )
        inbox = conversation.inbox
    else:
        inbox = None
    to = None
    is_email = payload.channel == Channel.EMAIL
    if payload.to is not None and payload.to.strip():
        try:
            if is_email:
                to = clean_email(payload.to)
            else:
                to = normalize_phone(payload.to, tenant.default_region)
        except (InvalidPhone, InvalidEmail) as exc:
            raise ActionError(f"The recipient is not usable: {exc}") from exc
    if conversation is None and to is None:
        what = "an email address" if is_email else "a phone number"
        raise ActionError(f"Say who receives the message: `to` ({what}) or conversation_id.")
    current = conversation and (
        conversation.contact.email.lower() if is_email else conversation.contact.phone
    )
    if conversation is not None and to is not None and to != current:
        raise ActionError(f"Conversation {conversation.pk} is with {current}, not {to}.")
    if inbox is None:
        inbox = _pick_inbox(tenant, payload.channel, payload.inbox_id)

    def send() -> Message:
        return do_send_message(
            tenant,
            conversation=conversation,
            inbox=None if conversation is not None else inbox,
            to=None if conversation is not None else to,
            body=payload.body,
            media_urls=tuple(payload.media_urls),
            template=_template(payload.template),
            acting_token=request.api_token,
            **_email_fields(payload),
        )

    return _idempotent_send(request, payload.model_dump(), send)


def _email_fields(payload: EmailFieldsIn) -> dict:
    """The email arguments of do_send_message that the request set (other channels refuse
    them there with a clear error)."""
    fields = {
        "subject": payload.subject,
        "body_html": payload.body_html,
        "cc": tuple(payload.cc),
        "bcc": tuple(payload.bcc),
        "headers": dict(payload.headers) or None,
    }
    return {key: value for key, value in fields.items() if value}


# --- Conversations ------------------------------------------------------------------------------


def _assignee_filter(value: str | None) -> int | str | None:
    if value is None or value == "":
        return None
    if value == "none":
        return "none"
    if value == "me":
        raise ActionError(
            "assignee=me needs a signed-in agent; an API token is nobody. "
            "Pass a member's user id, or none."
        )
    if value.isdigit():
        return int(value)
    raise ActionError(f"assignee must be a user id or none, not “{value}”.")


@router.get(
    "/conversations",
    response=ConversationPage,
    summary="The tenant's conversations, most recent activity first",
)
@permission_required("conversations.view")
def conversation_list(
    request: HttpRequest,
    channel: CHANNELS | None = None,
    status: STATUSES | None = None,
    assignee: str | None = Query(None, description="A user id, or `none` for unassigned."),
    inbox_id: int | None = None,
    q: str | None = Query(
        None,
        max_length=200,
        description=(
            "Contact name or email (substring), phone digits in any format, or words of "
            "the messages or of an email subject (full-text, Spanish and English, accents "
            "ignored)."
        ),
    ),
    cursor: str | None = Query(None, max_length=500),
    limit: int = Query(25, ge=1, le=100),
):
    """Cursor pagination: pass `next_cursor` back as `cursor`; it is null on the last page."""
    filters = ConversationFilters(
        channel=channel,
        status=status,
        assignee=_assignee_filter(assignee),
        inbox_id=inbox_id,
        q=q,
    )
    try:
        page = conversation_list_for_api(
            request.tenant, filters=filters, cursor=cursor, limit=limit
        )
    except InvalidCursor as exc:
        raise ActionError(str(exc)) from exc
    return {"items": [conversation_out(c) for c in page.items], "next_cursor": page.next_cursor}


@router.get("/conversations/{conversation_id}", response=ConversationOut, summary="A conversation")
@permission_required("conversations.view")
def conversation_detail(request: HttpRequest, conversation_id: int):
    return conversation_out(_conversation(request, conversation_id))


@router.get(
    "/conversations/{conversation_id}/messages",
    response=MessagePage,
    summary="A conversation's messages, oldest first",
)
@permission_required("conversations.view")
def conversation_messages(
    request: HttpRequest,
    conversation_id: int,
    cursor: str | None = Query(None, max_length=500),
    limit: int = Query(50, ge=1, le=100),
):
    """Includes private notes and system lines (`sender_type` system), each message's delivery
    attempts and attachments. Cursor pagination like the conversation list."""
    conversation = _conversation(request, conversation_id)
    try:
        page = messages_for_conversation(conversation, cursor=cursor, limit=limit)
    except InvalidCursor as exc:
        raise ActionError(str(exc)) from exc
    return {"items": [message_out(m) for m in page.items], "next_cursor": page.next_cursor}


@router.post(
    "/conversations/{conversation_id}/messages",
    response={200: MessageOut, 201: MessageOut},
    summary="Reply in a conversation, or add a private note",
    openapi_extra=error_responses(429),
)
@permission_required("conversations.view")
def conversation_reply(request: HttpRequest, conversation_id: int, payload: ReplyIn):
    """Replies go out through the conversation's inbox (needs `conversations.reply`).
    `private: true` stores an internal note (needs `conversations.note`) that is never sent.
    Honours `Idempotency-Key` like `POST /messages`."""
    from inbox.actions.send import do_send_message

    conversation = _conversation(request, conversation_id)

    def send() -> Message:
        return do_send_message(
            request.tenant,
            conversation=conversation,
            body=payload.body,
            media_urls=tuple(payload.media_urls),
            template=_template(payload.template),
            is_private=payload.private,
            mentions=tuple(payload.mentions),
            force_fallback=payload.by_fallback,
            acting_token=request.api_token,
            **_email_fields(payload),
        )

    return _idempotent_send(request, payload.model_dump(), send)


@router.patch(
    "/conversations/{conversation_id}",
    response=ConversationOut,
    summary="Change a conversation's status, assignee, priority or snooze",
)
@permission_required("conversations.view")
def conversation_update(request: HttpRequest, conversation_id: int, payload: ConversationPatchIn):
    """Only the fields sent change; `assignee_id: null` unassigns. `snoozed_until` alone
    snoozes. Reopening a closed conversation while the contact has another active one in the
    inbox answers 409.

    What is sent decides the permission, as in the inbox: `status`, `snoozed_until` and
    `priority` need `conversations.manage`; `assignee_id` and `team_id` need
    `conversations.assign`, and an assignee also `conversations.assign_others` (a token is
    nobody, so every assignee is someone else)."""
    conversation = _conversation(request, conversation_id)
    sent = payload.model_fields_set
    assignee: Any = UNCHANGED
    if "assignee_id" in sent:
        assignee = None
        if payload.assignee_id is not None:
            assignee = User.objects.filter(
                pk=payload.assignee_id, memberships__tenant=request.tenant
            ).first()
            if assignee is None:
                raise ActionError(f"There is no member with id {payload.assignee_id} here.")
    team: Any = UNCHANGED
    if "team_id" in sent:
        team = None
        if payload.team_id is not None:
            team = Team.objects.for_tenant(request.tenant).filter(pk=payload.team_id).first()
            if team is None:
                raise ActionError(f"There is no team with id {payload.team_id} here.")
    if payload.snoozed_until is not None and payload.snoozed_until.tzinfo is None:
        raise ActionError("snoozed_until needs a UTC offset, e.g. 2030-01-01T09:00:00+00:00.")
    if "status" in sent and payload.status is None:
        raise ActionError("status cannot be null.")
    do_update_conversation(
        conversation,
        status=payload.status,
        assignee=assignee,
        team=team,
        priority=PRIORITY_VALUES[payload.priority] if payload.priority else None,
        snoozed_until=payload.snoozed_until,
        acting_token=request.api_token,
    )
    return conversation_out(_conversation(request, conversation_id))


@router.delete(
    "/conversations/{conversation_id}",
    response={204: None},
    summary="Delete a conversation with its messages",
)
@permission_required("conversations.delete")
def conversation_delete(request: HttpRequest, conversation_id: int):
    """The conversation, its messages, their deliveries and attachments (files too), read
    states and labels are deleted for good; the contact stays. Audited."""
    conversation = _conversation(request, conversation_id)
    do_delete_conversation(conversation, acting_token=request.api_token)
    return Status(204, None)


# --- Macros -------------------------------------------------------------------------------------


def _macro_out(macro: Macro) -> dict:
    return {
        "id": macro.pk,
        "name": macro.name,
        "steps": [
            {"position": step.position, "kind": step.kind, "description": describe_step(step)}
            for step in macro.steps.all()
        ],
    }


@router.get("/macros", response=MacroList, summary="The tenant's macros")
@permission_required("conversations.view")
def macro_list(request: HttpRequest):
    """The macros available to everyone (a member's personal macros are theirs alone; a token
    is nobody). Each step says what it does; run one with
    `POST /conversations/{id}/macros/{macro_id}/run`."""
    macros = macros_with_steps(macros_for_member(request.tenant, None))
    return {"items": [_macro_out(macro) for macro in macros]}


@router.post(
    "/conversations/{conversation_id}/macros/{macro_id}/run",
    response=MacroRunOut,
    summary="Run a macro on a conversation",
)
@permission_required("conversations.view")
def macro_run(request: HttpRequest, conversation_id: int, macro_id: int):
    """The steps run in order, all or nothing: each needs the permission its action needs
    (labels, close and snooze `conversations.manage`; assigning `conversations.assign`, to an
    agent also `conversations.assign_others`; a canned reply `conversations.reply`; a note
    `conversations.note`), checked for every step before the first runs. The error names the
    step that cannot run. A step "assign to the agent running it" cannot run with a token."""
    conversation = _conversation(request, conversation_id)
    macro = get_in_tenant(macros_for_member(request.tenant, None), request.tenant, pk=macro_id)
    steps = do_run_macro(conversation, macro, acting_token=request.api_token)
    return {
        "conversation": conversation_out(_conversation(request, conversation_id)),
        "steps": steps,
    }


# --- Inboxes ------------------------------------------------------------------------------------


@router.get("/inboxes", response=InboxList, summary="The tenant's connected channels")
@permission_required("inboxes.view")
def inbox_list(request: HttpRequest):
    """Never shows credentials: only whether they are set and the masked account SID."""
    inboxes = Inbox.objects.for_tenant(request.tenant).order_by("name", "id")
    return {"items": [inbox_out(inbox) for inbox in inboxes]}


@router.post(
    "/inboxes", response={201: InboxOut}, summary="Connect a Twilio SMS or WhatsApp number"
)
@permission_required("inboxes.manage")
def inbox_create(request: HttpRequest, payload: InboxIn):
    """Answers with the `webhook_urls` to paste into the Twilio console."""
    inbox = do_create_inbox(
        request.tenant,
        name=payload.name,
        kind=payload.channel,
        provider=payload.provider,
        address=payload.address,
        credentials=payload.credentials,
        settings=payload.settings,
        acting_token=request.api_token,
        request=request,
    )
    return Status(201, inbox_out(inbox))


@router.get("/inboxes/{inbox_id}", response=InboxOut, summary="A connected channel")
@permission_required("inboxes.view")
def inbox_detail(request: HttpRequest, inbox_id: int):
    return inbox_out(get_in_tenant(Inbox, request.tenant, pk=inbox_id))


@router.patch("/inboxes/{inbox_id}", response=InboxOut, summary="Change a connected channel")
@permission_required("inboxes.manage")
def inbox_update(request: HttpRequest, inbox_id: int, payload: InboxPatchIn):
    """Only the fields sent change. `credentials` rotates secrets (say, a new auth token) and
    needs `credentials.manage` too; the audit trail names the keys that changed, never their
    values. A `fallback_inbox_id` must be another of the tenant's inboxes reaching contacts the
    same way (a phone number or an email address)."""
    inbox = get_in_tenant(Inbox, request.tenant, pk=inbox_id)
    sent = payload.model_fields_set
    fallback: Any = UNCHANGED
    if "fallback_inbox_id" in sent:
        fallback = None
        if payload.fallback_inbox_id is not None:
            fallback = (
                Inbox.objects.for_tenant(request.tenant)
                .filter(pk=payload.fallback_inbox_id)
                .first()
            )
            if fallback is None:
                raise ActionError(f"There is no inbox with id {payload.fallback_inbox_id} here.")
    with transaction.atomic():
        if payload.credentials is not None:
            if not request.api_token.has_permission("credentials.manage"):
                raise ActionError(
                    "Changing credentials needs the credentials.manage permission.",
                    code="forbidden",
                )
            do_update_inbox_credentials(
                inbox, changes=payload.credentials, acting_token=request.api_token
            )
        do_update_inbox(
            inbox,
            name=payload.name if "name" in sent else None,
            is_active=payload.is_active if "is_active" in sent else None,
            fallback_inbox=fallback,
            sms_relay=payload.sms_relay,
            messages_per_second=payload.messages_per_second,
            acting_token=request.api_token,
        )
    return inbox_out(get_in_tenant(Inbox, request.tenant, pk=inbox_id))


# --- Reports ------------------------------------------------------------------------------------


@router.get(
    "/reports/messaging",
    response=MessagingReportOut,
    summary="Messages per channel: sent, delivered, failed, read, inbound; response times",
)
@permission_required("reports.view")
def report_messaging(request: HttpRequest, days: int = Query(30, ge=1, le=365)):
    """Over the last `days` days (1 to 365). `sent` counts every outbound message (not private
    notes), `delivered` those delivered or read, `failed` failed or undelivered. Conversation
    counts are the current state. `avg_first_response_seconds`: for conversations created in the
    window that got a first reply, the mean of (first reply - creation).

    `avg_response_seconds` (per channel, per agent in `agents`, and in `totals`): the mean time
    from a customer's message (inbound, not a private note) to the next agent reply in the same
    conversation (an outbound message by an agent or an API token: campaigns, notifications,
    system lines and bots are not replies), over customer messages written in the window;
    `responses` is how many such pairs the mean covers. Several customer messages before one
    reply are one pair, timed from the **first** unanswered message (the customer waited from
    there); unanswered messages are left out. `agents` lists who replied, most replies first
    (`agent` null: replies sent with an API token)."""
    return messaging_report(request.tenant, days)
