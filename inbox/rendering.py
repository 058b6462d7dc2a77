"""Rendering the inbox's pieces for one agent, shared by the views and the realtime renderers.

Both render the partials of ``inbox/inbox.html`` with the same context, so what a websocket
pushes is exactly what a reload would show.
"""

from datetime import datetime, time, timedelta

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from inbox.actions.fallback import fallback_route
from inbox.actions.macros import describe_step
from inbox.actions.send import SENDABLE_CHANNELS
from inbox.compose import template_picker
from inbox.models import Conversation, Inbox, Macro, Message, Team
from inbox.queries import ListFilters, inboxes_of_request, labels_of_request
from inbox.selectors import macros_for_member, macros_with_steps
from omnichannel.channels import Channel
from omnichannel.models import Label, Membership
from omnichannel.segments import segment_estimate

TEMPLATE = "inbox/inbox.html"
SNOOZE_HOUR = 9
# The composer's emoji menu: the ones support agents reach for most.
EMOJI = [
    ("😊", "Smiling face"),
    ("😀", "Grinning face"),
    ("😂", "Tears of joy"),
    ("😉", "Winking face"),
    ("😍", "Heart eyes"),
    ("🙂", "Slightly smiling face"),
    ("🤔", "Thinking face"),
    ("😅", "Sweat smile"),
    ("😢", "Crying face"),
    ("🙏", "Folded hands"),
    ("👍", "Thumbs up"),
    ("👋", "Waving hand"),
    ("👏", "Clapping hands"),
    ("🙌", "Raising hands"),
    ("💪", "Flexed biceps"),
    ("❤️", "Red heart"),
    ("🎉", "Party popper"),
    ("✅", "Check mark"),
    ("❌", "Cross mark"),
    ("⚠️", "Warning"),
    ("📅", "Calendar"),
    ("⏰", "Alarm clock"),
    ("📞", "Telephone"),
    ("📍", "Pin"),
    ("🚗", "Car"),
    ("✈️", "Airplane"),
    ("🏠", "House"),
    ("💳", "Credit card"),
    ("📄", "Document"),
    ("🔥", "Fire"),
]


def render_piece(request: HttpRequest, piece: str | None, context: dict) -> str:
    name = TEMPLATE if piece is None else f"{TEMPLATE}#{piece}"
    return render_to_string(name, context, request=request)


def permissions_for(request: HttpRequest) -> dict:
    codenames = request.membership.role.codenames()
    return {
        "can_reply": "conversations.reply" in codenames,
        "can_note": "conversations.note" in codenames,
        "can_manage": "conversations.manage" in codenames,
        "can_assign": "conversations.assign" in codenames,
        "can_assign_others": "conversations.assign_others" in codenames,
        "can_delete": "conversations.delete" in codenames,
        # For the contact's attributes, edited in place in the contact panel.
        "contact_permissions": {
            "edit": "contacts.edit" in codenames,
            "attributes": "contacts.manage_attributes" in codenames,
        },
    }


def conversation_url(conversation: Conversation, filters: ListFilters) -> str:
    url = reverse("inbox:conversation", args=[conversation.pk])
    query = filters.query()
    return f"{url}?{query}" if query else url


def snooze_default(request: HttpRequest) -> datetime:
    """Tomorrow at 9:00 where the agent reads times (omnichannel.zones)."""
    tz = timezone.get_current_timezone()
    tomorrow = timezone.localtime(timezone.now(), tz).date() + timedelta(days=1)
    return datetime.combine(tomorrow, time(SNOOZE_HOUR), tzinfo=tz)


def composer_counter(
    conversation: Conversation,
    body: str,
    *,
    mode: str = "reply",
    via: Inbox | None = None,
    has_media: bool = False,
) -> dict:
    """The composer's counter: the template editor's estimate when the reply goes by SMS (by
    the conversation's inbox, or the one chosen under "Reply by"); nothing for a note or for
    other channels, whose limits are not segments."""
    inbox = via or conversation.inbox
    if mode == "note" or inbox.kind != Channel.SMS:
        return {"is_sms": False}
    return segment_estimate(body, inbox.kind, has_media)


def header_context(request: HttpRequest, conversation: Conversation, filters: ListFilters) -> dict:
    """What ``conversation-header`` needs (the labels to add are read only when shown)."""
    tenant = request.tenant

    def addable_labels() -> list[Label]:
        on = {label.pk for label in conversation.labels.all()}
        return [label for label in labels_of_request(request) if label.pk not in on]

    def assignable_agents() -> list[Membership]:
        members = Membership.objects.filter(tenant=tenant, user__is_active=True).select_related(
            "user", "role"
        )
        agents = [m for m in members if m.has_permission("conversations.view")]
        return sorted(agents, key=lambda m: (m.user.get_full_name() or m.user.email).lower())

    def teams() -> list[Team]:
        return list(Team.objects.for_tenant(tenant))

    def conversation_macros() -> list[Macro]:
        """The "Macros" menu: what the member may run, each with its steps in words."""
        macros = macros_with_steps(macros_for_member(tenant, request.user))
        for macro in macros:
            macro.step_words = [describe_step(step) for step in macro.steps.all()]
        return macros

    def reply_inboxes() -> list[Inbox]:
        """Where a reply can go: this conversation's inbox first, then the tenant's other
        inboxes that reach the contact's phone."""
        if not conversation.contact.phone:
            return []
        others = sorted(
            (
                inbox
                for inbox in inboxes_of_request(request)
                if inbox.is_active
                and inbox.kind in SENDABLE_CHANNELS
                and inbox.pk != conversation.inbox_id
            ),
            key=lambda inbox: (inbox.kind, inbox.name),
        )
        return [conversation.inbox, *others] if others else []

    return {
        "conversation": conversation,
        "filters": filters,
        "list_query": filters.query(),
        "conversation_url": conversation_url(conversation, filters),
        "statuses": Conversation.Status,
        "priorities": Conversation.Priority.choices,
        "snooze_default": snooze_default(request),
        "addable_labels": addable_labels,
        "assignable_agents": assignable_agents,
        "teams": teams,
        "reply_inboxes": reply_inboxes,
        "fallback_route": lambda: fallback_route(conversation.inbox),
        "conversation_macros": conversation_macros,
        "emoji_choices": EMOJI,
        "sms_counter": lambda: composer_counter(conversation, ""),
        # WhatsApp with the 24-hour window closed: approved templates instead of free text.
        "template_picker": lambda: template_picker(
            tenant,
            conversation.inbox,
            conversation.contact,
            request.membership.role.codenames(),
            conversation,
        ),
        **permissions_for(request),
    }


def starts_new_day(request: HttpRequest, message: Message) -> bool:
    """Whether ``message`` is the first of its day in the thread (it then gets a separator)."""
    previous = (
        Message.objects.filter(
            conversation_id=message.conversation_id, created_at__lt=message.created_at
        )
        .order_by("-created_at", "-id")
        .values_list("created_at", flat=True)
        .first()
    )
    return previous is None or (
        timezone.localtime(previous).date() != timezone.localtime(message.created_at).date()
    )
