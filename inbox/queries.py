"""Reads for the browser inbox: the agent's conversation list and a conversation's page.

Each read runs a fixed number of queries whatever the page size:

- the list: one query for the pinned rows (first page only) and one for the page, each row
  annotated with the last message preview, this agent's unread count and pin, and one for
  the labels of all of them;
- a conversation: the conversation, its latest messages (with authors) and their attachments,
  the contact's consents and other conversations.

Pagination is keyset over ``(last_message_at desc nulls last, id desc)`` with the opaque
cursors of :mod:`inbox.selectors`, so "load more" is stable while new messages arrive.
"""

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from urllib.parse import urlencode

from django.db.models import (
    BooleanField,
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    prefetch_related_objects,
)
from django.db.models.functions import Coalesce
from django.http import HttpRequest

from contacts.attributes import attribute_rows
from contacts.models import AttributeDefinition, Consent, Contact
from inbox.models import Attachment, Conversation, Inbox, Message, ReadState
from inbox.selectors import after_cursor
from omnichannel.channels import Channel
from omnichannel.models import AgentNotification, Label, Tenant
from omnichannel.pagination import Page, decode_cursor, encode_cursor

PAGE_SIZE = 25
MAX_PINNED = 50
THREAD_SIZE = 100
OTHER_CONVERSATIONS = 10
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

VIEWS = {"mine": "Mine", "unassigned": "Unassigned", "all": "All"}
STATUS_CHOICES = [*Conversation.Status.choices, ("any", "Any status")]


@dataclass(frozen=True)
class ListFilters:
    """What the list shows; built from the query string by :func:`parse_filters`."""

    view: str = "all"
    status: str = Conversation.Status.OPEN
    inbox_id: int | None = None
    channel: str = ""
    priority: int | None = None
    label_id: int | None = None
    q: str = ""

    def shows_status(self, status: str) -> bool:
        """Whether the list shows conversations with ``status``."""
        return self.status in ("any", status)

    def query(self, **changes) -> str:
        """These filters (with ``changes``) as a query string, defaults left out."""
        filters = replace(self, **changes)
        params = {
            "view": filters.view if filters.view != "all" else None,
            "status": filters.status if filters.status != Conversation.Status.OPEN else None,
            "inbox": filters.inbox_id,
            "channel": filters.channel or None,
            "priority": filters.priority,
            "label": filters.label_id,
            "q": filters.q or None,
        }
        return urlencode({k: v for k, v in params.items() if v is not None})


def parse_filters(params, *, default_view: str = "all") -> ListFilters:
    """Filters from ``request.GET``; unknown values fall back to the defaults."""

    def as_int(name: str) -> int | None:
        try:
            return int(params.get(name, ""))
        except ValueError:
            return None

    view = params.get("view", default_view)
    status = params.get("status", Conversation.Status.OPEN)
    channel = params.get("channel", "")
    priority = as_int("priority")
    return ListFilters(
        view=view if view in VIEWS else default_view,
        status=status if status in dict(STATUS_CHOICES) else Conversation.Status.OPEN,
        inbox_id=as_int("inbox"),
        channel=channel if channel in Channel.values else "",
        priority=priority if priority in Conversation.Priority.values else None,
        label_id=as_int("label"),
        q=" ".join(params.get("q", "").split())[:200],
    )


def _preview(field: str) -> Subquery:
    return Subquery(
        Message.objects.filter(conversation=OuterRef("pk"), is_private=False)
        .order_by("-created_at", "-id")
        .values(field)[:1]
    )


