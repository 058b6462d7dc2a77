"""Sending through Evolution against the fake server: text to the number, replies to the chat
JID as received, files as media with the text as caption, audio as a voice note, acks moving
the status forward only (in and out of order), our echoes matched, errors sorted."""

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from inbox.actions.send import do_send_message
from inbox.models import Attachment, Conversation, Message
from tests.fakes.evolution import fixture
from tests.inbox.bluebubbles_helpers import deliver_all
from tests.inbox.evolution_helpers import CONTACT, post

pytestmark = pytest.mark.django_db


def _conversation(inbox, server) -> Conversation:
    post(server, fixture("messages_upsert_text"))
    return Conversation.objects.get(inbox=inbox)


def _attach(tenant, message, name: str, content: bytes, content_type: str) -> None:
    path = default_storage.save(f"tests/{name}", ContentFile(content))
    Attachment.objects.create(
        tenant=tenant,
        message=message,
        file=path,
        filename=name,
        content_type=content_type,
        status=Attachment.Status.STORED,
    )


def test_a_first_message_goes_to_the_number_with_the_api_key(tenant, evo_inbox, evo_server):
    message = deliver_all(do_send_message(tenant, inbox=evo_inbox, to=CONTACT, body="Olá!"))

    [(_, path, body)] = [r for r in evo_server.requests if "sendText" in r[1]]
    assert path == "/message/sendText/acme"
    assert body == {"number": "5511999999999", "text": "Olá!"}
    [record] = evo_server.sent
    delivery = message.deliveries.get()
    assert (delivery.status, delivery.provider_message_id) == ("sent", record["key"]["id"])


def test_acks_move_the_status_forward_only_in_any_order(tenant, evo_inbox, evo_server):
    conversation = _conversation(evo_inbox, evo_server)
    message = deliver_all(do_send_message(tenant, conversation=conversation, body="Pronto"))
    [record] = evo_server.sent
    assert record["request"]["number"] == "5511999999999@s.whatsapp.net"  # the chat's JID

    assert post(evo_server, evo_server.ack(record, "DELIVERY_ACK")).status_code == 200
    message.refresh_from_db()
    assert message.status == Message.Status.DELIVERED
    # Read overtakes a late server ack, which then changes nothing; a repeat is a no-op.
    post(evo_server, evo_server.ack(record, "READ"))
    post(evo_server, evo_server.ack(record, "SERVER_ACK"))
    post(evo_server, evo_server.ack(record, "DELIVERY_ACK"))
    message.refresh_from_db()
    delivery = message.deliveries.get()
    assert message.status == delivery.status == Message.Status.READ
    assert delivery.delivered_at is not None and delivery.read_at is not None


def test_a_played_voice_note_is_read(tenant, evo_inbox, evo_server):
    conversation = _conversation(evo_inbox, evo_server)
    message = do_send_message(
        tenant, conversation=conversation, body="", media_urls=["https://files.test/nota.ogg"]
    )
    _attach(tenant, message, "nota.ogg", b"OggS-voice", "audio/ogg")
    deliver_all(message)

    [(_, _, body)] = [r for r in evo_server.requests if "sendWhatsAppAudio" in r[1]]
    assert not [r for r in evo_server.requests if "sendText" in r[1]]  # the link is the file
    assert body["audio"] == "T2dnUy12b2ljZQ=="  # base64 of the stored file
    post(evo_server, evo_server.ack(evo_server.sent[0], "PLAYED"))
    message.refresh_from_db()
    assert message.status == Message.Status.READ


