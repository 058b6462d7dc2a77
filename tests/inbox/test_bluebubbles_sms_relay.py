"""iMessage → SMS through the Mac's own SMS relay (the inbox's ``sms_relay`` fallback route):
what cannot go by iMessage is re-sent once through the same BlueBubbles server to the chat
``SMS;-;<E.164>``, as a second Delivery on the same inbox; the thread shows both attempts."""

import pytest

from contacts.actions import do_set_consent
from contacts.models import Consent
from inbox.actions.inboxes import do_update_inbox
from inbox.actions.send import do_send_message
from inbox.models import Conversation, Message
from inbox.tasks.delivery import deliver_message_task
from omnichannel.actions import ActionError
from omnichannel.channels import Channel
from omnichannel.models import AuditEvent
from tests.fakes.bluebubbles import fixture
from tests.inbox.bluebubbles_helpers import CONTACT, deliver_all, post

pytestmark = [pytest.mark.django_db, pytest.mark.clock]

RELAY_CHAT = f"SMS;-;{CONTACT}"


@pytest.fixture
def relay(bb_inbox):
    return do_update_inbox(bb_inbox, sms_relay=True)


@pytest.fixture
def conversation(relay):
    post(relay, fixture("new_message"))
    return Conversation.objects.get(inbox=relay)


def texts(server) -> list[tuple[str, str]]:
    """(chat GUID, text) of every text the server was asked to send."""
    return [
        (body.get("chatGuid") or f"new:{body.get('service')}", body.get("message"))
        for method, path, body in server.requests
        if path in ("/api/v1/message/text", "/api/v1/chat/new")
    ]


def test_an_address_without_imessage_goes_out_by_sms_through_the_mac(
    tenant, relay, bb_server, fake_twilio
):
    bb_server.not_imessage.add(CONTACT)

    message = deliver_all(do_send_message(tenant, inbox=relay, to=CONTACT, body="Hello"))

    first, second = message.deliveries.order_by("id")
    assert (first.inbox, first.channel, first.status) == (relay, "", Message.Status.FAILED)
    assert "probably not on iMessage" in first.error_message
    assert (second.inbox, second.channel, second.recipient) == (relay, Channel.SMS, CONTACT)
    assert second.status == Message.Status.SENT
    assert texts(bb_server) == [(RELAY_CHAT, "Hello")]
    [sent] = bb_server.sent
    assert second.provider_message_id == sent["guid"]
    assert not fake_twilio.sent
    assert message.metadata["fallback"]["kind"] == Channel.SMS
    assert message.metadata["fallback"]["inbox"] == "iMessage, the Mac's SMS relay"


def test_a_not_delivered_error_22_is_resent_through_the_relay_once_never_twice(
    tenant, relay, bb_server, conversation, owner, login
):
    bb_server.send_errors[CONTACT] = 22  # the relayed SMS fails too: nothing goes a third time

    message = deliver_all(do_send_message(tenant, conversation=conversation, body="Ready"))
    first, second = message.deliveries.order_by("id")
    assert (first.status, first.error_code) == (Message.Status.FAILED, "22")
    assert (second.channel, second.status) == (Channel.SMS, Message.Status.FAILED)
    # The Mac's later report of the relayed send's failure moves nothing either.
    relayed = bb_server.sent[-1]
    assert post(relay, {**bb_server.updated(relayed), "type": "message-send-error"}).status_code
    deliver_all(message)

    assert message.deliveries.count() == 2
    chat_guid = conversation.external_thread_id
    assert texts(bb_server) == [(chat_guid, "Ready"), (RELAY_CHAT, "Ready")]
    assert message.status == Message.Status.FAILED


def test_the_thread_shows_both_attempts_green_for_the_relayed_sms(
    tenant, relay, bb_server, conversation, owner, login
):
    message = do_send_message(tenant, conversation=conversation, body="Ready")
    bb_server.send_errors[CONTACT] = 22
    deliver_message_task.apply(args=[message.deliveries.get().pk])
    bb_server.send_errors.clear()
    message = deliver_all(message)

    first, second = message.deliveries.order_by("id")
    assert (first.status, first.error_code) == (Message.Status.FAILED, "22")
    assert (second.inbox, second.channel, second.status) == (relay, Channel.SMS, "sent")
    assert [chat for chat, _ in texts(bb_server)] == [conversation.external_thread_id, RELAY_CHAT]
    # The echo of the relayed send confirms the second delivery; it stores nothing new.
    relayed = bb_server.sent[-1]
    assert post(relay, bb_server.echo(relayed, dateDelivered=1767225662000)).status_code == 200
    second.refresh_from_db()
    assert second.status == Message.Status.DELIVERED
    assert Message.objects.filter(conversation=conversation, direction="out").count() == 1

    page = login(owner).get(f"/inbox/c/{conversation.pk}/").content.decode()
    assert f'id="msg-{message.pk}" class="msg msg-out ch-sms"' in page
    assert "Sent by SMS (iMessage, the Mac&#x27;s SMS relay) instead of iMessage" in page
    assert "The recipient is not registered with iMessage." in page


