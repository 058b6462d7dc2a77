"""Deleting a conversation (``conversations.delete``): the header's confirmed button (htmx and
plain forms), ``DELETE /api/v1/conversations/{id}``, the audit row, and other agents' pages."""

import pytest
from asgiref.sync import sync_to_async
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction

from inbox.actions.conversations import do_delete_conversation
from inbox.actions.labels import do_label_conversation
from inbox.actions.read_state import do_mark_read
from inbox.models import Attachment, Conversation, ConversationLabel, Delivery, Message, ReadState
from omnichannel.channels import Channel
from omnichannel.labels import do_create_label
from omnichannel.models import AuditEvent
from tests.inbox.api_factories import (
    assert_error,
    bearer,
    make_contact,
    make_conversation,
    make_inbox,
    make_message,
    token_for,
)
from tests.inbox.webhook_helpers import receive
from tests.sockets import socket

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}
DELETED = AuditEvent.Action.CONVERSATION_DELETED


@pytest.fixture
def full_conversation(tenant, owner):
    """A conversation with an inbound message, a reply (with its delivery), an attachment
    with its file, a read state and a label."""
    inbox = make_inbox(tenant)
    conversation = make_conversation(inbox, make_contact(tenant, name="Ana"))
    inbound = make_message(conversation, direction="in", body="Hola")
    make_message(conversation, direction="out", body="¡Hola!")
    attachment = Attachment(tenant=tenant, message=inbound, content_type="image/png")
    attachment.file.save("photo.png", ContentFile(b"\x89PNG\r\n\x1a\n"), save=False)
    attachment.status = Attachment.Status.STORED
    attachment.save()
    do_mark_read(conversation, owner)
    do_label_conversation(conversation, do_create_label(tenant, name="VIP"))
    return conversation


def _gone(conversation: Conversation) -> None:
    assert not Conversation.objects.filter(pk=conversation.pk).exists()
    assert not Message.objects.filter(conversation_id=conversation.pk).exists()
    assert not Delivery.objects.filter(message__conversation_id=conversation.pk).exists()
    assert not Attachment.objects.filter(message__conversation_id=conversation.pk).exists()
    assert not ReadState.objects.filter(conversation_id=conversation.pk).exists()
    assert not ConversationLabel.objects.filter(conversation_id=conversation.pk).exists()


def test_the_action_deletes_everything_of_the_conversation_and_its_files(
    tenant, full_conversation, django_capture_on_commit_callbacks
):
    path = Attachment.objects.get(message__conversation=full_conversation).file.name
    contact = full_conversation.contact
    assert default_storage.exists(path)
    with django_capture_on_commit_callbacks(execute=True):
        do_delete_conversation(full_conversation)
    _gone(full_conversation)
    assert not default_storage.exists(path)
    contact.refresh_from_db()  # the contact stays
    row = AuditEvent.objects.get(action=DELETED)
    assert row.tenant == tenant and row.target_id == str(full_conversation.pk)
    assert row.data == {
        "inbox": full_conversation.inbox_id,
        "contact": contact.pk,
        "messages": 2,
        "attachments": 1,
    }
    assert "Hola" not in str(row.data) + row.target_repr


def test_the_header_offers_delete_only_to_those_allowed(
    tenant, owner, make_member, login, full_conversation
):
    url = f"/inbox/c/{full_conversation.pk}/"
    assert 'id="action-delete-confirm"' in login(owner).get(url).content.decode()
    agent = make_member(tenant, "agent")
    assert 'id="action-delete-confirm"' not in login(agent).get(url).content.decode()


