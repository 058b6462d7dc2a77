"""BlueBubbles webhooks against the documented payload shapes: inbound text and media, our own
sends echoed back, messages sent from the Mac, typing, tapbacks, edits, groups, the secret."""

import pytest
from django.core.cache import cache

from inbox.actions.send import do_send_message
from inbox.models import Attachment, Conversation, Delivery, Message
from inbox.tasks.webhooks import fetch_attachment_task
from omnichannel.models import WebhookEvent
from tests.fakes.bluebubbles import fixture
from tests.inbox.bluebubbles_helpers import (
    CONTACT,
    deliver_all,
    make_bb_inbox,
    post,
)

pytestmark = pytest.mark.django_db


def test_an_inbound_imessage_is_stored_in_the_contacts_conversation(bb_inbox):
    response = post(bb_inbox, fixture("new_message"))

    assert response.status_code == 200
    message = Message.objects.get(inbox=bb_inbox)
    assert (message.direction, message.body) == ("in", "Hi, is my order ready?")
    assert message.external_id == "5B3F9C1E-2A4D-4F7B-9E1C-7A2B3C4D5E6F"
    assert message.conversation.contact.phone == CONTACT
    # Replies are addressed to the chat GUID exactly as the server gave it.
    assert message.conversation.external_thread_id == "iMessage;-;+14155550111"
    assert post(bb_inbox, fixture("new_message")).status_code == 200
    assert Message.objects.filter(inbox=bb_inbox).count() == 1


def test_an_apple_id_email_handle_is_a_contact_by_email(bb_inbox):
    payload = fixture("new_message")
    payload["data"]["handle"]["address"] = "Ana.Garcia@icloud.com"
    payload["data"]["chats"][0].update(
        guid="iMessage;-;ana.garcia@icloud.com", chatIdentifier="ana.garcia@icloud.com"
    )

    assert post(bb_inbox, payload).status_code == 200

    message = Message.objects.get(inbox=bb_inbox)
    assert message.conversation.contact.email == "ana.garcia@icloud.com"
    assert message.conversation.external_thread_id == "iMessage;-;ana.garcia@icloud.com"


def test_an_inbound_attachment_is_fetched_with_the_server_password(bb_inbox, bb_server):
    bb_server.attachments["at_0_8C1D2E3F-PHOTO"] = (b"\xff\xd8jpeg-bytes", "image/jpeg")

    post(bb_inbox, fixture("new_message_attachment"))

    message = Message.objects.get(inbox=bb_inbox)
    assert message.body == ""  # the object-replacement character is not text
    attachment = message.attachments.get()
    assert attachment.filename == "IMG_1234.jpeg"
    assert "password" not in attachment.remote_url
    assert fetch_attachment_task.apply(args=[attachment.pk]).get() == "stored"
    attachment.refresh_from_db()
    assert attachment.status == Attachment.Status.STORED
    assert attachment.file.read() == b"\xff\xd8jpeg-bytes"
    [(_, _, query)] = [r for r in bb_server.requests if "attachment" in r[1]]
    assert query["password"] == bb_server.password


def test_our_send_echoed_back_is_stored_once_and_moves_forward(tenant, bb_inbox, bb_server):
    post(bb_inbox, fixture("new_message"))
    conversation = Conversation.objects.get(inbox=bb_inbox)
    message = deliver_all(do_send_message(tenant, conversation=conversation, body="It is ready"))

    [sent] = bb_server.sent
    delivery = message.deliveries.get()
    assert sent["tempGuid"] == delivery.client_ref and sent["chats"][0]["guid"] == (
        "iMessage;-;+14155550111"
    )
    assert (delivery.status, delivery.provider_message_id) == ("sent", sent["guid"])
    # The plain copy and the tempGuid copy, in either order, then delivered and read.
    assert post(bb_inbox, bb_server.echo(sent, with_temp_guid=False)).status_code == 200
    assert post(bb_inbox, bb_server.echo(sent)).status_code == 200
    post(bb_inbox, bb_server.updated(sent, dateDelivered=1767225662000, isDelivered=True))
    post(bb_inbox, bb_server.updated(sent, dateRead=1767225700000, isDelivered=True))
    post(bb_inbox, bb_server.updated(sent, dateDelivered=1767225662000, isDelivered=True))

    assert Message.objects.filter(inbox=bb_inbox, direction="out").count() == 1
    message.refresh_from_db()
    assert message.status == Message.Status.READ


