"""Evolution API webhooks: every event at one URL per inbox, named in the JSON ``event``.

Evolution signs nothing: the pipeline (``inbox.webhooks.base``) finds the inbox by the opaque
token in the URL and the provider checks the secret header registered with the instance and
the instance's name (403 otherwise, nothing stored). Evolution retries a delivery up to ten
times and never on a 4xx, so every handler is idempotent on WhatsApp's message id.
"""

from django.http import HttpRequest

from inbox.actions.chat_events import apply_chat_event
from inbox.actions.linking import do_record_link_state
from inbox.actions.receive import do_apply_status
from inbox.models import Inbox
from inbox.providers import get_provider
from inbox.providers.base import LinkState, MalformedWebhook, StatusEvent
from inbox.providers.evolution.provider import SECRET_HEADER, event_name, payload_of
from inbox.webhooks.base import handle_ignored
from omnichannel.webhooks import journal


def handle_message(inbox: Inbox, request: HttpRequest) -> str:
    events = get_provider(inbox).parse(request)
    return apply_chat_event(inbox, events[0] if events else None, new=True)


def handle_update(inbox: Inbox, request: HttpRequest) -> str:
    notes = []
    for event in get_provider(inbox).parse(request):
        if not isinstance(event, StatusEvent):
            raise MalformedWebhook("The message update could not be read.")
        delivery = do_apply_status(inbox, event)
        if delivery is None:
            # Sent from another app on the instance, or an ack that beat the recording of our
            # send's id (Evolution acks inside the send call): the journal sweep tries again.
            raise journal.Deferred(
                f"No delivery has id {event.provider_message_id[:100]} yet (sent outside "
                "Centro, or the send is still being recorded)."
            )
        notes.append(f"Delivery {delivery.pk} is {delivery.status}.")
    return " ".join(notes) or "An update of a message the inbox does not track."


def handle_link(inbox: Inbox, request: HttpRequest) -> str:
    [state] = get_provider(inbox).parse(request)
    if not isinstance(state, LinkState):
        raise MalformedWebhook("The connection event could not be read.")
    return do_record_link_state(inbox, state)


ENDPOINTS = {"events": None}
EVENT_HANDLERS = {
    "messages.upsert": handle_message,
    "send.message": handle_message,
    "messages.update": handle_update,
    "connection.update": handle_link,
    "qrcode.updated": handle_link,
    # Sent when the instance is set to send every event: nothing here needs them yet.
    **dict.fromkeys(
        (
            "application.startup",
            "instance.create",
            "instance.delete",
            "status.instance",
            "messages.set",
            "messages.edited",
            "messages.delete",
            "send.message.update",
            "contacts.set",
            "contacts.upsert",
            "contacts.update",
            "presence.update",
            "chats.set",
            "chats.update",
            "chats.upsert",
            "chats.delete",
            "groups.upsert",
            "groups.update",
            "group-participants.update",
            "call",
            "labels.edit",
            "labels.association",
            "creds.update",
            "messaging-history.set",
            "remove.instance",
            "logout.instance",
        ),
        handle_ignored,
    ),
}
UNVERIFIED = "The webhook's secret header is missing or does not match this inbox."
# Never journaled: the header is the inbox's webhook secret.
SECRET_HEADERS = (SECRET_HEADER,)


def event_type(request: HttpRequest) -> str:
    kind = event_name(payload_of(request).get("event"))
    if not kind:
        raise MalformedWebhook("The Evolution webhook has no event.")
    return kind[:100]


def external_id(request: HttpRequest) -> str:
    try:
        data = payload_of(request).get("data")
    except MalformedWebhook:
        return ""
    if not isinstance(data, dict):
        return ""
    key = data.get("key") if isinstance(data.get("key"), dict) else {}
    found = key.get("id") or data.get("keyId")
    return found[:100] if isinstance(found, str) else ""
