"""Reads of the inbox: conversation lists, message threads and the messaging report.

Lists use keyset ("cursor") pagination (:mod:`omnichannel.pagination`), so pages stay stable
while new messages arrive and deep pages cost the same as the first one. Each read runs a fixed
number of queries, whatever the data.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Avg, Count, F, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.utils import timezone

from contacts.hooks import Sender
from inbox.models import (
    TERMINAL_FAILURES,
    Attachment,
    Conversation,
    Delivery,
    Inbox,
    Macro,
    MacroStep,
    Message,
)
from inbox.search import search_conversations
from omnichannel.models import Tenant
from omnichannel.pagination import InvalidCursor, Page, decode_cursor, encode_cursor

MAX_PAGE_SIZE = 100


def senders_for(tenant: Tenant) -> list[Sender]:
    """The tenant's inboxes as the addresses it sends from, by name (consents are per sender)."""
    inboxes = Inbox.objects.for_tenant(tenant).order_by("name", "id")
    return [Sender(inbox.kind, inbox.address, inbox.name) for inbox in inboxes]


def after_cursor(qs: QuerySet[Conversation], cursor: str) -> QuerySet[Conversation]:
    """Conversations after ``cursor`` in latest-activity order (``last_message_at`` desc, never
    messaged last, then ``id`` desc). Raises :class:`~omnichannel.pagination.InvalidCursor`
    for a cursor not ours."""
    moment, pk = decode_cursor(cursor)
    if moment is None:
        return qs.filter(last_message_at__isnull=True, pk__lt=pk)
    return qs.filter(
        Q(last_message_at__lt=moment)
        | Q(last_message_at=moment, pk__lt=pk)
        | Q(last_message_at__isnull=True)
    )


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
        qs = search_conversations(qs, filters.q, tenant=tenant)
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

# Response time: each exchange is a run of customer messages and the agent reply that ends it.
#
# ``turns`` numbers the rows of each conversation in the window (customer messages and agent
# replies only: private notes, system lines, campaigns, notifications and bots are not part of
# the exchange) by the agent replies before them, so the customer messages after the k-th reply
# and the (k+1)-th reply share the number k. ``exchanges`` folds each number into one row: its
# first customer message (the first unanswered one) and the reply. A conversation's first
# exchange in the window may have started before it: the LATERAL look-back (one index probe per
# conversation on message_conv_idx) drops it when the last such row before the window was a
# customer message, so a run is always measured from its first message or not at all.
# Everything is grouped by channel, by replying agent, and overall in one statement.
RESPONSE_TIMES_SQL = """
WITH turns AS (
    SELECT m.conversation_id, m.inbox_id, m.created_at, m.author_id,
           m.direction = %(inbound)s AS from_customer,
           count(*) FILTER (WHERE m.direction = %(outbound)s) OVER (
               PARTITION BY m.conversation_id ORDER BY m.created_at, m.id
               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
           ) AS turn
    FROM {message} m
    WHERE m.tenant_id = %(tenant)s
      AND m.created_at >= %(since)s AND m.created_at <= %(until)s
      AND NOT m.is_private
      AND (m.direction = %(inbound)s
           OR (m.direction = %(outbound)s AND m.sender_type = %(agent)s))
), exchanges AS (
    SELECT conversation_id, turn,
           min(inbox_id) FILTER (WHERE from_customer) AS inbox_id,
           min(created_at) FILTER (WHERE from_customer) AS asked_at,
           max(created_at) FILTER (WHERE NOT from_customer) AS replied_at,
           max(author_id) FILTER (WHERE NOT from_customer) AS agent_id
    FROM turns
    GROUP BY conversation_id, turn
), pairs AS (
    SELECT e.inbox_id, e.agent_id,
           extract(epoch FROM e.replied_at - e.asked_at) AS seconds
    FROM exchanges e
    LEFT JOIN LATERAL (
        SELECT p.direction = %(inbound)s AS from_customer
        FROM {message} p
        WHERE e.turn = 0
          AND p.conversation_id = e.conversation_id AND p.tenant_id = %(tenant)s
          AND p.created_at < %(since)s
          AND NOT p.is_private
          AND (p.direction = %(inbound)s
               OR (p.direction = %(outbound)s AND p.sender_type = %(agent)s))
        ORDER BY p.created_at DESC, p.id DESC
        LIMIT 1
    ) before ON true
    WHERE e.asked_at IS NOT NULL AND e.replied_at IS NOT NULL
      AND before.from_customer IS NOT TRUE
), grouped AS (
    SELECT i.kind, x.agent_id,
           grouping(i.kind) AS all_channels, grouping(x.agent_id) AS all_agents,
           count(*) AS responses, avg(x.seconds) AS seconds
    FROM pairs x JOIN {inbox} i ON i.id = x.inbox_id
    GROUP BY GROUPING SETS ((i.kind), (x.agent_id), ())
)
SELECT g.kind, g.agent_id, g.all_channels = 1, g.all_agents = 1, g.responses, g.seconds,
       u.email, u.first_name, u.last_name
FROM grouped g LEFT JOIN {user} u ON u.id = g.agent_id AND g.all_agents = 0
"""


