"""One webhook pipeline for every provider: ``/webhooks/<provider>/<token>/<endpoint>/``.

Find the source, verify, journal, dispatch, answer. The inbox is found by the opaque token in
the path (404 for an unknown or inactive one, or one of another provider); the provider
verifies the request with that inbox's secrets (403, nothing stored); the exact raw request is
journaled with its headers; the handler the provider's webhook module names for the event type
runs in one transaction and the outcome is answered (400 for content that cannot be used, 500
for our own failure: the event stays journaled for a replay).

A provider's webhook module (``inbox/webhooks/<key>.py``) declares:

- ``ENDPOINTS``: URL segment -> the event type journaled for it (the provider's own name),
  or None when one URL receives every type: ``event_type(request)`` then reads it from the
  request (``MalformedWebhook`` when it cannot: answered 400, nothing stored);
- ``EVENT_HANDLERS``: event type -> ``handler(inbox, request) -> note``;
- optionally ``SECRET_QUERY_PARAMS`` and ``SECRET_HEADERS`` (query parameters and headers
  that carry a secret: journaled as ``***``), ``METHODS`` (default POST), ``max_bytes()``
  (default: Django's request limit), ``UNVERIFIED`` (what a refused signature answers),
  ``external_id(request)`` (the provider's id for the journal),
  ``respond(event_type, event)`` (the success answer, default 200);
- optionally, for providers that may deliver one event more than once: ``UNIQUE_EXTERNAL_ID``
  (True: the external id is a delivery id never reused, so a repeat is a duplicate) and
  ``dedupe_key(request)`` (what makes two deliveries the same event). A duplicate is journaled
  as such and answered like a success, never applied again;
- optionally ``BATCHED``: event type -> ``check(inbox, request)`` for the types applied after
  the answer, in batches from the journal (status callbacks: ``inbox.actions.status_batches``).
  The request then only verifies, checks (``MalformedWebhook``: 400) and journals them.
"""

from types import ModuleType

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.utils.module_loading import import_module
from django.views.decorators.csrf import csrf_exempt

from inbox.models import Inbox
from inbox.providers import UnknownProvider, get_provider, provider_class
from inbox.providers.base import MalformedWebhook, Unverified
from inbox.tasks.webhooks import schedule_status_batch
from omnichannel.models import WebhookEvent
from omnichannel.webhooks import journal

UNVERIFIED = "The request's signature is missing or does not match this inbox."


def handle_ignored(inbox: Inbox, request: HttpRequest) -> str:
    """The handler of an event type a provider sends that its inbox does not use (journaled,
    answered, applied to nothing)."""
    return "An event the inbox does not use."


def handlers_for(provider: str) -> dict | None:
    """The event type -> handler table of ``provider``'s webhook module; None when it is not
    a provider of the inbox (the journal then asks the other apps' sources)."""
    try:
        return webhook_module(provider).EVENT_HANDLERS
    except UnknownProvider:
        return None


def webhook_module(provider: str) -> ModuleType:
    return import_module(provider_class(provider).webhooks)


def provider_for(inbox: Inbox, request: HttpRequest):
    """The provider that verified ``request``, built once per request (a replay's request,
    rebuilt from the journal, builds its own)."""
    provider = getattr(request, "inbox_provider", None)
    if provider is None or provider.inbox.pk != inbox.pk:
        provider = request.inbox_provider = get_provider(inbox)
    return provider


def _plain(text: str, status: int) -> HttpResponse:
    return HttpResponse(text, status=status, content_type="text/plain; charset=utf-8")


def _source(provider: str, token: str) -> Inbox | None:
    return (
        Inbox.objects.select_related("tenant")
        .filter(webhook_token=token, provider=provider, is_active=True, tenant__is_active=True)
        .first()
    )


def _read(request: HttpRequest, limit: int | None) -> bytes | HttpResponse:
    """The exact body, read before anything parses it; 413 past ``limit``."""
    if limit is None:
        return request.body
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if declared.isdigit() and int(declared) > limit:
        return _plain(f"The request is larger than {limit} bytes.", 413)
    # Not through request.body, whose form limit a large request (email) exceeds.
    raw = request.read(limit + 1)
    if len(raw) > limit:
        return _plain(f"The request is larger than {limit} bytes.", 413)
    request._body = raw
    return raw


