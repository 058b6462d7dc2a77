"""Parrot's webhook table: every event type arrives at one URL, named in the JSON ``type``."""

from inbox.actions.contact_signals import do_apply_read, do_note_contact_typing
from inbox.actions.receive import do_apply_status, do_receive_message
from inbox.providers import get_provider
from inbox.providers.base import MalformedWebhook
from tests.providers.parrot.provider import _payload


def handle_new_message(inbox, request) -> str:
    events = get_provider(inbox).parse(request)
    return " ".join(do_receive_message(inbox, event).note for event in events)


def handle_updated_message(inbox, request) -> str:
    [event] = get_provider(inbox).parse(request)
    delivery = do_apply_status(inbox, event)
    return f"Delivery {delivery.pk} is {delivery.status}." if delivery else "No such delivery."


def handle_typing(inbox, request) -> str:
    [event] = get_provider(inbox).parse(request)
    return do_note_contact_typing(inbox, event)


def handle_read(inbox, request) -> str:
    [event] = get_provider(inbox).parse(request)
    return do_apply_read(inbox, event)


ENDPOINTS = {"events": None}
EVENT_HANDLERS = {
    "new-message": handle_new_message,
    "updated-message": handle_updated_message,
    "typing-indicator": handle_typing,
    "chat-read-status-changed": handle_read,
}


def event_type(request) -> str:
    kind = _payload(request).get("type")
    if not isinstance(kind, str) or not kind:
        raise MalformedWebhook("The Parrot webhook has no type.")
    return kind
