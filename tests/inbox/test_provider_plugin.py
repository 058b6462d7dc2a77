"""A provider plugs in by registration alone: ``tests/providers/parrot/`` exists only here, and
one ``register`` call makes it a channel like Twilio or email (connected with its own schema,
webhooks verified, journaled and dispatched through the one pipeline, sends and receives)."""

import json
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from inbox.actions.inboxes import do_create_inbox, webhook_urls
from inbox.actions.send import do_send_message
from inbox.models import Delivery, Inbox, Message
from inbox.tasks.delivery import deliver_message_task
from omnichannel.actions import ActionError
from omnichannel.models import WebhookEvent
from tests.providers.parrot.fixtures import PASSWORD
from tests.providers.parrot.provider import signature
from tests.test_provider_names import PACKAGES

pytestmark = pytest.mark.django_db

BASE_DIR = Path(__file__).resolve().parents[2]
# The tests that plug Parrot in (they name it); nothing else may.
PLUGIN_TESTS = [
    BASE_DIR / "tests" / "inbox" / name
    for name in ("test_provider_plugin.py", "test_provider_signals.py", "test_fallback.py")
]


def post_event(inbox: Inbox, payload: dict, *, password: str = PASSWORD):
    body = json.dumps(payload).encode()
    path = reverse("webhooks:receive", args=["parrot", inbox.webhook_token, "events"])
    return Client().post(
        path,
        data=body,
        content_type="application/json",
        headers={"X-Parrot-Signature": signature(password, body)},
    )


def new_message(guid: str = "p:1", text: str = "Hola") -> dict:
    return {
        "type": "new-message",
        "data": {"guid": guid, "handle": "+14155550111", "text": text, "chatGuid": "iMessage;-;x"},
    }


def test_it_is_connected_through_its_own_schema(tenant, parrot):
    assert parrot.get_credentials()["server_url"].startswith("http://127.0.0.1:")
    assert set(webhook_urls(parrot)) == {"events"}
    with pytest.raises(ActionError, match="The Parrot password is required"):
        do_create_inbox(
            tenant,
            kind="imessage",
            provider="parrot",
            address="+14155550199",
            credentials={"server_url": "https://parrot.example"},
        )
    with pytest.raises(ActionError, match="parrot inboxes are imessage"):
        do_create_inbox(
            tenant, kind="sms", provider="parrot", address="+14155550198", credentials={}
        )


def test_its_webhooks_are_verified_journaled_and_dispatched(parrot):
    response = post_event(parrot, new_message())

    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert (event.provider, event.kind, event.state) == ("parrot", "new-message", "processed")
    assert event.inbox == parrot and event.headers["X-Parrot-Signature"]
    message = Message.objects.get(inbox=parrot)
    assert (message.direction, message.body, message.external_id) == ("in", "Hola", "p:1")
    assert (
        event.error == f"Stored as message {message.pk} in conversation {message.conversation_id}."
    )


def test_a_bad_signature_is_refused_and_nothing_is_kept(parrot):
    response = post_event(parrot, new_message(), password="someone-else")

    assert response.status_code == 403
    assert not WebhookEvent.objects.exists() and not Message.objects.exists()


def test_an_event_type_without_a_handler_is_journaled_as_invalid(parrot):
    response = post_event(parrot, {"type": "participant-added", "data": {}})

    assert response.status_code == 400
    event = WebhookEvent.objects.get()
    assert (event.kind, event.state) == ("participant-added", "invalid")
    assert "No handler for parrot 'participant-added' events" in event.error


def test_a_duplicate_is_a_no_op(parrot):
    post_event(parrot, new_message())
    post_event(parrot, new_message())

    assert Message.objects.filter(inbox=parrot).count() == 1


def test_it_sends_and_its_status_callbacks_move_the_delivery(tenant, parrot, parrot_server):
    post_event(parrot, new_message())
    conversation = Message.objects.get(inbox=parrot).conversation
    message = do_send_message(tenant, conversation=conversation, body="Gracias")
    delivery = message.deliveries.get()

    deliver_message_task.apply(args=[delivery.pk])

    [sent] = parrot_server.sent
    # Replies go to the provider's own thread handle, kept as it came.
    assert conversation.external_thread_id == "iMessage;-;x"
    assert sent["message"] == "Gracias" and sent["chatGuid"] == "iMessage;-;x"
    delivery.refresh_from_db()
    assert delivery.status == Message.Status.SENT and delivery.provider_message_id
    response = post_event(
        parrot,
        {
            "type": "updated-message",
            "data": {"guid": delivery.provider_message_id, "status": "read"},
        },
    )
    assert response.status_code == 200
    assert Delivery.objects.get(pk=delivery.pk).status == Message.Status.READ


def test_the_connection_test_calls_the_server(parrot, parrot_server):
    from inbox.actions.inboxes import schema_for

    assert schema_for("parrot").test_connection(parrot).ok
    parrot_server.password = "rotated"
    check = schema_for("parrot").test_connection(parrot)
    assert not check.ok and "401" in check.detail


def test_it_appears_in_settings_channels(parrot, owner, login):
    client = login(owner)

    listed = client.get("/settings/channels/").content.decode()
    connect = client.get("/settings/channels/connect/").content.decode()
    detail = client.get(f"/settings/channels/{parrot.pk}/").content.decode()

    # the address as the tenant's (US) agents dial it
    assert "Parrot chat" in listed and "(415) 555-0100" in listed
    assert "?provider=parrot&amp;kind=imessage" in connect
    assert "Server URL" in detail and "Server password" in detail
    assert webhook_urls(parrot)["events"] in detail


def test_no_file_outside_its_package_and_its_tests_mentions_it():
    tests = BASE_DIR / "tests"
    mentions = sorted(
        str(path.relative_to(BASE_DIR))
        for folder in (*PACKAGES, "templates", "static", "tests", "bench")
        for path in (BASE_DIR / folder).rglob("*")
        if path.suffix in (".py", ".html", ".js", ".css", ".toml", ".json")
        and not path.is_relative_to(tests / "providers" / "parrot")
        and "parrot" in path.read_text(errors="ignore").lower()
    )
    assert mentions == sorted(str(p.relative_to(BASE_DIR)) for p in PLUGIN_TESTS)