def _journaled_path(request: HttpRequest, module: ModuleType) -> str:
    """The requested path and query, with the module's secret query parameters masked."""
    secret = getattr(module, "SECRET_QUERY_PARAMS", ())
    if not secret or not any(name in request.GET for name in secret):
        return request.get_full_path()
    query = request.GET.copy()
    for name in secret:
        if name in query:
            query.setlist(name, ["***"] * len(query.getlist(name)))
    return f"{request.path}?{query.urlencode(safe='*')}"


def _journaled_headers(request: HttpRequest, module: ModuleType) -> dict[str, str]:
    """The request's headers, with the module's secret headers masked."""
    secret = {name.lower() for name in getattr(module, "SECRET_HEADERS", ())}
    return {
        name: "***" if name.lower() in secret else value
        for name, value in journal.headers_of(request).items()
    }


@csrf_exempt
def receive(request: HttpRequest, provider: str, token: str, endpoint: str) -> HttpResponse:
    try:
        module = webhook_module(provider)
    except UnknownProvider:
        return _plain("No such webhook.", 404)
    if endpoint not in module.ENDPOINTS:
        return _plain("No such webhook.", 404)
    event_type = module.ENDPOINTS[endpoint]
    methods = getattr(module, "METHODS", ("POST",))
    if request.method not in methods:
        response = _plain(f"Use {' or '.join(methods)}.", 405)
        response["Allow"] = ", ".join(methods)
        return response
    inbox = _source(provider, token)
    if inbox is None:
        return _plain("No such webhook.", 404)
    if request.method == "HEAD":
        return HttpResponse()  # some providers check the URL this way when it is configured
    max_bytes = getattr(module, "max_bytes", None)
    body = _read(request, max_bytes() if max_bytes else None)
    if isinstance(body, HttpResponse):
        return body
    try:
        verified = provider_for(inbox, request).verify(request, event_type)
    except Unverified as exc:
        return _plain(str(exc), 403)
    if not verified:
        return _plain(getattr(module, "UNVERIFIED", UNVERIFIED), 403)
    if event_type is None:
        try:
            event_type = module.event_type(request)
        except MalformedWebhook as exc:
            return _plain(str(exc), 400)
    batched = getattr(module, "BATCHED", {}).get(event_type)
    malformed = ""
    if batched is not None:
        try:
            batched(inbox, request)
        except MalformedWebhook as exc:
            malformed = str(exc) or "The request could not be read."
    external_id = getattr(module, "external_id", None)
    dedupe_key = getattr(module, "dedupe_key", None)
    event = journal.record(
        inbox,
        kind=event_type,
        url=settings.PUBLIC_BASE_URL.rstrip("/") + _journaled_path(request, module),
        content_type=request.META.get("CONTENT_TYPE", ""),
        headers=_journaled_headers(request, module),
        body=body,  # the exact bytes (binary-safe): a replay parses what the request held
        external_id=external_id(request) if external_id else "",
        invalid=malformed,
        dedupe_key=dedupe_key(request) if dedupe_key and not malformed else "",
        unique_external_id=getattr(module, "UNIQUE_EXTERNAL_ID", False),
    )
    if malformed:
        return _plain(event.error, 400)
    respond = getattr(module, "respond", None)
    if journal.is_duplicate(event):
        return respond(event_type, event) if respond else HttpResponse(status=200)
    if batched is not None:
        transaction.on_commit(lambda: schedule_status_batch(provider, event_type))
    else:
        event = journal.process(event, request)
    if event.state == WebhookEvent.State.INVALID:
        return _plain(event.error, 400)
    if event.state == WebhookEvent.State.FAILED:
        # Kept in the journal; `manage.py replay_webhooks --state failed` processes it later.
        return _plain(
            f"Could not process the request now; it is journaled as event {event.pk}.", 500
        )
    return respond(event_type, event) if respond else HttpResponse(status=200)
