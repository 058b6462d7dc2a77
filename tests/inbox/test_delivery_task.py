"""deliver_message_task through Celery's real task code (``apply`` runs it, retries included)
against the REAL twilio SDK and the simulator."""

import pytest
from django.utils.html import escape

from contacts.actions import is_opted_out
from contacts.phones import format_phone
from inbox.actions.send import attempt_delivery, do_send_message
from inbox.models import Delivery, Message
from inbox.tasks.delivery import deliver_message_task, retry_countdown

pytestmark = [pytest.mark.django_db, pytest.mark.clock]


@pytest.fixture
def delivery(tenant, sms_inbox, contact):
    message = do_send_message(tenant, inbox=sms_inbox, to=contact.phone, body="Your booking")
    return message.deliveries.get()


def run(delivery):
    result = deliver_message_task.apply(args=[delivery.pk])
    delivery.refresh_from_db()
    delivery.message.refresh_from_db()
    return result


def test_it_sends_and_records_the_provider_id(delivery, fake_twilio):
    run(delivery)

    [request] = fake_twilio.sent
    assert delivery.status == Message.Status.SENT
    assert delivery.provider_message_id == fake_twilio.messages.popitem()[0]
    assert delivery.attempts == 1 and delivery.sent_at is not None
    assert delivery.message.status == Message.Status.SENT
    assert request.params["Body"] == "Your booking"


def test_it_retries_after_429_then_succeeds(delivery, fake_twilio):
    fake_twilio.queue_response(status=429, code=20429, headers={"Retry-After": "2"})

    result = run(delivery)

    assert result.successful()
    assert len(fake_twilio.sent) == 2
    assert delivery.status == Message.Status.SENT
    assert delivery.attempts == 2
    assert delivery.provider_message_id.startswith("SM")


def test_it_retries_after_a_server_error_then_succeeds(delivery, fake_twilio):
    fake_twilio.queue_response(status=500, times=2)

    run(delivery)

    assert len(fake_twilio.sent) == 3
    assert (delivery.status, delivery.attempts) == (Message.Status.SENT, 3)


def test_it_fails_without_retry_on_an_invalid_number(delivery, fake_twilio):
    fake_twilio.queue_response(status=400, code=21211)

    run(delivery)

    assert len(fake_twilio.sent) == 1
    assert (delivery.status, delivery.attempts, delivery.error_code) == ("failed", 1, "21211")
    assert delivery.failed_at is not None
    assert delivery.message.status == Message.Status.FAILED
    assert "not valid" in delivery.message.error_message


def test_it_records_an_opt_out_on_21610(delivery, fake_twilio):
    fake_twilio.queue_response(status=400, code=21610)

    run(delivery)

    assert delivery.status == Message.Status.FAILED and len(fake_twilio.sent) == 1
    assert "opted out" in delivery.error_message
    contact = delivery.message.conversation.contact
    assert is_opted_out(contact, channel=delivery.inbox.kind, sender=delivery.inbox.address)
    consent = contact.consents.get()
    assert consent.source == "provider_error"


def test_it_gives_up_after_the_maximum_retries(delivery, fake_twilio, settings):
    settings.DELIVERY_MAX_RETRIES = 2
    fake_twilio.queue_response(status=503, times=5)

    run(delivery)

    assert len(fake_twilio.sent) == 3  # the first attempt and two retries
    assert (delivery.status, delivery.attempts) == (Message.Status.FAILED, 3)
    assert "server error" in delivery.error_message
    assert delivery.message.status == Message.Status.FAILED


def test_it_never_sends_a_delivery_twice(delivery, fake_twilio):
    attempt_delivery(delivery.pk)
    attempt_delivery(delivery.pk)
    run(delivery)

    assert len(fake_twilio.sent) == 1
    assert delivery.attempts == 1


def test_it_does_not_send_a_delivery_another_worker_claimed(delivery, fake_twilio):
    Delivery.objects.filter(pk=delivery.pk).update(status=Message.Status.SENDING)

    run(delivery)

    assert fake_twilio.sent == []
    assert delivery.status == Message.Status.SENDING


