"""Evolution webhooks against the documented payload shapes: inbound text (deduped on
``key.id``, ``pushName`` naming the new contact), media fetched through the base64 route,
groups, messages typed on the phone, reactions, and the secret: missing, wrong, or another
tenant's inbox or instance."""

import pytest

from contacts.models import Contact
from inbox.models import Attachment, Conversation, Message
from inbox.tasks.webhooks import fetch_attachment_task
from omnichannel.models import WebhookEvent
from tests.fakes import evolution
from tests.fakes.evolution import fixture
from tests.inbox.evolution_helpers import CONTACT, make_evo_inbox, post

pytestmark = pytest.mark.django_db


def test_an_inbound_message_is_stored_once_and_names_the_new_contact(evo_inbox, evo_server):
    assert post(evo_server, fixture("messages_upsert_text")).status_code == 200
    assert post(evo_server, fixture("messages_upsert_text")).status_code == 200  # a retry

    message = Message.objects.get(inbox=evo_inbox)
    assert (message.direction, message.body) == ("in", "Oi, quero um orçamento")
    assert message.external_id == "3EB0C4A1B2C3D4E5F6"
    assert message.created_at.timestamp() == 1767225600
    contact = message.conversation.contact
    assert (contact.phone, contact.name) == (CONTACT, "Maria")
    assert message.conversation.external_thread_id == "5511999999999@s.whatsapp.net"
    event = WebhookEvent.objects.filter(inbox=evo_inbox, kind="messages.upsert").first()
    assert event.external_id == "3EB0C4A1B2C3D4E5F6"
    # The secret header is journaled masked.
    assert event.headers["X-Centro-Webhook-Secret"] == "***"


def test_push_name_does_not_rename_a_named_contact(tenant, evo_inbox, evo_server):
    Contact.objects.create(tenant=tenant, phone=CONTACT, name="Maria Souza")
    post(evo_server, fixture("messages_upsert_text"))
    assert Contact.objects.get(tenant=tenant, phone=CONTACT).name == "Maria Souza"


def test_media_is_fetched_through_the_base64_route(evo_inbox, evo_server):
    evo_server.media["3EB0IMAGE0000000001"] = (b"\xff\xd8jpeg-bytes", "image/jpeg")

    post(evo_server, fixture("messages_upsert_image"))

    message = Message.objects.get(inbox=evo_inbox)
    assert message.body == "A foto do pedido"
    attachment = message.attachments.get()
    assert attachment.status == Attachment.Status.PENDING
    assert fetch_attachment_task.apply(args=[attachment.pk]).get() == "stored"
    attachment.refresh_from_db()
    assert attachment.file.read() == b"\xff\xd8jpeg-bytes"
    assert attachment.content_type == "image/jpeg"
    [(_, path, body)] = [r for r in evo_server.requests if "getBase64" in r[1]]
    assert path == "/chat/getBase64FromMediaMessage/acme"
    assert body["message"] == {"key": {"id": "3EB0IMAGE0000000001"}}


def test_media_evolution_no_longer_has_fails_the_attachment_not_the_message(evo_inbox, evo_server):
    post(evo_server, fixture("messages_upsert_image"))

    attachment = Attachment.objects.get(message__inbox=evo_inbox)
    fetch_attachment_task.apply(args=[attachment.pk])
    attachment.refresh_from_db()
    assert attachment.status == Attachment.Status.FAILED
    assert Message.objects.filter(inbox=evo_inbox).count() == 1


def test_media_in_the_payload_is_stored_without_a_fetch(evo_inbox, evo_server):
    payload = fixture("messages_upsert_image")
    payload["data"]["message"]["base64"] = "/9hqcGVn"

    post(evo_server, payload)

    attachment = Attachment.objects.get(message__inbox=evo_inbox)
    assert attachment.status == Attachment.Status.STORED
    assert attachment.file.read() == b"\xff\xd8jpeg"
    assert not [r for r in evo_server.requests if "getBase64" in r[1]]


def test_a_group_message_is_a_group_conversation_with_its_members(evo_inbox, evo_server):
    evo_server.groups["120363041234567890@g.us"] = {
        "id": "120363041234567890@g.us",
        "subject": "Viagem Lisboa",
        "size": 3,
        "participants": [
            {"id": "5511977777777@s.whatsapp.net", "admin": "superadmin"},
            {"id": "5511999999999@s.whatsapp.net", "admin": None},
            {"id": "5511988888888@s.whatsapp.net", "admin": None},
        ],
    }

    assert post(evo_server, fixture("messages_upsert_group")).status_code == 200
    second = fixture("messages_upsert_group")
    second["data"]["key"].update(
        id="3EB0GROUP000000002", participant="5511999999999@s.whatsapp.net"
    )
    second["data"]["pushName"] = "Maria"
    post(evo_server, second)

    conversation = Conversation.objects.get(inbox=evo_inbox)
    assert conversation.external_thread_id == "120363041234567890@g.us"
    assert conversation.subject.startswith("Viagem Lisboa")
    assert conversation.participants == ["+5511977777777", "+5511999999999", "+5511988888888"]
    first, reply = conversation.messages.order_by("id")
    assert first.body == "Bom dia, pessoal" and first.conversation.contact.name == "João"
    assert reply.metadata["group_sender"] == "Maria"
    # The group info was asked once (cached), with the group's JID.
    asked = [q for _, path, q in evo_server.requests if "findGroupInfos" in path]
    assert asked == [{"groupJid": "120363041234567890@g.us"}]


