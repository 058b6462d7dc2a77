"""Sending through BlueBubbles against the fake server: the first message opens the chat
with the address, replies go to the chat GUID as received, files go as attachments, errors
are sorted into permanent and retryable, and "test connection" reads the server's info."""

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from inbox.actions.inboxes import schema_for
from inbox.actions.send import do_send_message
from inbox.models import Attachment, Conversation, Message
from omnichannel.actions import ActionError
from omnichannel.channels import Channel
from tests.fakes.bluebubbles import fixture
from tests.inbox.bluebubbles_helpers import CONTACT, deliver_all, post

pytestmark = pytest.mark.django_db


def test_a_first_message_opens_the_chat_and_its_echo_names_the_thread(tenant, bb_inbox, bb_server):
    message = deliver_all(do_send_message(tenant, inbox=bb_inbox, to=CONTACT, body="Hello"))

    [(_, _, body)] = [r for r in bb_server.requests if r[1] == "/api/v1/chat/new"]
    assert body["addresses"] == [CONTACT] and body["message"] == "Hello"
    delivery = message.deliveries.get()
    assert body["tempGuid"] == delivery.client_ref
    assert delivery.status == "sent" and delivery.provider_message_id
    post(bb_inbox, bb_server.echo(bb_server.sent[0]))
    # The chat GUID came in the send's answer only; the contact's next message names it.
    post(bb_inbox, fixture("new_message"))
    conversation = Conversation.objects.get(inbox=bb_inbox)
    assert conversation.external_thread_id == "iMessage;-;+14155550111"
    assert conversation.messages.count() == 2


def test_files_go_as_attachments_with_their_own_temp_guids(tenant, bb_inbox, bb_server):
    post(bb_inbox, fixture("new_message"))
    conversation = Conversation.objects.get(inbox=bb_inbox)
    path = default_storage.save("tests/receipt.pdf", ContentFile(b"%PDF-1.4 receipt"))
    message = do_send_message(
        tenant, conversation=conversation, body="Your receipt", media_urls=["https://x.test/l"]
    )
    Attachment.objects.create(
        tenant=tenant,
        message=message,
        file=path,
        filename="receipt.pdf",
        content_type="application/pdf",
        status=Attachment.Status.STORED,
    )

    deliver_all(message)

    text, attachment = bb_server.sent
    assert text["text"] == "Your receipt"  # the public link is not sent as text
    delivery = message.deliveries.get()
    [(_, _, form)] = [r for r in bb_server.requests if r[1] == "/api/v1/message/attachment"]
    assert form["attachment"] == ("receipt.pdf", b"%PDF-1.4 receipt")
    assert form["tempGuid"] == f"{delivery.client_ref}.1"
    assert form["chatGuid"] == "iMessage;-;+14155550111"
    # The attachment's echo is part of the same send: nothing new is stored.
    post(bb_inbox, bb_server.echo({**attachment, "tempGuid": form["tempGuid"]}))
    assert Message.objects.filter(inbox=bb_inbox, direction="out").count() == 1


def test_a_wrong_server_password_fails_the_send_for_good(tenant, bb_inbox, bb_server):
    post(bb_inbox, fixture("new_message"))
    conversation = Conversation.objects.get(inbox=bb_inbox)
    bb_server.password = "rotated"

    message = deliver_all(do_send_message(tenant, conversation=conversation, body="Hi"))

    assert message.status == Message.Status.FAILED
    assert "password" in message.error_message


def test_an_agent_can_send_one_message_by_sms(
    tenant, bb_inbox, bb_server, twilio_inbox, fake_twilio, owner, login
):
    sms = twilio_inbox(tenant, kind=Channel.SMS)
    post(bb_inbox, fixture("new_message"))
    conversation = Conversation.objects.get(inbox=bb_inbox)
    client = login(owner)
    page = client.get(f"/inbox/c/{conversation.pk}/").content.decode()
    assert "force_fallback" not in page  # no fallback inbox yet
    bb_inbox.fallback_inbox = sms
    bb_inbox.save(update_fields=["fallback_inbox"])
    assert 'name="force_fallback"' in client.get(f"/inbox/c/{conversation.pk}/").content.decode()

    response = client.post(
        f"/inbox/c/{conversation.pk}/messages/",
        {"mode": "reply", "body": "By SMS please", "force_fallback": "1"},
    )

    assert response.status_code in (200, 302)
    message = Message.objects.get(inbox=bb_inbox, direction="out")
    deliver_all(message)
    delivery = message.deliveries.get()
    assert (delivery.inbox, delivery.status) == (sms, "sent")
    assert not bb_server.sent and len(fake_twilio.sent) == 1
    assert message.metadata["fallback"]["reason"] == "chosen by the agent for this message"


