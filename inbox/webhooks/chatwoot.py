"""Chatwoot webhooks: every event at one URL per inbox, named in the JSON ``event``.

The pipeline (``inbox.webhooks.base``) finds the inbox by the opaque token in the URL, so the
tenant never comes from the payload (old Chatwoot sends no ``account``); the provider checks
the HMAC signature and its age (``inbox.providers.chatwoot.events.verify``: 403, nothing
stored). Chatwoot never retries but posts one event to each of its targets (an account webhook
and an API inbox) under its own ``X-Chatwoot-Delivery`` uuid: a repeated delivery id, or the
same event under another one (``dedupe_key``), is journaled as a duplicate, never applied.

Handlers stay thin: ``inbox.actions.bridge`` matches the contact, mirrors, and applies status.
"""

from django.http import HttpRequest

from inbox.actions.bridge import (
    BridgedContact,
    do_bridge_conversation,
    do_bridge_message,
    do_match_bridged_contact,
)
from inbox.models import Inbox
from inbox.providers.base import ConversationChanged, MalformedWebhook
from inbox.providers.chatwoot import events
from inbox.webhooks.base import handle_ignored, provider_for


def _person(payload: dict) -> BridgedContact | None:
    found = events.contact_of(payload)
    if found is None:
        return None
    return BridgedContact(found.external_id, found.name, found.phone, found.email)


def _foreign_account(inbox: Inbox, payload: dict) -> str:
    """A note when the payload names another Chatwoot account than the inbox's (a webhook
    pointed at the wrong Centro inbox); "" when it names none (old Chatwoot) or the same."""
    named = events.account_of(payload)
    own = str(inbox.option("account_id", "") or "")
    if named and own and named != own:
        return (
            f"The event is of Chatwoot account {named[:20]}, not this inbox's account "
            f"{own[:20]}: ignored."
        )
    return ""


def handle_message(inbox: Inbox, request: HttpRequest) -> str:
    payload = events.payload_of(request)
    foreign = _foreign_account(inbox, payload)
    if foreign:
        return foreign
    parsed = provider_for(inbox, request).parse(request)
    return do_bridge_message(inbox, parsed[0] if parsed else None, _person(payload))


def handle_conversation(inbox: Inbox, request: HttpRequest) -> str:
    payload = events.payload_of(request)
    foreign = _foreign_account(inbox, payload)
    if foreign:
        return foreign
    parsed = provider_for(inbox, request).parse(request)
    if not parsed or not isinstance(parsed[0], ConversationChanged):
        raise MalformedWebhook("The Chatwoot conversation event could not be read.")
    return do_bridge_conversation(inbox, parsed[0], _person(payload))


def handle_contact(inbox: Inbox, request: HttpRequest) -> str:
    payload = events.payload_of(request)
    foreign = _foreign_account(inbox, payload)
    if foreign:
        return foreign
    person = _person(payload)
    if person is None:
        raise MalformedWebhook("The Chatwoot contact event has no contact id.")
    contact = do_match_bridged_contact(inbox, person)
    if contact is None:
        return f"Chatwoot contact {person.external_id} matches no contact here."
    return f"Chatwoot contact {person.external_id} is contact {contact.pk}."


ENDPOINTS = {"events": None}
EVENT_HANDLERS = {
    "message_created": handle_message,
    "message_updated": handle_message,
    "conversation_created": handle_conversation,
    "conversation_updated": handle_conversation,
    "conversation_status_changed": handle_conversation,
    # What Chatwoot's agent-bot targets receive besides the status change.
    "conversation_opened": handle_conversation,
    "conversation_resolved": handle_conversation,
    "contact_created": handle_contact,
    "contact_updated": handle_contact,
    **dict.fromkeys(
        (
            "conversation_typing_on",
            "conversation_typing_off",
            "webwidget_triggered",
            "inbox_created",
            "inbox_updated",
        ),
        handle_ignored,
    ),
}
UNVERIFIED = "The Chatwoot signature is missing or does not match this inbox's webhook secret."
# Chatwoot's signature is an HMAC, not a secret: the headers are journaled as they came.
SECRET_HEADERS = ()
# Chatwoot makes a new delivery uuid for every target and event, never reused.
UNIQUE_EXTERNAL_ID = True


def event_type(request: HttpRequest) -> str:
    return events.event_name(events.payload_of(request))


def external_id(request: HttpRequest) -> str:
    return request.headers.get(events.DELIVERY_HEADER, "").strip()[:100]


def dedupe_key(request: HttpRequest) -> str:
    try:
        payload = events.payload_of(request)
    except MalformedWebhook:
        return ""
    return events.dedupe_key(payload, request.body)
