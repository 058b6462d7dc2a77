"""manage.py replay_webhooks: journaled requests processed again from their stored bodies."""

import json
from datetime import timedelta
from io import StringIO
from urllib.parse import urlencode

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from inbox.models import Message
from omnichannel.models import WebhookEvent
from omnichannel.webhooks import journal
from tests.inbox.webhook_helpers import DROP, make_outbound, post_twilio, twilio_params

pytestmark = [pytest.mark.django_db, pytest.mark.clock]


def replay(*args) -> dict:
    out = StringIO()
    call_command("replay_webhooks", *args, stdout=out)
    return json.loads(out.getvalue())


def journaled(inbox, fixture, *, state="failed", **overrides) -> WebhookEvent:
    """A request the view journaled and then could not process (a crash, an outage)."""
    params = twilio_params(fixture, **overrides)
    kind = "status" if "MessageStatus" in params else "inbound"
    event = journal.record(
        inbox,
        kind=kind,
        url="http://testserver"
        + reverse("webhooks:receive", args=["twilio", inbox.webhook_token, kind]),
        content_type="application/x-www-form-urlencoded",
        body=urlencode(params),
        external_id=params.get("MessageSid", ""),
    )
    event.attempts = 1
    if state == "failed":
        journal.mark_failed(event, "OperationalError: the database connection was lost")
    return event


def test_it_processes_a_failed_event_once(sms_inbox):
    event = journaled(sms_inbox, "inbound_sms")

    assert replay() == {"replayed": 1, "processed": 1, "invalid": 0, "failed": 0, "skipped": 0}

    event.refresh_from_db()
    assert (event.state, event.attempts) == ("processed", 2)
    assert event.error.startswith("Stored as message")
    message = Message.objects.get()
    assert (message.body, message.external_id) == ("Hello", event.external_id)

    # Nothing is left to replay, and forcing it again stores nothing twice.
    assert replay()["replayed"] == 0
    assert replay("--id", str(event.pk))["processed"] == 1
    assert Message.objects.count() == 1


def test_it_replays_a_pending_event_left_by_a_crash(sms_inbox):
    journaled(sms_inbox, "inbound_stop", state="pending")

    assert replay()["processed"] == 1
    assert Message.objects.get().body == "STOP"


def test_it_replays_status_callbacks_without_moving_backwards(sms_inbox):
    delivery = make_outbound(sms_inbox, to="+14155550111", sid="SM" + "2" * 32)
    journaled(sms_inbox, "status_sent")
    post_twilio(sms_inbox, "status_delivered")

    assert replay()["processed"] == 1

    delivery.refresh_from_db()
    assert delivery.status == "delivered"
    assert delivery.sent_at is not None


def test_it_does_not_verify_the_signature_again(sms_inbox):
    event = journaled(sms_inbox, "inbound_sms")
    credentials = sms_inbox.get_credentials()
    sms_inbox.set_credentials({**credentials, "auth_token": "rotated_since_then"})
    sms_inbox.save()

    assert replay("--id", str(event.pk))["processed"] == 1


def test_it_keeps_malformed_events_invalid(sms_inbox):
    response = post_twilio(sms_inbox, "inbound_sms", MessageSid=DROP, SmsSid=DROP)
    assert response.status_code == 400

    assert replay()["replayed"] == 0  # invalid events are replayed only on request
    summary = replay("--state", "invalid")

    assert summary == {"replayed": 1, "processed": 0, "invalid": 1, "failed": 0, "skipped": 0}
    event = WebhookEvent.objects.get()
    assert (event.state, event.attempts) == ("invalid", 2)
    assert not Message.objects.exists()


