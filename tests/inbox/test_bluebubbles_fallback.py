"""iMessage → SMS fallback through BlueBubbles and the fake Twilio: an address the
availability check says is not on iMessage, a send the Mac records with an error, and a
message reported as not delivered later go out by SMS once, never twice; the thread shows it."""

import pytest

from inbox.actions.send import do_send_message
from inbox.models import Conversation, Message
from omnichannel.actions import ActionError
from omnichannel.channels import Channel
from tests.fakes.bluebubbles import fixture
from tests.inbox.bluebubbles_helpers import CONTACT, deliver_all, post

pytestmark = [pytest.mark.django_db, pytest.mark.clock]


@pytest.fixture
def sms(tenant, twilio_inbox, bb_inbox):
    inbox = twilio_inbox(tenant, kind=Channel.SMS)
    bb_inbox.fallback_inbox = inbox
    bb_inbox.save(update_fields=["fallback_inbox"])
    return inbox


def test_an_address_without_imessage_goes_out_by_sms(tenant, bb_inbox, bb_server, sms, fake_twilio):
    bb_server.not_imessage.add(CONTACT)

    message = deliver_all(do_send_message(tenant, inbox=bb_inbox, to=CONTACT, body="Hello"))

    first, second = message.deliveries.order_by("id")
    assert (first.inbox, first.status) == (bb_inbox, Message.Status.FAILED)
    assert (second.inbox, second.status) == (sms, Message.Status.SENT)
    assert not bb_server.sent
    [by_sms] = fake_twilio.sent
    assert by_sms.params["Body"] == "Hello" and by_sms.params["To"] == CONTACT
    assert message.metadata["fallback"]["kind"] == Channel.SMS
    assert bb_server.paths("GET").count("/api/v1/handle/availability/imessage") == 1
    # The answer is cached: the next message does not ask again.
    deliver_all(do_send_message(tenant, inbox=bb_inbox, to=CONTACT, body="Again"))
    assert bb_server.paths("GET").count("/api/v1/handle/availability/imessage") == 1


def test_a_send_the_mac_records_as_not_imessage_is_resent_by_sms(
    tenant, bb_inbox, bb_server, sms, fake_twilio
):
    post(bb_inbox, fixture("new_message"))
    conversation = Conversation.objects.get(inbox=bb_inbox)
    bb_server.send_errors[CONTACT] = 22

    message = deliver_all(do_send_message(tenant, conversation=conversation, body="Ready"))

    first, second = message.deliveries.order_by("id")
    assert (first.status, first.error_code) == (Message.Status.FAILED, "22")
    assert "not registered with iMessage" in first.error_message
    assert (second.inbox, second.status) == (sms, Message.Status.SENT)
    assert len(fake_twilio.sent) == 1


def test_a_message_reported_not_delivered_is_resent_by_sms_once_never_twice(
    tenant, bb_inbox, bb_server, sms, fake_twilio, owner, login
):
    post(bb_inbox, fixture("new_message"))
    conversation = Conversation.objects.get(inbox=bb_inbox)
    message = deliver_all(do_send_message(tenant, conversation=conversation, body="Ready"))
    [sent] = bb_server.sent
    failure = {**bb_server.updated(sent, error=4), "type": "message-send-error"}

    assert post(bb_inbox, failure).status_code == 200
    deliver_all(message)
    assert post(bb_inbox, failure).status_code == 200
    assert post(bb_inbox, bb_server.updated(sent, error=4)).status_code == 200
    deliver_all(message)

    first, second = message.deliveries.order_by("id")
    assert (first.inbox, first.status, first.error_code) == (bb_inbox, "failed", "4")
    assert (second.inbox, second.status) == (sms, Message.Status.SENT)
    assert len(fake_twilio.sent) == 1
    assert message.status == Message.Status.SENT

    # The thread shows both attempts: the switch noted, the bubble green (SMS).
    page = login(owner).get(f"/inbox/c/{conversation.pk}/").content.decode()
    assert f'id="msg-{message.pk}" class="msg msg-out ch-sms"' in page
    assert "instead of iMessage" in page
    assert "iMessage timed out sending the message." in page


