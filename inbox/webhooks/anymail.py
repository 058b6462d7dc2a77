"""Email webhooks through anymail: inbound mail and ESP tracking events, one URL pair per inbox.

``/webhooks/anymail/<token>/inbound/`` and ``/webhooks/anymail/<token>/tracking/``. Verify,
journal, parse, act: the inbox is found by the opaque token (404 for an unknown or inactive
one); anymail's own webhook view for the inbox's ESP, built with that inbox's secrets (the
basic-auth ``webhook_secret``, plus the ESP's signing key where it signs, as Mailgun does),
validates the request (403 otherwise, nothing stored); the exact raw body is journaled
(binary-safe) and the same view parses it into ``AnymailInboundEvent`` /
``AnymailTrackingEvent`` objects that one action each stores. Replays rebuild the request from
the journaled bytes.
"""

import io
import warnings
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.wsgi import WSGIRequest
from django.http import HttpRequest, HttpResponse
from django.utils.module_loading import import_string
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from inbox.actions.receive import do_receive_message
from inbox.actions.receive_email import (
    TRACKING_STATUS,
    do_apply_email_event,
    email_received,
    tracking_event_problem,
)
from inbox.models import Inbox, Provider, WebhookEvent
from inbox.providers.base import MalformedWebhook, MessageReceived
from inbox.webhooks import journal
from omnichannel.outbound import UnsafeURL, check_public_url
from omnichannel.text import shown

# ESP -> (inbound view, tracking view), anymail's classes.
WEBHOOK_VIEWS: dict[str, tuple[str, str]] = {
    "postmark": (
        "anymail.webhooks.postmark.PostmarkInboundWebhookView",
        "anymail.webhooks.postmark.PostmarkTrackingWebhookView",
    ),
    "mailgun": (
        "anymail.webhooks.mailgun.MailgunInboundWebhookView",
        "anymail.webhooks.mailgun.MailgunTrackingWebhookView",
    ),
    "sendgrid": (
        "anymail.webhooks.sendgrid.SendGridInboundWebhookView",
        "anymail.webhooks.sendgrid.SendGridTrackingWebhookView",
    ),
    "brevo": (
        # Its attachment download goes through the SSRF guard (see the module).
        "inbox.webhooks.anymail_views.BrevoInboundWebhookView",
        "anymail.webhooks.brevo.BrevoTrackingWebhookView",
    ),
    "mailjet": (
        "anymail.webhooks.mailjet.MailjetInboundWebhookView",
        "anymail.webhooks.mailjet.MailjetTrackingWebhookView",
    ),
}
# ESPs whose webhooks carry a signature anymail checks with this key.
SIGNING_KEY_ESPS = ("mailgun",)
# Credentials an ESP's inbound view needs besides the secrets (Brevo fetches attachments
# from its API).
INBOUND_VIEW_OPTIONS = {"brevo": ("api_key", "api_url")}


class WebhookNotConfigured(Exception):
    """The inbox cannot authenticate this webhook (no secret, or an ESP without webhooks)."""


def webhook_esp(inbox: Inbox) -> str:
    """The ESP that posts this inbox's webhooks: ``webhook_esp`` (e.g. an SMTP inbox whose
    mail arrives through Mailgun), else the sending ESP."""
    credentials = inbox.get_credentials()
    return str(credentials.get("webhook_esp") or credentials.get("esp") or "")


