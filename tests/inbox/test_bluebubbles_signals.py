"""Typing and reading both ways through BlueBubbles: the contact's typing reaches an open
inbox page over a real websocket, their read receipt (``dateRead``) moves the ticks; an agent's
typing and opening the conversation reach the fake server (real Celery task code)."""

import pytest
from asgiref.sync import sync_to_async
from django.core.cache import cache

from inbox.actions.provider_signals import do_relay_agent_typing
from inbox.actions.send import do_send_message
from inbox.models import Message
from inbox.tasks.provider_signals import mark_read_task, send_typing_task
from tests.fakes.bluebubbles import fixture
from tests.inbox.bluebubbles_helpers import (
    deliver_all,
    post,
)
from tests.inbox.test_realtime import collect, report
from tests.sockets import socket

CHAT = "iMessage;-;+14155550111"
CHAT_PATH = "/api/v1/chat/iMessage%3B-%3B%2B14155550111"
HTML = "/ws/?format=html"


@pytest.fixture
def conversation(bb_inbox):
    post(bb_inbox, fixture("new_message"))
    return Message.objects.get(inbox=bb_inbox).conversation


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("private_channel_prefix")
async def test_the_contacts_typing_reaches_the_open_conversation(
    bb_inbox, conversation, owner, signed_in
):
    async with socket(await sync_to_async(signed_in)(owner), path=HTML) as page:
        await report(page, conversation=conversation.pk)
        response = await sync_to_async(post)(bb_inbox, fixture("typing_indicator"))
        assert response.status_code == 200
        html = await collect(page, until='id="contact-typing"')
        assert "is typing…" in html

        stopped = fixture("typing_indicator")
        stopped["data"]["display"] = False
        await sync_to_async(post)(bb_inbox, stopped)
        html = await collect(page, until='id="contact-typing"')
        assert "is typing" not in html


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("private_channel_prefix")
async def test_the_contacts_read_receipt_moves_the_ticks_on_the_open_page(
    bb_inbox, bb_server, conversation, owner, signed_in, tenant
):
    def send_reply() -> Message:
        return deliver_all(do_send_message(tenant, conversation=conversation, body="Ready"))

    message = await sync_to_async(send_reply)()
    [sent] = bb_server.sent
    async with socket(await sync_to_async(signed_in)(owner), path=HTML) as page:
        await report(page, conversation=conversation.pk)
        await sync_to_async(post)(
            bb_inbox, bb_server.updated(sent, dateDelivered=1767225662000, isDelivered=True)
        )
        html = await collect(page, until=f'id="msg-{message.pk}-status"')
        assert "tick-delivered" in html
        await sync_to_async(post)(bb_inbox, bb_server.updated(sent, dateRead=1767225700000))
        html = await collect(page, until=f'id="msg-{message.pk}-status"')
        assert "tick-read" in html
    await sync_to_async(message.refresh_from_db)()
    assert message.status == Message.Status.READ


@pytest.mark.django_db
def test_an_agents_typing_reaches_the_server_when_it_has_the_private_api(conversation, bb_server):
    assert do_relay_agent_typing(conversation, active=True)
    assert not do_relay_agent_typing(conversation, active=True)  # seconds later: not again

    assert send_typing_task.apply(args=[conversation.pk, True]).get()

    assert ("POST", f"{CHAT_PATH}/typing") in [(m, p) for m, p, _ in bb_server.requests]


@pytest.mark.django_db
def test_without_the_private_api_typing_is_not_attempted(conversation, bb_server):
    bb_server.private_api = False
    cache.clear()

    assert not send_typing_task.apply(args=[conversation.pk, True]).get()

    assert not [p for p in bb_server.paths() if p.endswith("/typing")]


@pytest.mark.django_db
def test_opening_the_conversation_marks_the_chat_read(
    conversation, bb_server, owner, login, django_capture_on_commit_callbacks
):
    client = login(owner)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        client.get(f"/inbox/c/{conversation.pk}/")
    assert [c for c in queued if "mark_read_task" in c.__code__.co_freevars]

    assert mark_read_task.apply(args=[conversation.pk]).get()
    assert ("POST", f"{CHAT_PATH}/read") in [(m, p) for m, p, _ in bb_server.requests]


@pytest.mark.django_db
def test_an_admin_turns_read_receipts_off_in_the_channel_settings(
    bb_inbox, conversation, owner, login
):
    from inbox.actions.provider_signals import do_relay_read
    from omnichannel.models import AuditEvent

    client = login(owner)
    page = client.get(f"/settings/channels/{bb_inbox.pk}/").content.decode()
    assert 'name="mark_read"' in page and "checked> Send read receipts" in page

    client.post(
        f"/settings/channels/{bb_inbox.pk}/edit/",
        {"name": bb_inbox.name, "is_active": "on", "mark_read_shown": "1"},
    )

    bb_inbox.refresh_from_db()
    assert bb_inbox.settings["mark_read"] is False
    conversation.refresh_from_db()
    assert not do_relay_read(conversation)
    assert AuditEvent.objects.filter(action=AuditEvent.Action.INBOX_CHANGED).exists()
