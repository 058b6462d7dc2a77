"""Fallback: what cannot go on an inbox's channel goes on its fallback inbox (iMessage → SMS),
as a second Delivery, through the real delivery task, Parrot's fake server and the fake
Twilio. The thread shows the switch."""

import pytest
from django.core.cache import cache

from inbox.actions.inboxes import do_update_inbox
from inbox.actions.send import do_send_message
from inbox.models import Message
from inbox.tasks.delivery import deliver_message_task
from omnichannel.actions import ActionError
from omnichannel.channels import Channel
from omnichannel.models import AuditEvent
from tests.inbox.webhook_helpers import receive

pytestmark = pytest.mark.django_db

CONTACT = "+14155550111"


@pytest.fixture
def sms(tenant, twilio_inbox):
    return twilio_inbox(tenant, kind=Channel.SMS)


@pytest.fixture
def conversation(parrot, sms):
    parrot.fallback_inbox = sms
    parrot.save(update_fields=["fallback_inbox"])
    receive(sms, CONTACT, "Hola")  # the contact, known by their phone
    from inbox.actions.conversations import get_or_open_active_conversation

    contact = sms.conversations.get().contact
    return get_or_open_active_conversation(parrot, contact)


def send(tenant, conversation, body="Your booking is confirmed"):
    """Send and run every delivery the send queues (a fallback queues the second on commit,
    which the test's transaction never reaches)."""
    message = do_send_message(tenant, conversation=conversation, body=body)
    while queued := message.deliveries.filter(status=Message.Status.QUEUED).first():
        deliver_message_task.apply(args=[queued.pk])
    return message


def test_an_address_not_on_the_channel_goes_out_on_the_fallback_inbox(
    tenant, conversation, parrot_server, fake_twilio, sms, owner, login
):
    parrot_server.unreachable.add(CONTACT)

    message = send(tenant, conversation)

    first, second = message.deliveries.order_by("id")
    assert (first.inbox, first.status) == (conversation.inbox, Message.Status.FAILED)
    assert "probably not on iMessage" in first.error_message
    assert (second.inbox, second.recipient, second.status) == (sms, CONTACT, "sent")
    assert not parrot_server.sent
    [sent_by_sms] = fake_twilio.sent
    assert sent_by_sms.params["Body"] == "Your booking is confirmed"
    message.refresh_from_db()
    assert message.status == Message.Status.SENT and message.metadata["fallback"]["to"] == "SMS"

    page = login(owner).get(f"/inbox/c/{conversation.pk}/").content.decode()
    assert "Sent by SMS" in page and "instead of iMessage" in page


def test_the_availability_answer_is_cached(tenant, conversation, parrot_server, fake_twilio):
    send(tenant, conversation, "one")
    send(tenant, conversation, "two")

    assert parrot_server.availability_checks == [CONTACT]
    assert [m["message"] for m in parrot_server.sent] == ["one", "two"]
    assert not fake_twilio.sent


def test_a_not_on_this_channel_send_error_also_falls_back(
    tenant, conversation, parrot_server, fake_twilio
):
    send(tenant, conversation, "first")  # available: cached as such
    parrot_server.unreachable.add(CONTACT)  # … but the send now says otherwise

    message = send(tenant, conversation, "second")

    assert [d.inbox.kind for d in message.deliveries.order_by("id")] == ["imessage", "sms"]
    assert message.deliveries.order_by("id").first().error_message == (
        "The address is not on Parrot chat."
    )
    assert [r.params["Body"] for r in fake_twilio.sent] == ["second"]


def test_without_a_fallback_inbox_the_message_fails_with_the_reason(
    tenant, conversation, parrot, parrot_server
):
    parrot.fallback_inbox = None
    parrot.save(update_fields=["fallback_inbox"])
    parrot_server.unreachable.add(CONTACT)
    cache.clear()

    message = send(tenant, conversation)

    [delivery] = message.deliveries.all()
    message.refresh_from_db()
    assert delivery.status == message.status == Message.Status.FAILED
    assert "probably not on iMessage" in message.error_message


def test_the_fallback_checks_consent_on_its_own_channel(
    tenant, conversation, parrot_server, fake_twilio, sms
):
    from contacts.actions import do_set_consent
    from contacts.models import Consent

    do_set_consent(
        conversation.contact,
        channel=sms.kind,
        sender=sms.address,
        status=Consent.Status.OPTED_OUT,
        source=Consent.Source.KEYWORD,
        detail="STOP",
    )
    parrot_server.unreachable.add(CONTACT)

    message = send(tenant, conversation)

    second = message.deliveries.order_by("id").last()
    assert second.inbox == sms and second.status == Message.Status.FAILED
    assert not fake_twilio.sent


def test_an_admin_chooses_the_fallback_in_settings_channels(parrot, sms, owner, login):
    client = login(owner)

    page = client.get(f"/settings/channels/{parrot.pk}/").content.decode()
    assert f'<option value="{sms.pk}">' in page
    response = client.post(
        f"/settings/channels/{parrot.pk}/edit/",
        {"name": parrot.name, "is_active": "on", "fallback_inbox": str(sms.pk)},
    )

    assert response.status_code == 302
    parrot.refresh_from_db()
    assert parrot.fallback_inbox == sms
    event = AuditEvent.objects.filter(action=AuditEvent.Action.INBOX_CHANGED).latest("id")
    assert event.data == {"changed": ["fallback_inbox_id"]}


def test_the_fallback_is_checked(tenant, parrot, sms, email_inbox, other_tenant, twilio_inbox):
    with pytest.raises(ActionError, match="cannot be its own fallback"):
        do_update_inbox(parrot, fallback_inbox=parrot)
    with pytest.raises(ActionError, match="reach contacts differently"):
        do_update_inbox(parrot, fallback_inbox=email_inbox)
    with pytest.raises(ActionError, match="one of this tenant's"):
        do_update_inbox(parrot, fallback_inbox=twilio_inbox(other_tenant, kind=Channel.SMS))
    do_update_inbox(parrot, fallback_inbox=sms)
    with pytest.raises(ActionError, match="already falls back to this inbox"):
        do_update_inbox(sms, fallback_inbox=parrot)


def test_the_api_sets_the_fallback_and_rotates_credentials(tenant, parrot, sms, client, api_token):
    headers = {"Authorization": f"Bearer {api_token}"}

    response = client.patch(
        f"/api/v1/inboxes/{parrot.pk}",
        {"fallback_inbox_id": sms.pk, "credentials": {"password": "rotated"}},
        content_type="application/json",
        headers=headers,
    )

    assert response.status_code == 200, response.content
    assert response.json()["fallback_inbox_id"] == sms.pk
    parrot.refresh_from_db()
    assert parrot.get_credentials()["password"] == "rotated"
    bad = client.patch(
        f"/api/v1/inboxes/{parrot.pk}",
        {"credentials": {"server_url": "ftp://nowhere"}},
        content_type="application/json",
        headers=headers,
    )
    assert bad.status_code == 400 and "http://" in bad.json()["error"]["message"]
    parrot.refresh_from_db()
    assert parrot.get_credentials()["password"] == "rotated"