def test_a_message_typed_on_the_phone_appears_as_outbound(evo_inbox, evo_server):
    post(evo_server, fixture("messages_upsert_text"))

    typed = evo_server.from_phone("5511999999999", "Já te respondo")
    post(evo_server, typed)
    post(evo_server, typed)

    message = Message.objects.get(inbox=evo_inbox, direction="out")
    assert (message.body, message.sender_type) == ("Já te respondo", "agent")
    assert message.metadata["from_device"] is True
    assert message.external_id == typed["data"]["key"]["id"]


def test_a_reaction_shows_on_the_message(evo_inbox, evo_server):
    post(evo_server, fixture("messages_upsert_text"))
    reaction = fixture("messages_upsert_text")
    reaction["data"]["key"]["id"] = "3EB0REACTION000001"
    reaction["data"]["messageType"] = "reactionMessage"
    reaction["data"]["message"] = {
        "reactionMessage": {
            "key": {
                "remoteJid": "5511999999999@s.whatsapp.net",
                "fromMe": False,
                "id": "3EB0C4A1B2C3D4E5F6",
            },
            "text": "👍",
        }
    }

    post(evo_server, reaction)

    message = Message.objects.get(inbox=evo_inbox)
    assert message.metadata["reactions"] == {CONTACT: "👍"}


def test_a_missing_or_wrong_secret_is_refused_and_nothing_stored(evo_inbox, evo_server):
    assert post(evo_server, fixture("messages_upsert_text"), headers={}).status_code == 403
    wrong = {"X-Centro-Webhook-Secret": "guess"}
    assert post(evo_server, fixture("messages_upsert_text"), headers=wrong).status_code == 403

    assert not Message.objects.filter(inbox=evo_inbox).exists()
    assert not WebhookEvent.objects.filter(inbox=evo_inbox).exists()


def test_another_tenants_secret_or_instance_cannot_post_into_this_inbox(
    evo_inbox, evo_server, other_tenant
):
    other_server = evolution.start(instance="globex")
    try:
        other = make_evo_inbox(other_tenant, other_server)
        other_headers = {"X-Centro-Webhook-Secret": other.get_credentials()["webhook_secret"]}
        # Their secret on our URL.
        assert (
            post(evo_server, fixture("messages_upsert_text"), headers=other_headers).status_code
            == 403
        )
        # Our secret but another instance's payload.
        foreign = fixture("messages_upsert_text")
        foreign["instance"] = "globex"
        assert post(evo_server, foreign).status_code == 403
        # Our secret on their URL.
        their_url = f"http://testserver/webhooks/evolution/{other.webhook_token}/events/"
        assert post(evo_server, fixture("messages_upsert_text"), url=their_url).status_code == 403
    finally:
        other_server.shutdown()
        other_server.server_close()

    assert not Message.objects.exists()


def test_an_unusable_payload_is_a_clear_400(evo_inbox, evo_server):
    response = post(evo_server, {"instance": "acme", "data": {}})
    assert response.status_code == 400
    broken = fixture("messages_upsert_text")
    del broken["data"]["key"]
    assert post(evo_server, broken).status_code == 400
    assert not Message.objects.filter(inbox=evo_inbox).exists()


def test_acks_of_messages_the_inbox_never_sent_change_nothing(evo_inbox, evo_server):
    post(evo_server, fixture("messages_upsert_text"))
    unknown = fixture("messages_update")
    unknown["data"]["keyId"] = "3EB0SENTELSEWHERE01"
    ours = fixture("messages_update")  # the contact's message, read on our phone
    ours["data"]["fromMe"] = False

    assert post(evo_server, unknown).status_code == 200
    assert post(evo_server, ours).status_code == 200

    message = Message.objects.get(inbox=evo_inbox)
    assert message.status == Message.Status.RECEIVED
    events = WebhookEvent.objects.filter(inbox=evo_inbox, kind="messages.update")
    # The unknown one waits for the journal sweep (the send may still be being recorded).
    assert sorted(events.values_list("state", "error")) == [
        (
            "pending",
            "No delivery has id 3EB0SENTELSEWHERE01 yet (sent outside Centro, or the "
            "send is still being recorded).",
        ),
        ("processed", "An update of a message the inbox does not track."),
    ]
