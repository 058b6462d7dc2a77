"""Twilio webhooks: inbound messages and status callbacks, one URL pair per inbox.

The pipeline (``inbox.webhooks.base``) finds the inbox, has ``X-Twilio-Signature`` checked
with its auth token and journals the request. An inbound message is stored in the request
(a few small writes, so Twilio gets its TwiML at once; media downloads run in Celery after
commit). A status callback is only checked there and applied after the answer, in a batch
with the others (``inbox.actions.status_batches``); ``handle_status`` applies one on its own
when the journal replays it.
"""

from django.http import HttpRequest, HttpResponse

from inbox.actions.receive import do_apply_status, do_receive_message
from inbox.models import Inbox
from inbox.providers.base import MalformedWebhook, MessageReceived, StatusEvent
from inbox.webhooks.base import provider_for
from omnichannel.models import WebhookEvent
from omnichannel.webhooks import journal

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response />'


def _events(inbox: Inbox, request: HttpRequest, expected: type) -> list:
    events = provider_for(inbox, request).parse(request)
    if not all(isinstance(event, expected) for event in events):
        raise MalformedWebhook(
            "This request belongs to the other Twilio webhook URL (inbound messages and "
            "status callbacks each have their own)."
        )
    return events


def handle_inbound(inbox: Inbox, request: HttpRequest) -> str:
    """Store each inbound message of the request; the journal note."""
    events = _events(inbox, request, MessageReceived)
    return " ".join(do_receive_message(inbox, event).note for event in events)


def handle_status(inbox: Inbox, request: HttpRequest) -> str:
    """Move the delivery forward; the journal note."""
    [event] = _events(inbox, request, StatusEvent)
    delivery = do_apply_status(inbox, event)
    if delivery is None:
        # Usually a message sent outside Centro; sometimes a callback that beat the worker's
        # recording of the provider id. Deferred: the journal sweep tries again for a while.
        raise journal.Deferred(
            f"No delivery has id {event.provider_message_id} yet (sent outside Centro, or the "
            "send is still being recorded)."
        )
    if delivery.status != event.status:
        return f"Delivery {delivery.pk} stays {delivery.status} (not moved to {event.status})."
    return f"Delivery {delivery.pk} is {delivery.status}."


def check_status(inbox: Inbox, request: HttpRequest) -> None:
    """A status callback, checked in the request (``MalformedWebhook``: answered 400)."""
    _events(inbox, request, StatusEvent)


BATCHED = {"status": check_status}
EVENT_HANDLERS = {
    "inbound": handle_inbound,
    "status": handle_status,
}
ALL_EVENT_TYPES = list(EVENT_HANDLERS)
ENDPOINTS = {"inbound": "inbound", "status": "status"}
UNVERIFIED = "The X-Twilio-Signature header is missing or does not match this inbox."


def external_id(request: HttpRequest) -> str:
    return (request.POST.get("MessageSid") or request.POST.get("SmsSid") or "").strip()


def respond(event_type: str, event: WebhookEvent) -> HttpResponse:
    if event_type == "status":
        return HttpResponse(status=204)
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")
