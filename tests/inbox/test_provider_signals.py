"""Typing and reading, both ways, for a provider that supports them (Parrot, which exists
only in the tests): the contact's typing and read receipts reach an open inbox page over a
real websocket; an agent's typing and opening the conversation reach the provider (real
Celery task code, Parrot's fake server)."""

import json

import pytest
from asgiref.sync import sync_to_async
from django.test import Client
from django.urls import reverse

from inbox.actions.provider_signals import do_relay_agent_typing
from inbox.actions.read_state import do_mark_read
from inbox.actions.send import do_send_message
from inbox.models import Message
from inbox.tasks.delivery import deliver_message_task
from inbox.tasks.provider_signals import mark_read_task, send_typing_task
from tests.inbox.test_realtime import collect, report
from tests.providers.parrot.fixtures import PASSWORD
from tests.providers.parrot.provider import signature
from tests.sockets import socket

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("private_channel_prefix"),
]

HTML = "/ws/?format=html"
HANDLE = "+14155550111"
CHAT = "iMessage;-;+14155550111"


def post_event(inbox, payload: dict):
    body = json.dumps(payload).encode()
    return Client().post(
        reverse("webhooks:receive", args=["parrot", inbox.webhook_token, "events"]),
        data=body,
        content_type="application/json",
        headers={"X-Parrot-Signature": signature(PASSWORD, body)},
    )


@pytest.fixture
def conversation(parrot):
    post_event(
        parrot,
        {
            "type": "new-message",
            "data": {"guid": "p:in", "handle": HANDLE, "text": "Hola", "chatGuid": CHAT},
        },
    )
    return Message.objects.get(inbox=parrot).conversation


async def test_the_contacts_typing_reaches_the_open_conversation(
    parrot, conversation, owner, signed_in
):
    typing = {"type": "typing-indicator", "data": {"handle": HANDLE, "chatGuid": CHAT}}
    async with socket(await sync_to_async(signed_in)(owner), path=HTML) as page:
        await report(page, conversation=conversation.pk)
        response = await sync_to_async(post_event)(
            parrot, {**typing, "data": {**typing["data"], "display": True}}
        )
        assert response.status_code == 200
        html = await collect(page, until='id="contact-typing"')
        assert "is typing…" in html

        await sync_to_async(post_event)(
            parrot, {**typing, "data": {**typing["data"], "display": False}}
        )
        html = await collect(page, until='id="contact-typing"')
        assert "is typing" not in html


async def test_a_read_receipt_moves_the_ticks_on_the_open_page(
    parrot, conversation, owner, signed_in, tenant
):
    def send_reply() -> Message:
        message = do_send_message(tenant, conversation=conversation, body="Gracias")
        deliver_message_task.apply(args=[message.deliveries.get().pk])
        return message

    message = await sync_to_async(send_reply)()
    async with socket(await sync_to_async(signed_in)(owner), path=HTML) as page:
        await report(page, conversation=conversation.pk)
        await sync_to_async(post_event)(
            parrot,
            {
                "type": "chat-read-status-changed",
                "data": {"handle": HANDLE, "chatGuid": CHAT, "read": True},
            },
        )
        html = await collect(page, until=f'id="msg-{message.pk}-status"')
        assert "tick-read" in html
    await sync_to_async(message.refresh_from_db)()
    assert message.status == Message.Status.READ


def test_an_agents_typing_reaches_the_provider_debounced(parrot, conversation, parrot_server):
    assert do_relay_agent_typing(conversation, active=True)
    assert not do_relay_agent_typing(conversation, active=True)  # seconds later: not again
    assert do_relay_agent_typing(conversation, active=False)

    send_typing_task.apply(args=[conversation.pk, True])
    send_typing_task.apply(args=[conversation.pk, False])

    assert parrot_server.signals == [
        (f"/api/v1/chat/{CHAT}/typing", {"typing": True}),
        (f"/api/v1/chat/{CHAT}/typing", {"typing": False}),
    ]


@pytest.mark.django_db  # callbacks wait for the test's transaction, so they can be counted
def test_opening_the_conversation_marks_the_chat_read_once_per_new_message(
    parrot, conversation, parrot_server, owner, login, django_capture_on_commit_callbacks
):
    client = login(owner)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        client.get(f"/inbox/c/{conversation.pk}/")
        client.get(f"/inbox/c/{conversation.pk}/")
    relays = [c for c in queued if "mark_read_task" in c.__code__.co_freevars]
    assert len(relays) == 1

    mark_read_task.apply(args=[conversation.pk])
    assert parrot_server.signals == [(f"/api/v1/chat/{CHAT}/read", {})]


def test_an_inbox_can_keep_read_receipts_to_itself(parrot, conversation, owner):
    parrot.settings = {"mark_read": False}
    parrot.save(update_fields=["settings"])
    conversation.refresh_from_db()

    from inbox.actions.provider_signals import do_relay_read

    assert not do_relay_read(conversation)
    assert do_mark_read(conversation, owner)