def test_without_a_fallback_inbox_the_failure_stays_on_the_message(tenant, bb_inbox, bb_server):
    post(bb_inbox, fixture("new_message"))
    conversation = Conversation.objects.get(inbox=bb_inbox)
    bb_server.send_errors[CONTACT] = 22

    message = deliver_all(do_send_message(tenant, conversation=conversation, body="Ready"))

    assert (message.status, message.error_code) == (Message.Status.FAILED, "22")


def test_a_group_message_never_falls_back_to_one_member(tenant, bb_inbox, bb_server, sms):
    post(bb_inbox, fixture("new_message_group"))
    group = Conversation.objects.get(inbox=bb_inbox)
    message = deliver_all(do_send_message(tenant, conversation=group, body="Cake at 6"))
    [sent] = bb_server.sent

    post(bb_inbox, bb_server.updated(sent, error=4))

    message.refresh_from_db()
    assert message.deliveries.count() == 1 and message.status == Message.Status.FAILED
    with pytest.raises(ActionError, match="group conversation"):
        do_send_message(tenant, conversation=group, body="Hi", force_fallback=True)


def test_a_message_never_delivered_in_time_goes_out_by_sms_once(
    tenant, bb_inbox, bb_server, sms, fake_twilio
):
    from datetime import timedelta

    from django.utils import timezone

    from inbox.actions.fallback import do_fall_back_undelivered

    post(bb_inbox, fixture("new_message"))
    conversation = Conversation.objects.get(inbox=bb_inbox)
    message = deliver_all(do_send_message(tenant, conversation=conversation, body="Ready"))
    later = timezone.now() + timedelta(minutes=11)
    assert do_fall_back_undelivered(now=later) == 0  # off by default

    bb_inbox.settings = {**bb_inbox.settings, "fallback_after_minutes": 10}
    bb_inbox.save(update_fields=["settings"])
    assert do_fall_back_undelivered(now=timezone.now() + timedelta(minutes=9)) == 0
    assert do_fall_back_undelivered(now=later) == 1
    deliver_all(message)
    assert do_fall_back_undelivered(now=later) == 0

    first, second = message.deliveries.order_by("id")
    assert (first.status, first.error_code) == ("failed", "not_delivered")
    assert (second.inbox, second.status) == (sms, "sent")
    assert len(fake_twilio.sent) == 1
    assert "within 10 minutes" in message.metadata["fallback"]["reason"]


def test_a_delivered_message_never_falls_back_on_time(tenant, bb_inbox, bb_server, sms):
    from datetime import timedelta

    from django.utils import timezone

    from inbox.actions.fallback import do_fall_back_undelivered

    bb_inbox.settings = {**bb_inbox.settings, "fallback_after_minutes": 10}
    bb_inbox.save(update_fields=["settings"])
    post(bb_inbox, fixture("new_message"))
    conversation = Conversation.objects.get(inbox=bb_inbox)
    message = deliver_all(do_send_message(tenant, conversation=conversation, body="Ready"))
    [sent] = bb_server.sent
    post(bb_inbox, bb_server.updated(sent, dateDelivered=1767225662000))

    assert do_fall_back_undelivered(now=timezone.now() + timedelta(minutes=30)) == 0
    assert message.deliveries.count() == 1


def test_the_sweep_is_scheduled_by_beat_and_runs_as_a_task():
    from django.conf import settings

    from inbox.tasks.delivery import fall_back_undelivered_task

    schedule = settings.CELERY_BEAT_SCHEDULE["fall-back-undelivered"]
    assert schedule["task"] == fall_back_undelivered_task.name
    assert fall_back_undelivered_task.apply().get() == 0