def response_times(tenant: Tenant, since: datetime, until: datetime) -> dict:
    """How long customers waited for an agent, over customer messages written in
    ``[since, until]`` (one query).

    A *response* pairs a customer's message (inbound, not a private note) with the next reply of
    an agent in the same conversation (an outbound message sent by a person or an API token with
    ``sender_type`` agent: not campaigns, notifications, system lines or bots). Several customer
    messages before one reply count once, from the **first** unanswered one: the customer has
    been waiting since then. Unanswered messages are not counted.

    Returns ``{"overall": (responses, avg_seconds), "channels": {kind: (responses,
    avg_seconds)}, "agents": [{"agent": {id, email, name} | None, "responses", "avg_seconds"}]}``
    (``agent`` None: replies sent through the API by a token, with no person behind them).
    """
    params = {
        "tenant": tenant.pk,
        "since": since,
        "until": until,
        "inbound": Message.Direction.INBOUND,
        "outbound": Message.Direction.OUTBOUND,
        "agent": Message.SenderType.AGENT,
    }
    with connection.cursor() as cursor:
        cursor.execute(
            RESPONSE_TIMES_SQL.format(
                message=Message._meta.db_table,
                inbox=Inbox._meta.db_table,
                user=get_user_model()._meta.db_table,
            ),
            params,
        )
        rows = cursor.fetchall()
    result: dict = {"overall": (0, None), "channels": {}, "agents": []}
    for kind, agent_id, all_channels, all_agents, count, seconds, email, first, last in rows:
        figure = (count, round(float(seconds), 1) if seconds is not None else None)
        if all_channels and all_agents:
            result["overall"] = figure
        elif all_agents:
            result["channels"][kind] = figure
        else:
            agent = None
            if agent_id is not None:
                agent = {"id": agent_id, "email": email, "name": f"{first} {last}".strip()}
            result["agents"].append(
                {"agent": agent, "responses": count, "avg_response_seconds": figure[1]}
            )
    result["agents"].sort(
        key=lambda row: (row["agent"] is None, -row["responses"], (row["agent"] or {}).get("id"))
    )
    return result


def messaging_report(tenant: Tenant, days: int, *, now: datetime | None = None) -> dict:
    """Traffic per channel over the last ``days`` days, in four queries whatever the data.

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

    Response time (every exchange, not only the first): see :func:`response_times`; per
    channel and overall (``responses``, ``avg_response_seconds``) and per replying agent
    (``agents``), over customer messages written in the window.
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
                "responses": 0,
                "avg_response_seconds": None,
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

    waits = response_times(tenant, since, now)
    for kind, (count, seconds) in waits["channels"].items():
        target = row(kind)
        target["responses"], target["avg_response_seconds"] = count, seconds

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
    totals["responses"], totals["avg_response_seconds"] = waits["overall"]
    return {
        "days": days,
        "since": since,
        "until": now,
        "channels": channels,
        "agents": waits["agents"],
        "totals": totals,
    }


def macros_for_member(tenant: Tenant, user) -> QuerySet[Macro]:
    """The macros ``user`` may see and run: the tenant's global ones and their own personal
    ones (an API token, ``user=None``, sees the global ones)."""
    visible = Q(visibility=Macro.Visibility.GLOBAL)
    if user is not None:
        visible |= Q(visibility=Macro.Visibility.PERSONAL, created_by=user)
    return Macro.objects.for_tenant(tenant).filter(visible).order_by("name", "id")


def macros_with_steps(macros: QuerySet[Macro]) -> list[Macro]:
    """``macros`` with their steps and what the steps point at, in two queries."""
    steps = MacroStep.objects.select_related("label", "team", "agent", "canned_response")
    return list(
        macros.prefetch_related(Prefetch("steps", queryset=steps.order_by("position", "id")))
    )
