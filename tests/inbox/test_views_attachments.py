"""Files attached to a reply: checked, stored, shown in the thread, and handed to the provider
through signed, expiring links that need no login."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from inbox.actions.send import attempt_delivery
from inbox.actions.uploads import path_for_link
from inbox.models import Attachment, Message
from tests.inbox.api_factories import make_contact, make_conversation, make_message

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
# The smallest valid PNG (one transparent pixel).
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63000100000500010d0a2db40000000049454e44ae426082"
)


@pytest.fixture
def conversation(tenant, sms_inbox):
    conversation = make_conversation(sms_inbox, make_contact(tenant, name="Ana"))
    make_message(conversation, direction="in", body="¿Me mandas el mapa?")
    return conversation


def post(client, conversation, **data):
    return client.post(f"/inbox/c/{conversation.pk}/messages/", data, headers=HTMX)


def test_a_reply_carries_files_to_the_provider_through_signed_links(
    conversation, owner, login, fake_twilio
):
    image = SimpleUploadedFile("mapa.png", PNG, content_type="image/png")
    response = post(login(owner), conversation, body="Aquí está", mode="reply", files=image)

    assert response.status_code == 200, response.content.decode()[:300]
    message = Message.objects.get(body="Aquí está")
    [attachment] = Attachment.objects.filter(message=message)
    assert (attachment.status, attachment.content_type, attachment.filename) == (
        "stored",
        "image/png",
        "mapa.png",
    )
    assert f"/inbox/attachments/{attachment.pk}/" in response.content.decode()  # shown inline
    [link] = message.metadata["media_urls"]
    assert link.startswith("http://testserver/m/")

    # The provider gets the link and can fetch it without a session.
    attempt_delivery(message.deliveries.get().pk)
    [request] = fake_twilio.sent
    assert request.form["MediaUrl"] == [link]
    fetched = Client().get(link.removeprefix("http://testserver"))
    assert fetched.status_code == 200 and b"".join(fetched.streaming_content) == PNG
    assert fetched["Content-Type"] == "image/png"


def test_forged_or_foreign_links_find_nothing(conversation):
    assert Client().get("/m/not-a-signed-token/").status_code == 404
    assert path_for_link("not-a-signed-token") is None


def test_it_refuses_files_it_cannot_send_and_keeps_nothing(conversation, owner, login):
    client = login(owner)
    exe = SimpleUploadedFile("setup.exe", b"MZ\x90\x00", content_type="application/x-msdownload")
    response = post(client, conversation, body="Mira", mode="reply", files=exe)
    assert response.status_code == 400
    assert "cannot be sent: attach an image, audio, video, PDF or contact card" in (
        response.content.decode()
    )
    big = SimpleUploadedFile("big.png", b"\x00" * (5 * 1024 * 1024 + 1), content_type="image/png")
    response = post(client, conversation, body="Mira", mode="reply", files=big)
    assert response.status_code == 400
    assert "attachments can be at most 5 MB" in response.content.decode()
    note = SimpleUploadedFile("mapa.png", PNG, content_type="image/png")
    response = post(client, conversation, body="Para el equipo", mode="note", files=note)
    assert response.status_code == 400
    assert not Message.objects.filter(direction="out").exists()
    assert not Attachment.objects.exists()


def test_a_refused_reply_leaves_no_stored_file(conversation, owner, login, tenant, settings):
    from contacts.actions import do_set_consent
    from contacts.models import Consent

    do_set_consent(
        conversation.contact,
        channel=conversation.inbox.kind,
        sender=conversation.inbox.address,
        status=Consent.Status.OPTED_OUT,
        source=Consent.Source.KEYWORD,
    )
    # Earlier test sessions may have left files under the same tenant id: only new ones count.
    folder = settings.MEDIA_ROOT / f"tenants/{tenant.pk}/attachments"
    before = {p for p in folder.rglob("*") if p.is_file()}
    image = SimpleUploadedFile("mapa.png", PNG, content_type="image/png")
    response = post(login(owner), conversation, body="Hola", mode="reply", files=image)
    assert response.status_code == 400
    assert "They must send START" in response.content.decode()
    assert {p for p in folder.rglob("*") if p.is_file()} == before