def rows_for_agent(tenant: Tenant, user) -> QuerySet[Conversation]:
    """The tenant's conversations as list rows for ``user``: contact, inbox and assignee
    joined; ``preview`` / ``preview_direction`` of the last message (notes left out),
    ``is_pinned`` and ``unread_count`` (inbound messages newer than the user's read mark)."""
    state = ReadState.objects.filter(conversation=OuterRef("pk"), user=user)
    unread = (
        Message.objects.filter(
            conversation=OuterRef("pk"),
            direction=Message.Direction.INBOUND,
            created_at__gt=OuterRef("read_until"),
        )
        .order_by()
        .values("conversation")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return (
        Conversation.objects.for_tenant(tenant)
        .select_related("inbox", "contact", "assignee")
        .annotate(
            preview=_preview("body"),
            preview_direction=_preview("direction"),
            is_pinned=Coalesce(
                Subquery(state.values("pinned")[:1]), Value(False), output_field=BooleanField()
            ),
            read_until=Coalesce(Subquery(state.values("last_read_at")[:1]), Value(EPOCH)),
            unread_count=Coalesce(Subquery(unread), Value(0), output_field=IntegerField()),
        )
    )


def filter_rows(
    qs: QuerySet[Conversation], tenant: Tenant, user, filters: ListFilters
) -> QuerySet[Conversation]:
    if filters.view == "mine":
        qs = qs.filter(assignee=user)
    elif filters.view == "unassigned":
        qs = qs.filter(assignee__isnull=True)
    if filters.status != "any":
        qs = qs.filter(status=filters.status)
    if filters.inbox_id is not None:
        qs = qs.filter(inbox_id=filters.inbox_id)
    if filters.channel:
        qs = qs.filter(inbox__kind=filters.channel)
    if filters.priority is not None:
        qs = qs.filter(priority=filters.priority)
    if filters.label_id is not None:
        # Through the conversation's own (tenant-scoped) rows: another tenant's label matches
        # nothing.
        qs = qs.filter(conversation_labels__label_id=filters.label_id)
    if filters.q:
        from inbox.search import search_conversations

        qs = search_conversations(qs, filters.q, tenant=tenant)
    return qs


RECENT_FIRST = (F("last_message_at").desc(nulls_last=True), "-id")


def labels_prefetch() -> Prefetch:
    """Each conversation's labels (``conversation.labels.all``), by name."""
    return Prefetch("labels", queryset=Label.objects.order_by("name", "id"))


def prefetch_labels(rows: list[Conversation]) -> None:
    """The labels of all ``rows`` in one query (none when there are no rows)."""
    if rows:
        prefetch_related_objects(rows, labels_prefetch())


def labels_for_tenant(tenant: Tenant) -> list[Label]:
    return list(Label.objects.for_tenant(tenant).order_by("name", "id"))


def labels_of_request(request: HttpRequest) -> list[Label]:
    """The tenant's labels, read once per request: the whole conversation page shows them in
    the list's filter and in the header's "add a label" menu."""
    if not hasattr(request, "_inbox_labels"):
        request._inbox_labels = labels_for_tenant(request.tenant)
    return request._inbox_labels


def inboxes_of_request(request: HttpRequest) -> list[Inbox]:
    """The tenant's inboxes by name, read once per request: the whole conversation page shows
    them in the list's filter and in the composer's "reply by" menu."""
    if not hasattr(request, "_inbox_inboxes"):
        request._inbox_inboxes = list(
            Inbox.objects.for_tenant(request.tenant).order_by("name", "id")
        )
    return request._inbox_inboxes


def conversation_list_for_agent(
    tenant: Tenant,
    user,
    *,
    filters: ListFilters,
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
) -> tuple[list[Conversation], Page]:
    """``(pinned, page)``: the user's pinned conversations that match (first page only; they
    stay on top and are left out of the pages) and one keyset page of the others.

    Raises :class:`omnichannel.pagination.InvalidCursor` for a cursor that is not ours.
    """
    qs = filter_rows(rows_for_agent(tenant, user), tenant, user, filters)
    pinned: list[Conversation] = []
    if not cursor:
        pinned = list(qs.filter(is_pinned=True).order_by(*RECENT_FIRST)[:MAX_PINNED])
    rest = qs.filter(is_pinned=False)
    if cursor:
        rest = after_cursor(rest, cursor)
    rows = list(rest.order_by(*RECENT_FIRST)[: limit + 1])
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1].last_message_at, rows[-1].pk)
    prefetch_labels(pinned + rows)  # one query for both lists, so the count stays fixed
    return pinned, Page(items=rows, next_cursor=next_cursor)


def attach_search_highlights(tenant: Tenant, rows: list[Conversation], q: str) -> None:
    """Set ``name_html`` (the matched part of the contact marked), ``snippet`` (the latest
    matching message, marked) and ``subject_html`` (the email subject, marked when it matched)
    on each row; one query for all of them."""
    if not q or not rows:
        return
    from inbox.search import contact_match_highlight, search_highlights

    snippets, subjects = search_highlights(tenant, [row.pk for row in rows], q)
    for row in rows:
        row.name_html = contact_match_highlight(row.contact, q, tenant.default_region)
        row.snippet = snippets.get(row.pk)
        row.subject_html = subjects.get(row.pk)


# --- One conversation ---------------------------------------------------------------------------