def test_files_go_as_media_with_the_text_as_caption_and_their_echoes_are_not_new(
    tenant, evo_inbox, evo_server
):
    conversation = _conversation(evo_inbox, evo_server)
    message = do_send_message(tenant, conversation=conversation, body="Seu recibo")
    _attach(tenant, message, "recibo.pdf", b"%PDF-1.4 recibo", "application/pdf")
    _attach(tenant, message, "foto.jpg", b"\xff\xd8jpeg", "image/jpeg")
    _attach(tenant, message, "video.mp4", b"mp4-bytes", "video/mp4")
    deliver_all(message)

    sends = [body for _, path, body in evo_server.requests if "sendMedia" in path]
    assert [(s["mediatype"], s["fileName"], s.get("caption")) for s in sends] == [
        ("document", "recibo.pdf", "Seu recibo"),
        ("image", "foto.jpg", None),
        ("video", "video.mp4", None),
    ]
    assert sends[0]["mimetype"] == "application/pdf" and sends[0]["media"] == "JVBERi0xLjQgcmVjaWJv"
    assert not [r for r in evo_server.requests if "sendText" in r[1]]
    first = evo_server.sent[0]
    assert message.deliveries.get().provider_message_id == first["key"]["id"]
    for record in evo_server.sent:
        post(evo_server, evo_server.echo(record))
        post(evo_server, evo_server.ack(record, "DELIVERY_ACK"))
    assert Message.objects.filter(inbox=evo_inbox, direction="out").count() == 1
    message.refresh_from_db()
    assert message.status == Message.Status.DELIVERED


def test_our_echo_is_matched_never_stored_twice(tenant, evo_inbox, evo_server):
    conversation = _conversation(evo_inbox, evo_server)
    message = deliver_all(do_send_message(tenant, conversation=conversation, body="A caminho"))
    [record] = evo_server.sent

    assert post(evo_server, evo_server.echo(record, "send.message")).status_code == 200
    echo = evo_server.echo(record)
    echo["data"]["status"] = "SERVER_ACK"
    assert post(evo_server, echo).status_code == 200
    assert post(evo_server, echo).status_code == 200  # Evolution retries

    assert Message.objects.filter(inbox=evo_inbox, direction="out").count() == 1
    message.refresh_from_db()
    assert message.status == Message.Status.SENT


def test_an_echo_that_beats_the_send_answer_binds_by_its_text(tenant, evo_inbox, evo_server):
    conversation = _conversation(evo_inbox, evo_server)
    message = do_send_message(tenant, conversation=conversation, body="Em trânsito")
    delivery = message.deliveries.get()
    delivery.status = Message.Status.SENDING
    delivery.save(update_fields=["status"])
    echo = evo_server.from_phone("5511999999999", "Em trânsito")

    post(evo_server, echo)

    delivery.refresh_from_db()
    assert delivery.provider_message_id == echo["data"]["key"]["id"]
    assert Message.objects.filter(inbox=evo_inbox, direction="out").count() == 1


def test_a_number_without_whatsapp_fails_for_good(tenant, evo_inbox, evo_server):
    evo_server.not_on_whatsapp.add("5511977777777")
    message = deliver_all(do_send_message(tenant, inbox=evo_inbox, to="+5511977777777", body="Oi"))

    delivery = message.deliveries.get()
    assert delivery.status == Message.Status.FAILED
    assert "is not on WhatsApp" in delivery.error_message


def test_a_wrong_api_key_fails_the_send_for_good(tenant, evo_inbox, evo_server):
    evo_server.api_key = "rotated"
    message = deliver_all(do_send_message(tenant, inbox=evo_inbox, to=CONTACT, body="Oi"))

    delivery = message.deliveries.get()
    assert (delivery.status, delivery.attempts) == (Message.Status.FAILED, 1)
    assert "API key" in delivery.error_message


def test_the_send_message_copy_of_a_part_not_yet_answered_is_not_a_new_message(
    tenant, evo_inbox, evo_server
):
    _conversation(evo_inbox, evo_server)
    # Evolution posts send.message inside the send call: a second file (no caption to match
    # by) arrives before its send's answer names it.
    part = evo_server.echo(
        {
            "key": {"remoteJid": "5511999999999@s.whatsapp.net", "fromMe": True, "id": "3EB0PART"},
            "status": "PENDING",
            "message": {"imageMessage": {"mimetype": "image/jpeg", "caption": ""}},
            "messageType": "imageMessage",
            "messageTimestamp": 1767225700,
        },
        "send.message",
    )

    assert post(evo_server, part).status_code == 200

    assert not Message.objects.filter(inbox=evo_inbox, direction="out").exists()
