"""inbox.hooks: what other apps register is called once per stored inbound message (never for
a duplicate, a blocklisted or an unknown sender) and once per failed delivery, inside the
transaction that stored or failed it."""

import pytest

from contacts.blocklist import do_block_address
from inbox import hooks
from inbox.actions.receive import Outcome, do_apply_status, do_receive_message
from inbox.actions.send import do_send_message
from inbox.models import Message
from inbox.providers.base import MessageReceived, StatusEvent
from inbox.tasks.delivery import deliver_message_task
from tests.inbox.conftest import make_email_inbox
from tests.inbox.email_webhook_helpers import load, post_postmark
from tests.inbox.webhook_helpers import make_outbound

pytestmark = [pytest.mark.django_db, pytest.mark.clock]


@pytest.fixture
def received():
    calls: list = []
    hook = hooks.register_message_received(calls.append)
    yield calls
    hooks.on_message_received.remove(hook)


@pytest.fixture
def failed():
    calls: list = []
    hook = hooks.register_delivery_failed(calls.append)
    yield calls
    hooks.on_delivery_failed.remove(hook)


def sms(inbox, sender="+14155550111", sid="SM" + "a" * 32) -> MessageReceived:
    return MessageReceived(
        external_id=sid, sender=sender, recipient=inbox.address, body="Is my table ready?"
    )


def test_a_stored_message_is_announced_once_and_its_duplicate_not_at_all(sms_inbox, received):
    first = do_receive_message(sms_inbox, sms(sms_inbox))
    again = do_receive_message(sms_inbox, sms(sms_inbox))

    assert first.kind == Outcome.STORED and received == [first.message]
    assert again.kind == Outcome.DUPLICATE and again.existing_id == first.message.pk
    assert again.note.startswith("Duplicate")


def test_a_blocklisted_or_unknown_sender_is_not_announced(tenant, sms_inbox, received):
    do_block_address(tenant, kind="phone", value="+14155550111")
    sms_inbox.settings = {**sms_inbox.settings, "auto_create_contacts": False}
    sms_inbox.save(update_fields=["settings"])

    blocked = do_receive_message(sms_inbox, sms(sms_inbox))
    stranger = do_receive_message(sms_inbox, sms(sms_inbox, "+14155550122", "SM" + "b" * 32))

    assert blocked.kind == Outcome.BLOCKED and blocked.message is None
    assert blocked.note == "Dropped: the sender is on the tenant's blocklist."
    assert stranger.kind == Outcome.UNKNOWN_SENDER and stranger.message is None
    assert received == [] and not Message.objects.exists()


def test_an_email_takes_the_same_path(tenant, received):
    inbox = make_email_inbox(tenant, esp="postmark", server_token="pm-token")

    assert post_postmark(inbox, "inbound", load("postmark", "inbound")).status_code == 200
    assert post_postmark(inbox, "inbound", load("postmark", "inbound")).status_code == 200

    assert received == [Message.objects.get()]
    assert received[0].email_message_id and received[0].subject


def test_a_hook_that_fails_stores_nothing(sms_inbox):
    def broken(message):
        raise RuntimeError("the hook broke")

    hooks.register_message_received(broken)
    try:
        with pytest.raises(RuntimeError):
            do_receive_message(sms_inbox, sms(sms_inbox))
    finally:
        hooks.on_message_received.remove(broken)

    assert not Message.objects.exists()


def test_a_failed_status_callback_is_announced_once(sms_inbox, failed):
    delivery = make_outbound(sms_inbox, to="+14155550111", sid="SM" + "c" * 32, status="sent")
    delivered = make_outbound(sms_inbox, to="+14155550122", sid="SM" + "d" * 32, status="sent")
    callback = StatusEvent(provider_message_id=delivery.provider_message_id, status="failed")

    do_apply_status(sms_inbox, callback)
    do_apply_status(sms_inbox, callback)  # repeated by the provider
    do_apply_status(
        sms_inbox, StatusEvent(provider_message_id=delivered.provider_message_id, status="read")
    )

    assert [d.pk for d in failed] == [delivery.pk]
    assert failed[0].status == "failed" and failed[0].failed_at is not None


def test_a_refused_send_is_announced(tenant, sms_inbox, contact, fake_twilio, failed):
    message = do_send_message(tenant, inbox=sms_inbox, to=contact.phone, body="Your booking")
    fake_twilio.queue_response(status=400, code=21211)

    deliver_message_task.apply(args=[message.deliveries.get().pk])

    assert [(d.pk, d.status, d.error_code) for d in failed] == [
        (message.deliveries.get().pk, "failed", "21211")
    ]


def test_a_registered_conversation_panel_joins_the_contact_panel(tenant, owner, login, sms_inbox):
    from types import SimpleNamespace

    from django.utils import timezone

    from tests.inbox.api_factories import make_conversation

    seen = []

    def probe(request, conversation):
        seen.append((request.tenant, conversation.pk))
        item = SimpleNamespace(
            kind="probe",
            get_kind_display="Probe",
            summary=f"Probe for conversation {conversation.pk}",
            conversation_id=None,
            inbox=conversation.inbox,
            at=timezone.now(),
        )
        # Any template of the panel's shape: the inbox's own helpdesk section does.
        return hooks.ConversationPanel("inbox/contact_bridge.html", {"activity": [item]})

    def nothing_here(request, conversation):
        return None

    conversation = make_conversation(sms_inbox)
    hooks.register_conversation_panel(probe)
    hooks.register_conversation_panel(probe)  # once, however often ready() runs
    hooks.register_conversation_panel(nothing_here)
    try:
        html = login(owner).get(f"/inbox/c/{conversation.pk}/").content.decode()
    finally:
        hooks.conversation_panels.remove(probe)
        hooks.conversation_panels.remove(nothing_here)

    panel = html[html.index('id="contact-panel"') :]
    assert f"Probe for conversation {conversation.pk}" in panel
    assert seen == [(tenant, conversation.pk)]