def test_an_htmx_delete_redirects_to_the_list_and_is_audited(owner, login, full_conversation):
    client = login(owner)
    response = client.post(
        f"/inbox/c/{full_conversation.pk}/delete/",
        {"confirm": "yes", "list": "view=mine"},
        headers=HTMX,
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == "/inbox/?view=mine"
    _gone(full_conversation)
    assert AuditEvent.objects.get(action=DELETED).actor == owner
    assert "The conversation was deleted." in client.get("/inbox/").content.decode()


def test_a_plain_form_delete_works_without_javascript(owner, login, full_conversation):
    response = login(owner).post(f"/inbox/c/{full_conversation.pk}/delete/", {"confirm": "yes"})
    assert response.status_code == 302 and response["Location"] == "/inbox/"
    _gone(full_conversation)


def test_it_asks_for_the_confirmation(owner, login, full_conversation):
    client = login(owner)
    response = client.post(f"/inbox/c/{full_conversation.pk}/delete/", {}, headers=HTMX)
    assert response.status_code == 400
    assert "Tick “Yes, delete this conversation”" in response.content.decode()
    assert Conversation.objects.filter(pk=full_conversation.pk).exists()
    plain = client.post(f"/inbox/c/{full_conversation.pk}/delete/", {})
    assert plain.status_code == 400 and "Tick" in plain.content.decode()
    assert not AuditEvent.objects.filter(action=DELETED).exists()


def test_an_agent_without_the_permission_gets_403(tenant, make_member, login, full_conversation):
    agent = make_member(tenant, "agent")
    response = login(agent).post(
        f"/inbox/c/{full_conversation.pk}/delete/", {"confirm": "yes"}, headers=HTMX
    )
    assert response.status_code == 403
    assert Conversation.objects.filter(pk=full_conversation.pk).exists()
    refusal = AuditEvent.objects.get(action=AuditEvent.Action.PERMISSION_DENIED)
    assert refusal.data["permission"] == "conversations.delete" and refusal.actor == agent


def test_another_tenants_conversation_is_404(other_tenant, owner, login, full_conversation):
    theirs = make_conversation(make_inbox(other_tenant), make_contact(other_tenant))
    response = login(owner).post(f"/inbox/c/{theirs.pk}/delete/", {"confirm": "yes"})
    assert response.status_code == 404
    assert Conversation.objects.filter(pk=theirs.pk).exists()


def test_the_api_deletes_with_204(client, tenant, full_conversation):
    raw = token_for(tenant, "admin")
    response = client.delete(f"/api/v1/conversations/{full_conversation.pk}", **bearer(raw))
    assert response.status_code == 204, response.content
    _gone(full_conversation)
    row = AuditEvent.objects.get(action=DELETED)
    assert row.actor_token.name == "admin token" and row.actor is None
    again = client.delete(f"/api/v1/conversations/{full_conversation.pk}", **bearer(raw))
    assert_error(again, 404, "not_found")


def test_the_api_refuses_without_the_permission_and_across_tenants(
    client, tenant, other_tenant, full_conversation
):
    agent = token_for(tenant, "agent")
    error = assert_error(
        client.delete(f"/api/v1/conversations/{full_conversation.pk}", **bearer(agent)),
        403,
        "forbidden",
    )
    assert error["permission"] == "conversations.delete"
    outsider = token_for(other_tenant, "owner")
    assert_error(
        client.delete(f"/api/v1/conversations/{full_conversation.pk}", **bearer(outsider)),
        404,
        "not_found",
    )
    assert Conversation.objects.filter(pk=full_conversation.pk).exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("private_channel_prefix")
async def test_the_row_leaves_other_agents_lists_and_the_open_thread_says_so(
    tenant, owner, make_member, signed_in, twilio_inbox
):
    inbox = await sync_to_async(twilio_inbox)(tenant, kind=Channel.SMS)
    ana = (await sync_to_async(receive)(inbox, "+14155550111", "Hola")).conversation
    luis = (await sync_to_async(receive)(inbox, "+14155550122", "Buenas")).conversation
    colleague = await sync_to_async(make_member)(tenant, "supervisor")
    looking = await sync_to_async(signed_in)(owner)
    listing = await sync_to_async(signed_in)(colleague)
    async with (
        socket(looking, path="/ws/?format=html") as page,
        socket(listing, path="/ws/?format=html") as other,
    ):
        await _report(page, conversation=ana.pk, rows=[luis.pk, ana.pk])
        await _report(other, rows=[luis.pk, ana.pk])
        await sync_to_async(_delete)(ana)
        seen_by_viewer = await _collect(page, until="This conversation was deleted")
        seen_in_list = await _collect(other, until=f"conv-{ana.pk}")
    assert f'<li id="conv-{ana.pk}" hx-swap-oob="delete"></li>' in seen_by_viewer
    assert 'id="detail"' in seen_by_viewer and 'hx-swap-oob="true"' in seen_by_viewer
    assert f'<li id="conv-{ana.pk}" hx-swap-oob="delete"></li>' in seen_in_list
    assert "This conversation was deleted" not in seen_in_list
    assert f"conv-{luis.pk}" not in seen_in_list


def _delete(conversation: Conversation) -> None:
    with transaction.atomic():
        do_delete_conversation(conversation)


async def _report(communicator, **view) -> None:
    import json

    await communicator.send_to(text_data=json.dumps({"type": "view", "page": "inbox", **view}))
    assert await communicator.receive_nothing(timeout=0.2)


async def _collect(communicator, *, until: str, timeout: float = 3) -> str:
    frames = []
    while True:
        frame = await communicator.receive_from(timeout=timeout)
        frames.append(frame)
        if until in frame:
            return "".join(frames)