def test_it_filters_by_tenant_and_time(sms_inbox, other_tenant, twilio_inbox):
    ours = journaled(sms_inbox, "inbound_sms")
    theirs = journaled(twilio_inbox(other_tenant), "inbound_sms")
    old = journaled(sms_inbox, "inbound_stop")
    WebhookEvent.objects.filter(pk=old.pk).update(received_at=timezone.now() - timedelta(days=3))
    since = (timezone.now() - timedelta(days=1)).isoformat()

    assert replay("--tenant", str(sms_inbox.tenant_id), "--since", since)["processed"] == 1

    states = dict(WebhookEvent.objects.values_list("pk", "state"))
    assert states == {ours.pk: "processed", theirs.pk: "failed", old.pk: "failed"}


def test_it_says_which_ids_do_not_exist(sms_inbox):
    with pytest.raises(CommandError, match=r"\[999999\]"):
        replay("--id", "999999")


def test_it_rejects_a_since_that_is_not_a_date(sms_inbox):
    with pytest.raises(CommandError, match="not an ISO date"):
        replay("--since", "yesterday")


# --- the beat sweep -----------------------------------------------------------------------------


def received(event: WebhookEvent, *, seconds_ago: int) -> None:
    moment = timezone.now() - timedelta(seconds=seconds_ago)
    WebhookEvent.objects.filter(pk=event.pk).update(received_at=moment)


def deferred_callback(inbox) -> tuple[WebhookEvent, object]:
    """A status callback that beat the send's bookkeeping (pending), whose Delivery has been
    recorded since: the next sweep applies it."""
    event = journaled(inbox, "status_delivered", state="pending")
    delivery = make_outbound(inbox, to="+14155550111", sid="SM" + "2" * 32, status="sent")
    received(event, seconds_ago=60)
    return event, delivery


def test_the_sweep_applies_the_events_after_one_it_cannot_process(sms_inbox, other_tenant):
    from omnichannel.tasks import replay_pending_webhooks_task
    from tests.inbox.conftest import make_email_inbox

    # The oldest pending event is broken (its stored body is not the base64 it claims to be);
    # another tenant's deferred callback comes after it.
    broken = journal.record(
        make_email_inbox(other_tenant, esp="postmark"),
        kind="inbound",
        url="http://testserver/webhooks/anymail/x/inbound/",
        content_type="application/json",
        body=b"{}",
    )
    WebhookEvent.objects.filter(pk=broken.pk).update(body_encoding="base64", body="not*base64")
    received(broken, seconds_ago=300)
    event, delivery = deferred_callback(sms_inbox)

    assert replay_pending_webhooks_task.apply().get() == 2

    event.refresh_from_db()
    delivery.refresh_from_db()
    assert (event.state, delivery.status) == ("processed", "delivered")
    broken.refresh_from_db()
    assert broken.state == "failed"
    assert broken.error.startswith("The replay failed: Error: ")
    assert broken.attempts == 1


def test_a_pending_event_with_a_nul_in_its_sender_no_longer_blocks_the_sweep(sms_inbox):
    from omnichannel.tasks import replay_pending_webhooks_task

    # As a request with a NUL in From was left (journaled, pending) before senders were checked.
    poisoned = journaled(sms_inbox, "inbound_sms", state="pending", From="+1415555\x000111")
    received(poisoned, seconds_ago=120)
    event, delivery = deferred_callback(sms_inbox)

    replay_pending_webhooks_task.apply().get()

    poisoned.refresh_from_db()
    assert poisoned.state == "invalid"
    assert poisoned.error == "The From parameter “+1415555\\x000111” contains control characters."
    event.refresh_from_db()
    delivery.refresh_from_db()
    assert (event.state, delivery.status) == ("processed", "delivered")
    assert not Message.objects.filter(direction="inbound").exists()


def test_the_command_counts_an_event_it_cannot_process_as_failed_and_goes_on(sms_inbox):
    broken = journaled(sms_inbox, "inbound_stop")
    WebhookEvent.objects.filter(pk=broken.pk).update(body_encoding="base64", body="not*base64")
    journaled(sms_inbox, "inbound_sms")

    assert replay() == {"replayed": 2, "processed": 1, "invalid": 0, "failed": 1, "skipped": 0}
    assert Message.objects.get().body == "Hello"