def webhook_view(inbox: Inbox, kind: str):
    """anymail's webhook view for ``inbox``'s ESP and ``kind``, holding the inbox's secrets."""
    credentials = inbox.get_credentials()
    esp = webhook_esp(inbox)
    if esp not in WEBHOOK_VIEWS:
        raise WebhookNotConfigured(
            f"This inbox's ESP “{esp or 'none'}” has no anymail webhooks; set webhook_esp to "
            f"one of {', '.join(WEBHOOK_VIEWS)}."
        )
    secret = credentials.get("webhook_secret") or ""
    if not secret:
        raise WebhookNotConfigured(
            "This inbox has no webhook secret, so no request can be trusted."
        )
    options: dict = {"webhook_secret": secret}
    if esp in SIGNING_KEY_ESPS:
        key = credentials.get("webhook_signing_key") or credentials.get("api_key")
        if not key:
            raise WebhookNotConfigured(f"This {esp} inbox has no webhook_signing_key.")
        options["webhook_signing_key"] = key
    if kind == WebhookEvent.Kind.INBOUND:
        for key in INBOUND_VIEW_OPTIONS.get(esp, ()):
            if credentials.get(key):
                options[key] = credentials[key]
        if "api_url" in options:
            try:
                check_public_url(options["api_url"])
            except UnsafeURL as exc:
                raise WebhookNotConfigured(f"The {esp} API URL is not allowed: {exc}") from exc
    path = WEBHOOK_VIEWS[esp][0 if kind == WebhookEvent.Kind.INBOUND else 1]
    try:
        view_class = import_string(path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return view_class(**options)
    except (ImportError, ImproperlyConfigured) as exc:
        raise WebhookNotConfigured(f"The {esp} webhook cannot be used here: {exc}") from exc


def _unreadable(inbox: Inbox, kind: str, exc: Exception) -> MalformedWebhook:
    # The exception's text may quote the request: shown() escapes and cuts it.
    return MalformedWebhook(
        f"The {webhook_esp(inbox)} {kind} webhook could not be read: "
        f"{type(exc).__name__}: {shown(exc, 300)}"
    )


def _events(inbox: Inbox, kind: str, request) -> list:
    view = webhook_view(inbox, kind)
    import requests

    try:
        return list(view.parse_events(request))
    except requests.RequestException:
        raise  # the ESP's API (Brevo attachments) failed: journaled as failed, retried
    except Exception as exc:
        # anymail raises KeyError/ValueError/its own errors on content it cannot read.
        raise _unreadable(inbox, kind, exc) from exc


def _received(inbox: Inbox, event) -> MessageReceived:
    """The email of an ``AnymailInboundEvent`` as the inbox's normalized event. Refuses
    (``MalformedWebhook``) an email with an unusable identifier or sender; anymail parses
    headers and addresses lazily, so content the email library cannot parse is refused here
    (400) instead of failing while it is stored (500)."""
    message = event.message
    if message is None:
        raise MalformedWebhook("The inbound webhook carries no email.")
    try:
        return email_received(message, event_id=event.event_id or "")
    except MalformedWebhook:
        raise
    except Exception as exc:
        raise _unreadable(inbox, WebhookEvent.Kind.INBOUND, exc) from exc


def handle_inbound(inbox: Inbox, request) -> str:
    events = _events(inbox, WebhookEvent.Kind.INBOUND, request)
    received = [_received(inbox, event) for event in events]  # all first: one bad email stores none
    notes = [do_receive_message(inbox, event).note for event in received]
    return " ".join(notes) or "No messages in the request."


def handle_tracking(inbox: Inbox, request) -> str:
    """Apply each event of the request. An event with an unusable message id or recipient is
    skipped with a note (ESPs batch events: the others are applied); a request with nothing
    but such events is malformed."""
    events = _events(inbox, WebhookEvent.Kind.STATUS, request)
    notes, unknown, skipped = [], [], []
    for number, event in enumerate(events, start=1):
        problem = tracking_event_problem(event)
        if problem:
            skipped.append(f"Skipped event {number}: {problem}.")
            continue
        result = do_apply_email_event(inbox, event)
        if result.note:
            notes.append(result.note)
        elif result.delivery is None and str(event.event_type) in TRACKING_STATUS:
            unknown.append(str(event.message_id or "?"))
    if skipped and len(skipped) == len(events):
        if len(events) == 1:
            raise MalformedWebhook(f"The event cannot be applied: {problem}.")
        raise MalformedWebhook(" ".join(skipped))
    if unknown and not notes:
        deferred = (
            f"No delivery has id {', '.join(unknown)[:200]} yet (sent outside Centro, or the "
            "send is still being recorded)."
        )
        raise journal.Deferred(" ".join([deferred, *skipped]))
    if unknown:
        notes.append(f"Unknown ids: {', '.join(unknown)[:200]}.")
    return " ".join(notes + skipped) or "Nothing to do."


EVENT_HANDLERS = {
    WebhookEvent.Kind.INBOUND.value: handle_inbound,
    WebhookEvent.Kind.STATUS.value: handle_tracking,
}
ALL_EVENT_TYPES = list(EVENT_HANDLERS)


def rebuild_request(event: WebhookEvent) -> HttpRequest:
    """The journaled request again, from its exact bytes (for replays)."""
    raw = event.raw_body()
    request = WSGIRequest(
        {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": urlsplit(event.url).path,
            "SCRIPT_NAME": "",
            "SERVER_NAME": "localhost",
            "SERVER_PORT": "443",
            "wsgi.url_scheme": "https",
            "CONTENT_TYPE": event.content_type,
            "CONTENT_LENGTH": str(len(raw)),
            "wsgi.input": io.BytesIO(raw),
        }
    )
    request._body = raw
    return request


def _plain(text: str, status: int) -> HttpResponse:
    return HttpResponse(text, status=status, content_type="text/plain; charset=utf-8")


def _receive(request: HttpRequest, token: str, kind: str) -> HttpResponse:
    inbox = (
        Inbox.objects.select_related("tenant")
        .filter(
            webhook_token=token, provider=Provider.ANYMAIL, is_active=True, tenant__is_active=True
        )
        .first()
    )
    if inbox is None:
        return _plain("No such webhook.", 404)
    if request.method == "HEAD":
        return HttpResponse()  # some ESPs check the URL this way when it is configured
    # An email with attachments can be large; the server refuses bigger requests before they
    # arrive (omnichannel.request_limits); this is the same limit for other ways in (tests).
    limit = settings.EMAIL_WEBHOOK_MAX_BYTES
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if declared.isdigit() and int(declared) > limit:
        return _plain(f"The request is larger than {limit} bytes.", 413)
    # Read the exact bytes first (anymail then parses them from request.body / POST / FILES);
    # not through request.body, whose form limit an email with attachments exceeds.
    raw = request.read(limit + 1)
    if len(raw) > limit:
        return _plain(f"The request is larger than {limit} bytes.", 413)
    request._body = raw
    try:
        view = webhook_view(inbox, kind)
    except WebhookNotConfigured as exc:
        return _plain(str(exc), 403)
    from anymail.exceptions import AnymailWebhookValidationFailure

    try:
        view.run_validators(request)
    except AnymailWebhookValidationFailure as exc:
        return _plain(f"Webhook authentication failed: {exc}", 403)
    except Exception as exc:
        # e.g. Mailgun's signature fields that are not ASCII: not verifiable, so not authentic.
        return _plain(
            f"Webhook authentication failed: the signature could not be checked "
            f"({type(exc).__name__}).",
            403,
        )
    event = journal.record(
        inbox,
        kind=kind,
        url=settings.PUBLIC_BASE_URL.rstrip("/") + request.get_full_path(),
        content_type=request.META.get("CONTENT_TYPE", ""),
        body=raw,
    )
    event = journal.process(event, request)
    if event.state == WebhookEvent.State.INVALID:
        return _plain(event.error, 400)
    if event.state == WebhookEvent.State.FAILED:
        return _plain(
            f"Could not process the request now; it is journaled as event {event.pk}.", 500
        )
    return HttpResponse(status=200)


@csrf_exempt
@require_http_methods(["POST", "HEAD"])
def inbound(request: HttpRequest, token: str) -> HttpResponse:
    return _receive(request, token, WebhookEvent.Kind.INBOUND)


@csrf_exempt
@require_http_methods(["POST", "HEAD"])
def tracking(request: HttpRequest, token: str) -> HttpResponse:
    return _receive(request, token, WebhookEvent.Kind.STATUS)