def test_an_echo_that_beats_the_send_answer_binds_by_temp_guid(tenant, bb_inbox, bb_server):
    post(bb_inbox, fixture("new_message"))
    conversation = Conversation.objects.get(inbox=bb_inbox)
    message = do_send_message(tenant, conversation=conversation, body="On its way")
    delivery = message.deliveries.get()
    Delivery.objects.filter(pk=delivery.pk).update(status="sending", client_ref="temp-abc")
    echo = fixture("new_message")
    echo["data"].update(
        guid="ECHO-1", isFromMe=True, tempGuid="temp-abc", text="On its way", isDelivered=False
    )

    post(bb_inbox, echo)

    delivery.refresh_from_db()
    assert (delivery.provider_message_id, delivery.status) == ("ECHO-1", "sent")
    assert Message.objects.filter(inbox=bb_inbox, direction="out").count() == 1


def test_the_plain_copy_of_a_send_in_flight_is_matched_by_its_text(tenant, bb_inbox):
    post(bb_inbox, fixture("new_message"))
    conversation = Conversation.objects.get(inbox=bb_inbox)
    message = do_send_message(tenant, conversation=conversation, body="On its way")
    delivery = message.deliveries.get()
    Delivery.objects.filter(pk=delivery.pk).update(status="sending", client_ref="temp-abc")
    plain = fixture("new_message")
    plain["data"].update(guid="ECHO-2", isFromMe=True, text="On its way", isDelivered=False)

    post(bb_inbox, plain)
    post(bb_inbox, {**plain, "data": {**plain["data"], "tempGuid": "temp-abc"}})

    delivery.refresh_from_db()
    assert (delivery.provider_message_id, delivery.status) == ("ECHO-2", "sent")
    assert Message.objects.filter(inbox=bb_inbox, direction="out").count() == 1


def test_a_message_sent_from_the_mac_appears_as_outbound(bb_inbox):
    post(bb_inbox, fixture("new_message"))
    from_mac = fixture("new_message")
    from_mac["data"].update(guid="MAC-1", isFromMe=True, text="Typed on the Mac", isDelivered=False)

    post(bb_inbox, from_mac)
    post(bb_inbox, from_mac)
    updated = fixture("new_message")
    del updated["data"]["chats"]
    updated["type"] = "updated-message"
    updated["data"].update(guid="MAC-1", isFromMe=True, dateDelivered=1767225662000)
    post(bb_inbox, updated)

    message = Message.objects.get(inbox=bb_inbox, direction="out")
    assert message.body == "Typed on the Mac" and message.metadata["from_device"]
    assert message.conversation == Conversation.objects.get(inbox=bb_inbox)
    assert message.status == Message.Status.DELIVERED


def test_an_update_of_a_received_message_never_stores_it_again(bb_inbox):
    post(bb_inbox, fixture("new_message"))
    update = fixture("new_message")
    update["type"] = "updated-message"
    del update["data"]["chats"]
    update["data"]["dateRead"] = 1767225700000

    assert post(bb_inbox, update).status_code == 200
    assert Message.objects.filter(inbox=bb_inbox).count() == 1