def test_a_message_never_delivered_in_time_goes_through_the_relay_once(
    tenant, relay, bb_server, conversation
):
    from datetime import timedelta

    from django.utils import timezone

    from inbox.actions.fallback import do_fall_back_undelivered

    relay.settings = {**relay.settings, "fallback_after_minutes": 10}
    relay.save(update_fields=["settings"])
    message = deliver_all(do_send_message(tenant, conversation=conversation, body="Ready"))
    later = timezone.now() + timedelta(minutes=11)

    assert do_fall_back_undelivered(now=later) == 1
    deliver_all(message)
    # The relayed SMS is not delivered in time either: it is the fallback, nothing follows.
    assert do_fall_back_undelivered(now=later + timedelta(minutes=11)) == 0

    first, second = message.deliveries.order_by("id")
    assert (first.error_code, second.channel, second.status) == ("not_delivered", "sms", "sent")
    assert [chat for chat, _ in texts(bb_server)][-1] == RELAY_CHAT


def test_an_agent_forces_sms_through_the_relay(
    tenant, relay, bb_server, conversation, owner, login
):
    page = login(owner).get(f"/inbox/c/{conversation.pk}/").content.decode()
    assert "Send this message by SMS (iMessage, the Mac&#x27;s SMS relay)" in page

    message = deliver_all(
        do_send_message(tenant, conversation=conversation, body="By text", force_fallback=True)
    )

    [delivery] = message.deliveries.all()
    assert (delivery.inbox, delivery.channel, delivery.status) == (relay, "sms", "sent")
    assert texts(bb_server) == [(RELAY_CHAT, "By text")]
    assert "chosen by the agent" in message.metadata["fallback"]["reason"]


def test_the_relayed_sms_checks_consent_for_sms_too(tenant, relay, bb_server, conversation):
    do_set_consent(
        conversation.contact,
        channel=Channel.SMS,
        sender=relay.address,
        status=Consent.Status.OPTED_OUT,
        source=Consent.Source.KEYWORD,
        detail="STOP",
    )

    message = deliver_all(
        do_send_message(tenant, conversation=conversation, body="Offer", force_fallback=True)
    )

    assert message.deliveries.get().error_code == "opted_out"
    assert not texts(bb_server)


def test_an_admin_chooses_the_relay_in_settings_channels(tenant, bb_inbox, owner, login):
    client = login(owner)

    page = client.get(f"/settings/channels/{bb_inbox.pk}/").content.decode()
    assert '<option value="sms_relay">' in page and "Text Message Forwarding" in page
    response = client.post(
        f"/settings/channels/{bb_inbox.pk}/edit/",
        {"name": bb_inbox.name, "is_active": "on", "fallback_inbox": "sms_relay"},
    )

    assert response.status_code == 302
    bb_inbox.refresh_from_db()
    assert bb_inbox.sms_relay and bb_inbox.fallback_inbox is None
    event = AuditEvent.objects.filter(action=AuditEvent.Action.INBOX_CHANGED).latest("id")
    assert event.data == {"changed": ["settings"]}
    page = client.get(f"/settings/channels/{bb_inbox.pk}/").content.decode()
    assert '<option value="sms_relay" selected>' in page


def test_the_relay_and_a_fallback_inbox_replace_each_other(tenant, bb_inbox, twilio_inbox):
    sms = twilio_inbox(tenant, kind=Channel.SMS)

    do_update_inbox(bb_inbox, fallback_inbox=sms)
    inbox = do_update_inbox(bb_inbox, sms_relay=True)
    assert inbox.sms_relay and inbox.fallback_inbox is None
    inbox = do_update_inbox(bb_inbox, fallback_inbox=sms)
    assert not inbox.sms_relay and inbox.fallback_inbox == sms
    with pytest.raises(ActionError, match="not both"):
        do_update_inbox(bb_inbox, fallback_inbox=sms, sms_relay=True)
    with pytest.raises(ActionError, match="cannot send SMS themselves"):
        do_update_inbox(sms, sms_relay=True)


def test_the_api_sets_the_relay(tenant, bb_inbox, twilio_inbox, other_tenant, client, api_token):
    headers = {"Authorization": f"Bearer {api_token}"}
    url = f"/api/v1/inboxes/{bb_inbox.pk}"

    response = client.patch(
        url, {"sms_relay": True}, content_type="application/json", headers=headers
    )

    assert response.status_code == 200, response.content
    assert response.json()["sms_relay"] is True and response.json()["fallback_inbox_id"] is None
    sms = twilio_inbox(tenant, kind=Channel.SMS)
    both = client.patch(
        url,
        {"sms_relay": True, "fallback_inbox_id": sms.pk},
        content_type="application/json",
        headers=headers,
    )
    assert both.status_code == 400 and "not both" in both.json()["error"]["message"]
    bb_inbox.refresh_from_db()
    assert bb_inbox.sms_relay
    refused = client.patch(
        f"/api/v1/inboxes/{sms.pk}",
        {"sms_relay": True},
        content_type="application/json",
        headers=headers,
    )
    assert refused.status_code == 400
    other = twilio_inbox(other_tenant, kind=Channel.SMS)
    assert (
        client.patch(
            f"/api/v1/inboxes/{other.pk}",
            {"sms_relay": True},
            content_type="application/json",
            headers=headers,
        ).status_code
        == 404
    )