def conversations_for_page(tenant: Tenant, user) -> QuerySet[Conversation]:
    """Conversations with what the page header and contact panel show joined, whether ``user``
    pinned each, and ``is_read``: no inbound message newer than their read mark and no unread
    notification about it (opening it again then changes nothing)."""
    mine = ReadState.objects.filter(conversation=OuterRef("pk"), user=user)
    unread_messages = Message.objects.filter(
        tenant=tenant,
        conversation=OuterRef("pk"),
        direction=Message.Direction.INBOUND,
        created_at__gt=OuterRef("read_until"),
    )
    notices = AgentNotification.objects.filter(
        tenant=tenant,
        recipient=user,
        target_type=Conversation._meta.model_name,
        target_id=OuterRef("pk"),
        read_at__isnull=True,
    )
    return (
        Conversation.objects.for_tenant(tenant)
        .select_related("tenant", "inbox", "contact", "assignee", "team")
        .prefetch_related(labels_prefetch())
        .annotate(
            is_pinned=Coalesce(
                Subquery(mine.values("pinned")[:1]), Value(False), output_field=BooleanField()
            ),
            read_until=Coalesce(Subquery(mine.values("last_read_at")[:1]), Value(EPOCH)),
        )
        .annotate(is_read=~Exists(unread_messages) & ~Exists(notices))
    )


def thread_messages(
    conversation: Conversation, *, before: str | None = None, limit: int = THREAD_SIZE
) -> Page:
    """The latest ``limit`` messages (before the ``before`` cursor), oldest first, with their
    authors and attachments; ``next_cursor`` points at earlier messages when there are some."""
    qs = (
        Message.objects.filter(tenant_id=conversation.tenant_id, conversation=conversation)
        .select_related("author")
        .defer("search_vector")
        .prefetch_related(Prefetch("attachments", queryset=Attachment.objects.order_by("id")))
    )
    if before:
        moment, pk = decode_cursor(before)
        if moment is not None:
            qs = qs.filter(Q(created_at__lt=moment) | Q(created_at=moment, pk__lt=pk))
    rows = list(qs.order_by("-created_at", "-id")[: limit + 1])
    earlier = None
    if len(rows) > limit:
        rows = rows[:limit]
        earlier = encode_cursor(rows[-1].created_at, rows[-1].pk)
    rows.reverse()
    return Page(items=rows, next_cursor=earlier)


def message_for_thread(conversation: Conversation, message_id: int) -> Message:
    return (
        Message.objects.filter(tenant_id=conversation.tenant_id, conversation=conversation)
        .select_related("author")
        .defer("search_vector")
        .prefetch_related(Prefetch("attachments", queryset=Attachment.objects.order_by("id")))
        .get(pk=message_id)
    )


def contact_panel(conversation: Conversation) -> dict:
    """The contact's phones, emails, custom attributes (with their definitions' labels, in
    the tenant's order), household, consents and other conversations (most recent first)."""
    contact: Contact = conversation.contact
    prefetch_related_objects([contact], "phones", "emails", "household")
    definitions = list(AttributeDefinition.objects.filter(tenant_id=conversation.tenant_id))
    attributes, orphan_attributes = attribute_rows(contact, definitions)
    consents = list(
        Consent.objects.filter(tenant_id=conversation.tenant_id, contact=contact).order_by(
            "channel", "sender"
        )
    )
    others = list(
        Conversation.objects.filter(tenant_id=conversation.tenant_id, contact=contact)
        .exclude(pk=conversation.pk)
        .select_related("inbox")
        .order_by(*RECENT_FIRST)[:OTHER_CONVERSATIONS]
    )
    return {
        "consents": consents,
        "other_conversations": others,
        "attributes": attributes,
        "orphan_attributes": orphan_attributes,
    }


UNREAD_COUNT_CAP = 100


def unread_conversation_count(tenant: Tenant, user) -> int:
    """Active conversations that are the agent's (assigned to them or to nobody) with inbound
    messages they have not read: the counter next to "Inbox" in the navigation. Counting stops
    at UNREAD_COUNT_CAP (shown as "99+"), so a busy tenant's backlog is not scanned on every
    page."""
    read_until = ReadState.objects.filter(conversation=OuterRef("pk"), user=user).values(
        "last_read_at"
    )[:1]
    unread = (
        Conversation.objects.for_tenant(tenant)
        .filter(status__in=Conversation.ACTIVE, last_inbound_at__isnull=False)
        .filter(Q(assignee=user) | Q(assignee__isnull=True))
        .annotate(read_until=Coalesce(Subquery(read_until), Value(EPOCH)))
        .filter(last_inbound_at__gt=F("read_until"))
    )
    return unread.values("pk")[:UNREAD_COUNT_CAP].count()
