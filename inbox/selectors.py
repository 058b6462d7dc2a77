"""Reads of the inbox: conversation lists, message threads and the messaging report.

Lists use keyset ("cursor") pagination: the cursor is an opaque token holding the sort key of
the last row of the page, so pages stay stable while new messages arrive and deep pages cost
the same as the first one. Each read runs a fixed number of queries, whatever the data.
"""

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Avg, Count, F, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from inbox.models import TERMINAL_FAILURES, Attachment, Conversation, Delivery, Inbox, Message
from inbox.search import search_conversations
from omnichannel.models import Tenant

MAX_PAGE_SIZE = 100


class InvalidCursor(ValueError):
    pass


def encode_cursor(moment: datetime | None, pk: int) -> str:
    raw = json.dumps([moment.isoformat() if moment else None, pk], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime | None, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        moment, pk = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(pk, int) or isinstance(pk, bool):
            raise TypeError
        parsed = None
        if moment is not None:
            parsed = parse_datetime(moment)
            if parsed is None or parsed.tzinfo is None:
                raise ValueError
        return parsed, pk
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError) as exc:
        raise InvalidCursor(
            "The cursor is not valid; use next_cursor from a previous page."
        ) from exc


def after_cursor(qs: QuerySet[Conversation], cursor: str) -> QuerySet[Conversation]:
    """Conversations after ``cursor`` in latest-activity order (``last_message_at`` desc, never
    messaged last, then ``id`` desc). Raises :class:`InvalidCursor` for a cursor not ours."""
    moment, pk = decode_cursor(cursor)
    if moment is None:
        return qs.filter(last_message_at__isnull=True, pk__lt=pk)
    return qs.filter(
        Q(last_message_at__lt=moment)
        | Q(last_message_at=moment, pk__lt=pk)
        | Q(last_message_at__isnull=True)
    )


@dataclass(frozen=True)
class Page:
    items: list
    next_cursor: str | None


# --- Conversations ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConversationFilters:
    channel: str | None = None
    status: str | None = None
    # An assignee id, or "none" for unassigned conversations.
    assignee: int | str | None = None
    inbox_id: int | None = None
    q: str | None = None


def _last_message_preview() -> Subquery:
    return Subquery(
        Message.objects.filter(conversation=OuterRef("pk"), is_private=False)
        .order_by("-created_at", "-id")
        .values("body")[:1]
    )


def conversations_for_tenant(tenant: Tenant) -> QuerySet[Conversation]:
    return (
        Conversation.objects.for_tenant(tenant)
        .select_related("inbox", "contact", "assignee")
        .annotate(last_message_preview=_last_message_preview())
    )


def conversation_list_for_api(
    tenant: Tenant,
    *,
    filters: ConversationFilters,
    cursor: str | None = None,
    limit: int = 25,
) -> Page:
    """The tenant's conversations, most recent activity first (never-messaged ones last).

    ``q`` matches the contact's name (substring, any case, accents ignored) or email, the
    phone's digits when it looks like a phone number (digits, spaces, ``+-.()``; at least three
    digits), and message text and email subjects (full-text, Spanish and English): see
    :mod:`inbox.search`.
    """
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    qs = conversations_for_tenant(tenant)
    if filters.channel:
        qs = qs.filter(inbox__kind=filters.channel)
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.inbox_id is not None:
        qs = qs.filter(inbox_id=filters.inbox_id)
    if filters.assignee == "none":
        qs = qs.filter(assignee__isnull=True)
    elif filters.assignee is not None:
        qs = qs.filter(assignee_id=filters.assignee)
    if filters.q:
        qs = search_conversations(qs, filters.q)
    if cursor:
        qs = after_cursor(qs, cursor)
    qs = qs.order_by(F("last_message_at").desc(nulls_last=True), "-id")
    rows = list(qs[: limit + 1])
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1].last_message_at, rows[-1].pk)
    return Page(items=rows, next_cursor=next_cursor)


# --- Messages -----------------------------------------------------------------------------------


def messages_with_details(tenant: Tenant) -> QuerySet[Message]:
    return (
        Message.objects.for_tenant(tenant)
        .select_related("author")
        .defer("search_vector")  # an index column, never shown
        .prefetch_related(
            Prefetch("deliveries", queryset=Delivery.objects.order_by("created_at", "id")),
            Prefetch("attachments", queryset=Attachment.objects.order_by("id")),
        )
    )


