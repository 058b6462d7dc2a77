"""What the inbox shows on the contacts app's pages (registered on ``contacts.hooks`` in
``InboxConfig.ready``): the contact's conversations, and what an erasure does to them."""

from django.db.models import F
from django.http import HttpRequest
from django.template.defaultfilters import pluralize

from contacts.hooks import ContactPanel
from contacts.models import Contact
from inbox.models import BridgeActivity, Conversation, Message

TIMELINE_LIMIT = 50
BRIDGE_LIMIT = 20


def conversations_panel(request: HttpRequest, contact: Contact) -> ContactPanel:
    """The contact's latest conversations (one query); a contact who has any cannot be deleted,
    only erased, since conversations are kept."""
    conversations = (
        Conversation.objects.for_tenant(request.tenant)
        .filter(contact=contact)
        .select_related("inbox", "assignee")
        .order_by(F("last_message_at").desc(nulls_last=True), "-id")
    )
    timeline = list(conversations[: TIMELINE_LIMIT + 1])
    return ContactPanel(
        template="inbox/contact_conversations.html",
        context={
            "timeline": timeline[:TIMELINE_LIMIT],
            "timeline_more": len(timeline) > TIMELINE_LIMIT,
            "can_open": request.membership.has_permission("conversations.view"),
        },
        keeps_contact=bool(timeline),
    )


def bridge_panel(request: HttpRequest, contact: Contact) -> ContactPanel:
    """What was bridged with a helpdesk (Chatwoot) about the contact, latest first (one
    query, bounded); the section is left out for a contact with none."""
    activity = list(
        BridgeActivity.objects.for_tenant(request.tenant)
        .filter(contact=contact)
        .select_related("inbox")
        .order_by("-at", "-id")[: BRIDGE_LIMIT + 1]
    )
    return ContactPanel(
        template="inbox/contact_bridge.html",
        context={
            "activity": activity[:BRIDGE_LIMIT],
            "activity_more": len(activity) > BRIDGE_LIMIT,
            "can_open": request.membership.has_permission("conversations.view"),
        },
    )


def erase_preview(contact: Contact) -> list[str]:
    """The line of the erasure's confirmation page about the contact's messages."""
    conversations = Conversation.objects.filter(contact=contact).count()
    messages = Message.objects.filter(
        tenant_id=contact.tenant_id, conversation__contact=contact
    ).count()
    return [
        f"the text of the {messages} message{pluralize(messages)} in {conversations} "
        f"conversation{pluralize(conversations)} becomes “[erased]” and attachments are deleted;"
    ]
