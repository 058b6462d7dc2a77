"""The calendar's section of the contact panels: the contact's upcoming appointments (held and
confirmed) with cancel, and the way in to booking one.

Registered in ``CalendarAppConfig.ready``: on ``contacts.hooks`` for the contact page and on
``inbox.hooks`` for a conversation's contact panel. One query each time (the appointments with
their type and resources' names); the booking steps load on demand
(:mod:`calendar_app.booking_views`).
"""

from typing import Any

from django.contrib.postgres.aggregates import ArrayAgg
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from calendar_app.models import BLOCKING_STATES, Appointment, AppointmentState
from contacts.hooks import ContactPanel
from contacts.models import Contact
from inbox.hooks import ConversationPanel
from inbox.models import Conversation

UPCOMING_LIMIT = 10
TEMPLATE = "calendar_app/panel.html"


def upcoming_for_contact(tenant, contact: Contact, *, limit: int = UPCOMING_LIMIT) -> list:
    """The contact's held (not yet expired) and confirmed appointments that have not ended,
    soonest first, with their type and ``resource_names``; ``limit + 1`` rows at most (the
    extra one says there are more). One query."""
    now = timezone.now()
    return list(
        Appointment.objects.for_tenant(tenant)
        .filter(contact=contact, state__in=BLOCKING_STATES, end_at__gt=now)
        # A hold past its expiry keeps nothing, whether or not beat has released it yet.
        .exclude(Q(state=AppointmentState.HOLD) & Q(hold_expires_at__lte=now))
        .select_related("appointment_type")
        .annotate(
            resource_names=ArrayAgg(
                "resource_rows__resource__name", order_by="resource_rows__resource__name"
            )
        )
        .order_by("start_at", "id")[: limit + 1]
    )


def panel_context(
    request: HttpRequest,
    contact: Contact,
    conversation: Conversation | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The section's context for ``contact`` (booked from ``conversation`` when given)."""
    membership = request.membership
    visible = membership.has_permission("calendar.view")
    # Read even when not shown: whether the contact may be deleted depends on them.
    appointments = upcoming_for_contact(request.tenant, contact)
    return {
        "visible": visible,
        "contact": contact,
        "conversation": conversation,
        "in_inbox": conversation is not None,
        "appointments": appointments[:UPCOMING_LIMIT],
        "more": len(appointments) > UPCOMING_LIMIT,
        "can_book": visible
        and membership.has_permission("calendar.book")
        and contact.erased_at is None,
        "can_reply": membership.has_permission("conversations.reply"),
        **extra,
    }


def contact_page_panel(request: HttpRequest, contact: Contact) -> ContactPanel:
    """The contact page's section; a contact with appointments ahead is erased (which cancels
    them), not deleted."""
    context = panel_context(request, contact)
    return ContactPanel(
        template=TEMPLATE, context=context, keeps_contact=bool(context["appointments"])
    )


def conversation_panel(request: HttpRequest, conversation: Conversation) -> ConversationPanel:
    """The section in a conversation's contact panel; a booking made there comes from it."""
    return ConversationPanel(
        template=TEMPLATE, context=panel_context(request, conversation.contact, conversation)
    )
