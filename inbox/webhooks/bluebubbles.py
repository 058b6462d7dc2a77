"""BlueBubbles webhooks: every event type at one URL per inbox, named in the JSON ``type``.

BlueBubbles signs nothing and never retries: the pipeline (``inbox.webhooks.base``) finds the
inbox by the opaque token in the URL and the provider checks the optional ``?password=``
(403 otherwise, nothing stored). The same message can arrive several times (``new-message``
and ``updated-message``, our own sends echoed with and without ``tempGuid``, a re-emission an
hour later): every handler is idempotent on the message's GUID.
"""

from django.http import HttpRequest

from inbox.actions.chat_events import apply_chat_event
from inbox.actions.contact_signals import do_note_contact_typing
from inbox.models import Inbox
from inbox.providers.base import MalformedWebhook, ReadChanged, TypingChanged
from inbox.providers.bluebubbles.provider import GROUP_EVENT_TYPES, payload_of
from inbox.webhooks.base import handle_ignored, provider_for


def _event(inbox: Inbox, request: HttpRequest):
    [event] = provider_for(inbox, request).parse(request)
    return event


def _message_event(inbox: Inbox, request: HttpRequest, *, new: bool) -> str:
    events = provider_for(inbox, request).parse(request)
    return apply_chat_event(inbox, events[0] if events else None, new=new)


def handle_new_message(inbox: Inbox, request: HttpRequest) -> str:
    return _message_event(inbox, request, new=True)


def handle_updated_message(inbox: Inbox, request: HttpRequest) -> str:
    return _message_event(inbox, request, new=False)


def handle_typing(inbox: Inbox, request: HttpRequest) -> str:
    event = _event(inbox, request)
    if not isinstance(event, TypingChanged):
        raise MalformedWebhook("The typing-indicator event could not be read.")
    return do_note_contact_typing(inbox, event)


def handle_chat_read(inbox: Inbox, request: HttpRequest) -> str:
    """Our side read the chat (on the Mac, or through our own mark-read): not the contact's
    read receipt, which comes as ``dateRead`` on their message's update."""
    event = _event(inbox, request)
    if not isinstance(event, ReadChanged):
        raise MalformedWebhook("The chat-read-status-changed event could not be read.")
    state = "read" if event.read else "unread"
    return f"The chat {event.thread_ref[:200]} was marked {state} on the server."


ENDPOINTS = {"events": None}
EVENT_HANDLERS = {
    "new-message": handle_new_message,
    "updated-message": handle_updated_message,
    "message-send-error": handle_updated_message,
    "typing-indicator": handle_typing,
    "chat-read-status-changed": handle_chat_read,
    # A group's rename and members: a message of the group's (itemType 1-3) with its chat.
    **dict.fromkeys(GROUP_EVENT_TYPES, handle_new_message),
    # Sent to a webhook subscribed to "*": nothing here needs them yet.
    **dict.fromkeys(
        (
            "group-icon-changed",
            "group-icon-removed",
            "hello-world",
            "server-update",
            "new-server",
            "incoming-facetime",
            "ft-call-status-changed",
            "scheduled-message-error",
            "new-findmy-location",
        ),
        handle_ignored,
    ),
}
ALL_EVENT_TYPES = list(EVENT_HANDLERS)
UNVERIFIED = "The webhook URL's password is missing or does not match this inbox's server."
# Query parameters never journaled (the server password, when the URL carries it).
SECRET_QUERY_PARAMS = ("password", "guid", "token")


def event_type(request: HttpRequest) -> str:
    kind = payload_of(request).get("type")
    if not isinstance(kind, str) or not kind:
        raise MalformedWebhook("The BlueBubbles webhook has no type.")
    return kind[:100]


def external_id(request: HttpRequest) -> str:
    try:
        data = payload_of(request).get("data")
    except MalformedWebhook:
        return ""
    guid = data.get("guid") if isinstance(data, dict) else None
    return guid[:100] if isinstance(guid, str) else ""
