from django.http import HttpRequest

from inbox.queries import unread_conversation_count
from omnichannel.models import Membership


def inbox_nav(request: HttpRequest) -> dict:
    """The unread counter next to "Inbox"; counted only when the navigation shows it."""
    membership = getattr(request, "membership", None)
    if membership is None:
        return {}
    return {
        "inbox_unread": lambda: unread_conversation_count(request.tenant, request.user),
        "availability_choices": Membership.Availability.choices,
    }