def messages_for_conversation(
    conversation: Conversation, *, cursor: str | None = None, limit: int = 50
) -> Page:
    """The thread oldest first, private notes and system lines included, with each message's
    deliveries and attachments (three queries per page)."""
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    qs = messages_with_details(conversation.tenant).filter(conversation=conversation)
    if cursor:
        moment, pk = decode_cursor(cursor)
        if moment is None:
            raise InvalidCursor("The cursor is not valid; use next_cursor from a previous page.")
        qs = qs.filter(Q(created_at__gt=moment) | Q(created_at=moment, pk__gt=pk))
    rows = list(qs.order_by("created_at", "id")[: limit + 1])
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1].created_at, rows[-1].pk)
    return Page(items=rows, next_cursor=next_cursor)


# --- The messaging report -----------------------------------------------------------------------

DELIVERED_OR_BETTER = (Message.Status.DELIVERED, Message.Status.READ)


def messaging_report(tenant: Tenant, days: int, *, now: datetime | None = None) -> dict:
    """Traffic per channel over the last ``days`` days, in three queries whatever the data.

    Over messages created in the window, not private notes or system lines:

    - ``sent``: outbound messages (every outcome: queued, sent, delivered, failed…);
    - ``delivered``: outbound messages that reached the handset (delivered or read);
    - ``failed``: outbound messages that failed or were undelivered;
    - ``read``: outbound messages the contact read (WhatsApp read receipts);
    - ``inbound``: messages from contacts.

    Conversations (their current state, not limited to the window): ``open``, ``pending`` and
    ``snoozed`` counts. First response: over conversations created in the window that have an
    agent's first reply, the average of ``first_response_at - created_at`` in seconds
    (``null`` when there is none), and how many conversations that average covers.
    """
    now = now or timezone.now()
    since = now - timedelta(days=days)
    outbound = Q(direction=Message.Direction.OUTBOUND)
    traffic = (
        Message.objects.for_tenant(tenant)
        .filter(created_at__gte=since, created_at__lte=now, is_private=False)
        .exclude(sender_type=Message.SenderType.SYSTEM)
        .values("inbox__kind")
        .annotate(
            sent=Count("id", filter=outbound),
            delivered=Count("id", filter=outbound & Q(status__in=DELIVERED_OR_BETTER)),
            failed=Count("id", filter=outbound & Q(status__in=TERMINAL_FAILURES)),
            read=Count("id", filter=outbound & Q(status=Message.Status.READ)),
            inbound=Count("id", filter=Q(direction=Message.Direction.INBOUND)),
        )
        .order_by()
    )
    responded = Q(created_at__gte=since, created_at__lte=now, first_response_at__isnull=False)
    conversations = (
        Conversation.objects.for_tenant(tenant)
        .values("inbox__kind")
        .annotate(
            open=Count("id", filter=Q(status=Conversation.Status.OPEN)),
            pending=Count("id", filter=Q(status=Conversation.Status.PENDING)),
            snoozed=Count("id", filter=Q(status=Conversation.Status.SNOOZED)),
            responded=Count("id", filter=responded),
            first_response=Avg(F("first_response_at") - F("created_at"), filter=responded),
        )
        .order_by()
    )
    kinds = set(Inbox.objects.for_tenant(tenant).values_list("kind", flat=True).distinct())
    rows: dict[str, dict] = {}

    def row(kind: str) -> dict:
        return rows.setdefault(
            kind,
            {
                "channel": kind,
                "sent": 0,
                "delivered": 0,
                "failed": 0,
                "read": 0,
                "inbound": 0,
                "open_conversations": 0,
                "pending_conversations": 0,
                "snoozed_conversations": 0,
                "first_responses": 0,
                "avg_first_response_seconds": None,
            },
        )

    for kind in kinds:
        row(kind)
    for item in traffic:
        target = row(item["inbox__kind"])
        for key in ("sent", "delivered", "failed", "read", "inbound"):
            target[key] = item[key]
    response_seconds = 0.0  # summed over every responded conversation, for the overall average
    for item in conversations:
        target = row(item["inbox__kind"])
        target["open_conversations"] = item["open"]
        target["pending_conversations"] = item["pending"]
        target["snoozed_conversations"] = item["snoozed"]
        target["first_responses"] = item["responded"]
        if item["first_response"] is not None:
            seconds = item["first_response"].total_seconds()
            target["avg_first_response_seconds"] = round(seconds, 1)
            response_seconds += seconds * item["responded"]

    channels = [rows[kind] for kind in sorted(rows)]
    totals = {
        key: sum(c[key] for c in channels)
        for key in (
            "sent",
            "delivered",
            "failed",
            "read",
            "inbound",
            "open_conversations",
            "pending_conversations",
            "snoozed_conversations",
            "first_responses",
        )
    }
    totals["avg_first_response_seconds"] = (
        round(response_seconds / totals["first_responses"], 1)
        if totals["first_responses"]
        else None
    )
    return {"days": days, "since": since, "until": now, "channels": channels, "totals": totals}
