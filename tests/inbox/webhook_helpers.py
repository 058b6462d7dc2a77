"""The one way webhook tests talk to Centro: real-format Twilio fixtures, signed like Twilio.

``post_twilio`` loads ``tests/fixtures/twilio/<name>.json`` (the form fields Twilio POSTs),
applies overrides, signs the request with Twilio's own ``RequestValidator`` over
``PUBLIC_BASE_URL + path`` and POSTs it form-encoded through the real URL routing. A fixture
whose event type the handler table (``inbox.webhooks.twilio.EVENT_HANDLERS``) does not declare
fails the test: a new kind of Twilio request must get a handler before it gets a test.

A status callback accepted by the request is applied after it, in a batch
(``inbox.tasks.webhooks``): ``post_twilio`` runs that task's batch once the request answered,
as the worker would, so a test sees what the callback did.
"""

import json
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from twilio.request_validator import RequestValidator

from inbox.webhooks.twilio import EVENT_HANDLERS

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "twilio"
DROP = object()  # an override value that removes the field


def load_fixture(name: str) -> dict[str, str]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def event_type_of(params: dict[str, str]) -> str:
    """Which kind of Twilio request these form fields are."""
    if "CallSid" in params:
        return "voice"
    if "MessageStatus" in params:
        return "status"
    return "inbound"


def twilio_signature(auth_token: str, url: str, params: dict[str, str]) -> str:
    return RequestValidator(auth_token).compute_signature(url, params)


def twilio_params(fixture: str, **overrides) -> dict[str, str]:
    params = load_fixture(fixture)
    for key, value in overrides.items():
        if value is DROP:
            params.pop(key, None)
        else:
            params[key] = str(value)
    return params


def signed_twilio_request(
    inbox,
    fixture: str,
    *,
    token: str | None = None,
    auth_token: str | None = None,
    signature: str | None = None,
    **overrides,
) -> tuple[str, dict[str, str], dict[str, str]]:
    """``(path, form fields, headers)`` of fixture ``fixture`` for ``inbox``'s webhook, signed
    like Twilio. ``token`` targets another inbox's URL; ``auth_token`` signs with another
    secret; ``signature`` sends that header value as is ("" sends none)."""
    params = twilio_params(fixture, **overrides)
    kind = event_type_of(params)
    if kind not in EVENT_HANDLERS:
        pytest.fail(
            f"Fixture {fixture!r} is a {kind!r} request, which "
            f"inbox.webhooks.twilio.EVENT_HANDLERS does not declare ({sorted(EVENT_HANDLERS)})."
        )
    path = reverse("webhooks:receive", args=["twilio", token or inbox.webhook_token, kind])
    if signature is None:
        secret = auth_token or inbox.get_credentials()["auth_token"]
        signature = twilio_signature(secret, settings.PUBLIC_BASE_URL.rstrip("/") + path, params)
    headers = {"X-Twilio-Signature": signature} if signature else {}
    return path, params, headers


def post_twilio(inbox, fixture: str, *, client: Client | None = None, **kwargs):
    """POST fixture ``fixture`` to ``inbox``'s webhook through the test client (see
    :func:`signed_twilio_request` for the options)."""
    path, params, headers = signed_twilio_request(inbox, fixture, **kwargs)
    response = (client or Client()).post(
        path,
        data=urlencode(params),
        content_type="application/x-www-form-urlencoded",
        headers=headers,
    )
    if response.status_code == 204:
        apply_status_batches()
    return response


def apply_status_batches() -> int:
    """What the worker does after status callbacks were journaled (the real task, run here)."""
    from inbox.tasks.webhooks import apply_status_batches_task

    return apply_status_batches_task("twilio", "status")


def receive(inbox, sender: str, body: str, name: str = ""):
    """An inbound SMS through the real receive action (what the signed webhook calls); the
    stored Message."""
    import secrets

    from inbox.actions.receive import do_receive_message
    from inbox.providers.base import MessageReceived

    return do_receive_message(
        inbox,
        MessageReceived(
            external_id="SM" + secrets.token_hex(16),
            sender=sender,
            recipient=inbox.address,
            body=body,
            profile_name=name,
        ),
    ).message


def assert_empty_twiml(response) -> None:
    assert response.status_code == 200, response.content.decode()[:500]
    assert response["Content-Type"].startswith("text/xml")
    assert response.content.decode() == '<?xml version="1.0" encoding="UTF-8"?><Response />'


def make_outbound(inbox, *, to: str, sid: str, status: str = "queued"):
    """An outbound message already handed to Twilio (as the send task leaves it): the Delivery."""
    from contacts.actions import get_or_create_contact_by_phone
    from inbox.models import Conversation, Delivery, Message

    contact, _ = get_or_create_contact_by_phone(inbox.tenant, phone=to)
    conversation, _ = Conversation.objects.get_or_create(
        tenant=inbox.tenant,
        inbox=inbox,
        contact=contact,
        status=Conversation.Status.OPEN,
    )
    message = Message.objects.create(
        tenant=inbox.tenant,
        conversation=conversation,
        inbox=inbox,
        direction=Message.Direction.OUTBOUND,
        sender_type=Message.SenderType.AGENT,
        body="Your table is ready",
        status=status,
    )
    return Delivery.objects.create(
        tenant=inbox.tenant,
        message=message,
        inbox=inbox,
        provider="twilio",
        recipient=contact.phone,
        status=status,
        provider_message_id=sid,
        attempts=1,
    )