def test_forcing_sms_without_a_fallback_inbox_is_refused(tenant, bb_inbox):
    post(bb_inbox, fixture("new_message"))
    conversation = Conversation.objects.get(inbox=bb_inbox)

    with pytest.raises(ActionError, match="no active fallback inbox"):
        do_send_message(tenant, conversation=conversation, body="Hi", force_fallback=True)


def test_test_connection_reads_the_server_info(bb_inbox, bb_server):
    check = schema_for("bluebubbles").test_connection(bb_inbox)
    assert check.ok and "1.9.9" in check.detail and "Private API is connected" in check.detail

    bb_server.password = "rotated"
    check = schema_for("bluebubbles").test_connection(bb_inbox)
    assert not check.ok and "password" in check.detail


def test_the_settings_are_checked(tenant):
    schema = schema_for("bluebubbles")
    with pytest.raises(ActionError, match="password is required"):
        schema.clean({"server_url": "http://127.0.0.1:1234"})
    with pytest.raises(ActionError, match="Unknown BlueBubbles setting"):
        schema.clean({"server_url": "http://127.0.0.1:1234", "password": "x", "token": "y"})
    cleaned = schema.clean(
        {"server_url": "http://127.0.0.1:1234/", "password": " pw ", "webhook_password": "true"}
    )
    assert cleaned == {
        "server_url": "http://127.0.0.1:1234",
        "password": "pw",
        "webhook_password": True,
    }


def test_an_unanswered_send_is_never_retried(tenant, bb_inbox, bb_server):
    post(bb_inbox, fixture("new_message"))
    conversation = Conversation.objects.get(inbox=bb_inbox)
    bb_server.down = True  # 500 "Server Error": the Mac may or may not have sent it

    message = deliver_all(do_send_message(tenant, conversation=conversation, body="Hi"))

    assert message.status == Message.Status.FAILED
    assert "may or may not have gone out" in message.error_message
    assert bb_server.paths("POST").count("/api/v1/message/text") == 1
    assert message.deliveries.get().attempts == 1


def test_without_the_private_api_a_first_message_is_tried_by_imessage(tenant, bb_inbox, bb_server):
    bb_server.private_api = False

    message = deliver_all(do_send_message(tenant, inbox=bb_inbox, to=CONTACT, body="Hello"))

    assert message.status == Message.Status.SENT
    assert "/api/v1/handle/availability/imessage" not in bb_server.paths()
    assert "/api/v1/chat/new" in bb_server.paths("POST")


def test_the_message_query_route_lists_what_the_server_recorded_since(tenant, bb_inbox, bb_server):
    from datetime import UTC, datetime

    from inbox.providers import get_provider

    deliver_all(do_send_message(tenant, inbox=bb_inbox, to=CONTACT, body="Hello"))

    found = get_provider(bb_inbox).query_messages(after=datetime(2020, 1, 1, tzinfo=UTC))

    assert [m["text"] for m in found] == ["Hello"]
    [(_, _, body)] = [r for r in bb_server.requests if r[1] == "/api/v1/message/query"]
    assert body["sort"] == "ASC" and body["after"] == 1577836800000


def test_it_is_connected_in_settings_channels(bb_inbox, bb_server, owner, login):
    from inbox.actions.inboxes import webhook_urls

    client = login(owner)
    connect = client.get("/settings/channels/connect/").content.decode()
    detail = client.get(f"/settings/channels/{bb_inbox.pk}/").content.decode()

    assert "?provider=bluebubbles&amp;kind=imessage" in connect
    assert "Server URL" in detail and "Webhooks carry the server password" in detail
    assert webhook_urls(bb_inbox)["events"] in detail
    assert bb_server.password not in detail  # write-only


def test_the_api_sends_one_reply_by_the_fallback(
    tenant, bb_inbox, bb_server, twilio_inbox, fake_twilio
):
    from django.test import Client

    from tests.inbox.api_factories import bearer, token_for

    post(bb_inbox, fixture("new_message"))
    conversation = Conversation.objects.get(inbox=bb_inbox)
    headers = bearer(token_for(tenant))
    url = f"/api/v1/conversations/{conversation.pk}/messages"
    refused = Client().post(
        url, {"body": "Hi", "by_fallback": True}, content_type="application/json", **headers
    )
    assert refused.status_code == 400 and "fallback" in refused.json()["error"]["message"]
    bb_inbox.fallback_inbox = twilio_inbox(tenant, kind=Channel.SMS)
    bb_inbox.save(update_fields=["fallback_inbox"])

    response = Client().post(
        url, {"body": "Hi", "by_fallback": True}, content_type="application/json", **headers
    )

    assert response.status_code in (200, 201), response.content
    message = deliver_all(Message.objects.get(pk=response.json()["id"]))
    assert message.deliveries.get().inbox == bb_inbox.fallback_inbox
    assert len(fake_twilio.sent) == 1 and not bb_server.sent