def test_a_tapback_shows_on_its_message_not_as_new_text(bb_inbox):
    post(bb_inbox, fixture("new_message"))

    post(bb_inbox, fixture("new_message_reaction"))

    [message] = Message.objects.filter(inbox=bb_inbox)
    assert message.metadata["reactions"] == {CONTACT: "❤️"}
    removal = fixture("new_message_reaction")
    removal["data"].update(guid="REMOVED-1", associatedMessageType="-love")
    post(bb_inbox, removal)
    message.refresh_from_db()
    assert message.metadata["reactions"] == {}


def test_edits_and_unsends_are_reflected(bb_inbox):
    post(bb_inbox, fixture("new_message"))

    post(bb_inbox, fixture("updated_message_edited"))
    message = Message.objects.get(inbox=bb_inbox)
    assert message.body == "Hi, is my order ready? (the blue one)"
    assert message.metadata["original_body"] == "Hi, is my order ready?"

    post(bb_inbox, fixture("updated_message_unsent"))
    message.refresh_from_db()
    assert message.metadata["unsent"] is True


def test_a_group_chat_is_one_conversation_with_every_participant(tenant, bb_inbox, bb_server):
    post(bb_inbox, fixture("new_message"))  # the first member's own chat stays apart
    post(bb_inbox, fixture("new_message_group"))
    second = fixture("new_message_group")
    second["data"].update(guid="GROUP-2", text="I am!", handle={"address": CONTACT})
    post(bb_inbox, second)

    group = Conversation.objects.get(inbox=bb_inbox, external_thread_id__contains=";+;")
    assert group.messages.count() == 2
    assert group.participants == ["+14155550111", "+14155550122", "+14155550133"]
    assert "Party planning" in group.subject
    assert Conversation.objects.filter(inbox=bb_inbox).count() == 2
    reply = deliver_all(do_send_message(tenant, conversation=group, body="Me too"))
    assert reply.status == "sent"
    assert bb_server.sent[-1]["chats"][0]["guid"] == "iMessage;+;chat123456789012345678"


def test_our_own_chat_read_is_not_taken_for_the_contacts_read_receipt(tenant, bb_inbox, bb_server):
    post(bb_inbox, fixture("new_message"))
    conversation = Conversation.objects.get(inbox=bb_inbox)
    message = deliver_all(do_send_message(tenant, conversation=conversation, body="Ready"))

    assert post(bb_inbox, fixture("chat_read_status_changed")).status_code == 200

    message.refresh_from_db()
    assert message.status == Message.Status.SENT


@pytest.mark.parametrize("query", ["", "?password=wrong"])
def test_a_missing_or_bad_password_is_refused_and_nothing_is_stored(tenant, bb_server, query):
    cache.clear()
    inbox = make_bb_inbox(tenant, bb_server, webhook_password=True)

    response = post(inbox, fixture("new_message"), query=query)

    assert response.status_code == 403
    assert not Message.objects.filter(inbox=inbox).exists()
    assert not WebhookEvent.objects.filter(inbox=inbox).exists()


def test_the_server_password_in_the_url_is_accepted_and_never_journaled(tenant, bb_server):
    inbox = make_bb_inbox(tenant, bb_server, webhook_password=True)

    response = post(inbox, fixture("new_message"), query=f"?password={bb_server.password}")

    assert response.status_code == 200
    assert Message.objects.filter(inbox=inbox).count() == 1
    event = WebhookEvent.objects.get(inbox=inbox)
    assert bb_server.password not in event.url and "password=***" in event.url


def test_a_wrong_token_finds_no_inbox_and_stores_nothing(bb_inbox):
    response = post(bb_inbox, fixture("new_message"), token="not-a-token")

    assert response.status_code == 404
    assert not Message.objects.exists()


def test_another_tenants_token_cannot_write_into_this_inbox(bb_inbox, other_tenant, bb_server):
    theirs = make_bb_inbox(other_tenant, bb_server)
    theirs.address = "+14155550199"

    post(theirs, fixture("new_message"))

    assert not Message.objects.filter(inbox=bb_inbox).exists()
    assert Message.objects.get().inbox == theirs
    assert Message.objects.get().tenant == other_tenant