def test_it_ignores_a_missing_delivery(db):
    assert deliver_message_task.apply(args=[987654]).successful()


def test_it_sends_whatsapp_with_media_through_the_task(
    tenant, whatsapp_inbox, contact, fake_twilio
):
    from datetime import timedelta

    from django.utils import timezone

    from inbox.models import Conversation

    conversation = Conversation.objects.create(
        tenant=tenant,
        inbox=whatsapp_inbox,
        contact=contact,
        last_inbound_at=timezone.now() - timedelta(hours=1),
    )
    message = do_send_message(
        tenant, conversation=conversation, body="Ticket", media_urls=["https://cdn.test/t.pdf"]
    )

    run(message.deliveries.get())

    [request] = fake_twilio.sent
    assert request.params["To"] == f"whatsapp:{contact.phone}"
    assert request.form["MediaUrl"] == ["https://cdn.test/t.pdf"]


def test_it_backs_off_exponentially_and_honours_retry_after():
    assert 2.5 <= retry_countdown(0) <= 5
    assert 40 <= retry_countdown(4) <= 80
    assert retry_countdown(20) <= 600
    assert retry_countdown(0, retry_after=30) == 30


# --- what changed while the message waited for a worker -------------------------------------


@pytest.fixture
def queued_reply(tenant, owner, sms_inbox, contact):
    """An agent's reply in the contact's conversation, queued for the delivery worker."""
    from inbox.actions.conversations import get_or_open_active_conversation

    conversation = get_or_open_active_conversation(sms_inbox, contact)
    message = do_send_message(
        tenant, conversation=conversation, body="Your table is ready", acting_user=owner
    )
    return message.deliveries.get()


def thread_of(login, owner, delivery) -> str:
    page = login(owner).get(f"/inbox/c/{delivery.message.conversation_id}/")
    assert page.status_code == 200
    return page.content.decode()


def test_a_reply_queued_before_the_contact_texted_stop_is_refused_and_says_why(
    queued_reply, sms_inbox, contact, fake_twilio, owner, login
):
    from tests.inbox.webhook_helpers import assert_empty_twiml, post_twilio

    assert_empty_twiml(post_twilio(sms_inbox, "inbound_stop", To=sms_inbox.address))

    run(queued_reply)

    assert fake_twilio.sent == []
    assert (queued_reply.status, queued_reply.error_code) == (Message.Status.FAILED, "opted_out")
    reason = queued_reply.message.error_message
    assert reason == (
        f"Ana García opted out of SMS messages from {format_phone(sms_inbox.address, 'US')} "
        "(STOP) before this "
        "message went out, so it was not sent; they must reply START before you can message "
        "them."
    )
    html = thread_of(login, owner, queued_reply)
    assert f'id="msg-{queued_reply.message_id}-status" class="msg-status tick-failed"' in html
    assert f'<p class="msg-failure">{escape(reason)}</p>' in html


def test_a_reply_queued_before_the_contact_was_erased_is_refused_and_says_why(
    queued_reply, contact, fake_twilio, owner, login
):
    from contacts.gdpr import do_erase_contact

    do_erase_contact(contact)

    run(queued_reply)

    assert fake_twilio.sent == []
    assert (queued_reply.status, queued_reply.error_code) == (Message.Status.FAILED, "erased")
    reason = queued_reply.message.error_message
    assert reason.startswith("The contact's personal data was erased before this message")
    assert f'<p class="msg-failure">{escape(reason)}</p>' in thread_of(login, owner, queued_reply)


def test_a_reply_queued_before_the_number_was_blocked_is_refused_and_says_why(
    queued_reply, tenant, contact, fake_twilio
):
    from contacts.blocklist import do_block_address

    do_block_address(tenant, kind="phone", value=contact.phone)

    run(queued_reply)

    assert fake_twilio.sent == []
    assert (queued_reply.status, queued_reply.error_code) == (Message.Status.FAILED, "blocked")
    assert queued_reply.message.error_message == (
        f"{contact.phone} was put on the blocklist before the message went out, so it was not "
        "sent; remove it from the blocklist to message it again."
    )
