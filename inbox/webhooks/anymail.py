"""Email webhooks through anymail: inbound mail and ESP tracking events, one URL pair per inbox.

``/webhooks/anymail/<token>/inbound/`` and ``/webhooks/anymail/<token>/tracking/``, through
the one pipeline (``inbox.webhooks.base``): anymail's own webhook view for the inbox's ESP,
built with that inbox's secrets (``inbox.providers.anymail.esps``), validates the request
(403 otherwise, nothing stored); the exact raw body is journaled (binary-safe) and the same
view parses it into ``AnymailInboundEvent`` / ``AnymailTrackingEvent`` objects that one action
each stores. Replays rebuild the request from the journaled bytes.
"""

from django.conf import settings

from inbox.actions.receive import do_receive_message
from inbox.actions.receive_email import (
    TRACKING_STATUS,
    do_apply_email_event,
    email_received,
    tracking_event_problem,
)
from inbox.models import Inbox
from inbox.providers.anymail.esps import webhook_esp, webhook_view
from inbox.providers.base import MalformedWebhook, MessageReceived
from omnichannel.text import shown
from omnichannel.webhooks import journal


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
        raise _unreadable(inbox, "inbound", exc) from exc


def handle_inbound(inbox: Inbox, request) -> str:
    events = _events(inbox, "inbound", request)
    received = [_received(inbox, event) for event in events]  # all first: one bad email stores none
    notes = [do_receive_message(inbox, event).note for event in received]
    return " ".join(notes) or "No messages in the request."


def handle_tracking(inbox: Inbox, request) -> str:
    """Apply each event of the request. An event with an unusable message id or recipient is
    skipped with a note (ESPs batch events: the others are applied); a request with nothing
    but such events is malformed."""
    events = _events(inbox, "status", request)
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
    "inbound": handle_inbound,
    "status": handle_tracking,
}
ALL_EVENT_TYPES = list(EVENT_HANDLERS)


ENDPOINTS = {
    "inbound": "inbound",
    "tracking": "status",
}
# Some ESPs check the URL with HEAD when it is configured.
METHODS = ("POST", "HEAD")


def max_bytes() -> int:
    """An email with attachments can be large; the server refuses bigger requests before they
    arrive (omnichannel.request_limits); this is the same limit for other ways in (tests)."""
    return settings.EMAIL_WEBHOOK_MAX_BYTES
