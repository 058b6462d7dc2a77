"""Twilio webhooks: inbound messages and status callbacks, one URL pair per inbox.

Verify, journal, parse, act: the inbox is found by the opaque token in the path (404 for an
unknown or inactive one), ``X-Twilio-Signature`` is checked with that inbox's auth token (403,
nothing stored), the raw request is journaled, then the handler for the event kind parses it
and calls one action. The work in the request is a few small writes so Twilio gets its TwiML at
once; media downloads run in Celery after commit.
"""

from collections.abc import Mapping

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from inbox.actions.receive import do_apply_status, do_receive_message
from inbox.models import Inbox, Provider, WebhookEvent
from inbox.providers import get_provider
from inbox.webhooks import journal

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response />'


def handle_inbound(inbox: Inbox, params: Mapping) -> str:
    """Store each inbound message of the request; the journal note."""
    events = get_provider(inbox).parse_inbound(params)
    return " ".join(do_receive_message(inbox, event).note for event in events)


def handle_status(inbox: Inbox, params: Mapping) -> str:
    """Move the delivery forward; the journal note."""
    event = get_provider(inbox).parse_status(params)
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


EVENT_HANDLERS = {
    WebhookEvent.Kind.INBOUND.value: handle_inbound,
    WebhookEvent.Kind.STATUS.value: handle_status,
}
ALL_EVENT_TYPES = list(EVENT_HANDLERS)


def _public_url(request: HttpRequest) -> str:
    return settings.PUBLIC_BASE_URL.rstrip("/") + request.get_full_path()


def _receive(request: HttpRequest, token: str, kind: str) -> HttpResponse:
    inbox = (
        Inbox.objects.select_related("tenant")
        .filter(
            webhook_token=token, provider=Provider.TWILIO, is_active=True, tenant__is_active=True
        )
        .first()
    )
    if inbox is None:
        return HttpResponse("No such webhook.", status=404, content_type="text/plain")
    body = request.body  # read before request.POST so the raw body stays available
    if not get_provider(inbox).verify(request):
        return HttpResponse(
            "The X-Twilio-Signature header is missing or does not match this inbox.",
            status=403,
            content_type="text/plain",
        )
    event = journal.record(
        inbox,
        kind=kind,
        url=_public_url(request),
        content_type=request.content_type or "",
        body=body,  # the exact bytes (binary-safe): a replay parses what the request held
        external_id=(request.POST.get("MessageSid") or request.POST.get("SmsSid") or "").strip(),
    )
    event = journal.process(event, request.POST)
    if event.state == WebhookEvent.State.INVALID:
        return HttpResponse(event.error, status=400, content_type="text/plain; charset=utf-8")
    if event.state == WebhookEvent.State.FAILED:
        # Kept in the journal; `manage.py replay_webhooks --state failed` processes it later.
        return HttpResponse(
            f"Could not process the request now; it is journaled as event {event.pk}.",
            status=500,
            content_type="text/plain",
        )
    if kind == WebhookEvent.Kind.STATUS:
        return HttpResponse(status=204)
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")


@csrf_exempt
@require_POST
def inbound(request: HttpRequest, token: str) -> HttpResponse:
    return _receive(request, token, WebhookEvent.Kind.INBOUND)


@csrf_exempt
@require_POST
def status(request: HttpRequest, token: str) -> HttpResponse:
    return _receive(request, token, WebhookEvent.Kind.STATUS)
