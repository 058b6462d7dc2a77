"""Status callbacks applied in batches from the journal: the request only checks and journals
them; a batch moves every delivery it names in one statement, forward only, as one by one."""

import time
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.utils import timezone

from contacts.actions import is_opted_out
from inbox import hooks
from inbox.actions.status_batches import do_apply_status_batch
from inbox.models import Delivery
from omnichannel.models import WebhookEvent
from omnichannel.tasks import replay_pending_webhooks_task
from tests.fakes.twilio import make_twilio_inbox
from tests.inbox.webhook_helpers import make_outbound, signed_twilio_request

pytestmark = [pytest.mark.django_db, pytest.mark.clock]


def journal(inbox, fixture: str, sid: str, **overrides) -> None:
    """POST a signed status callback; the request only journals it (nothing applied yet)."""
    path, params, headers = signed_twilio_request(
        inbox, fixture, MessageSid=sid, SmsSid=sid, **overrides
    )
    response = Client().post(
        path,
        data=urlencode(params),
        content_type="application/x-www-form-urlencoded",
        headers=headers,
    )
    assert response.status_code == 204, response.content


def sid(n: int) -> str:
    return f"SM{n:032x}"


@pytest.fixture
def failed_hook():
    calls: list = []
    hook = hooks.register_delivery_failed(calls.append)
    yield calls
    hooks.on_delivery_failed.remove(hook)


def test_the_request_only_checks_and_journals_a_callback(sms_inbox, django_assert_num_queries):
    delivery = make_outbound(sms_inbox, to="+14155550111", sid=sid(1))
    with django_assert_num_queries(2):  # the inbox by its token, the journal's INSERT
        journal(sms_inbox, "status_delivered", sid(1))

    delivery.refresh_from_db()
    assert delivery.status == "queued"
    assert WebhookEvent.objects.get(kind="status").state == "pending"
    assert do_apply_status_batch("twilio") == 1
    delivery.refresh_from_db()
    assert delivery.status == "delivered"


def test_a_malformed_callback_is_refused_in_the_request_and_never_applied(sms_inbox):
    make_outbound(sms_inbox, to="+14155550111", sid=sid(1))
    path, params, headers = signed_twilio_request(
        sms_inbox, "status_delivered", MessageSid=sid(1), SmsSid=sid(1), MessageStatus="bogus"
    )
    response = Client().post(
        path,
        data=urlencode(params),
        content_type="application/x-www-form-urlencoded",
        headers=headers,
    )

    assert response.status_code == 400
    event = WebhookEvent.objects.get(kind="status")
    assert event.state == "invalid" and "bogus" in event.error
    assert do_apply_status_batch("twilio") == 0


def test_a_batch_costs_the_same_queries_for_ten_deliveries_as_for_forty(
    sms_inbox, django_assert_max_num_queries
):
    for n in range(50):
        make_outbound(sms_inbox, to=f"+1415555{n:04d}", sid=sid(n))
    for n in range(10):
        journal(sms_inbox, "status_sent", sid(n))
        journal(sms_inbox, "status_delivered", sid(n))
    # Savepoints, the claim, the one UPDATE of every delivery and message, the journal's UPDATE.
    with django_assert_max_num_queries(7):
        assert do_apply_status_batch("twilio") == 20
    for n in range(10, 50):
        journal(sms_inbox, "status_sent", sid(n))
        journal(sms_inbox, "status_delivered", sid(n))
    with django_assert_max_num_queries(7):
        assert do_apply_status_batch("twilio") == 80

    assert set(Delivery.objects.values_list("status", "message__status")) == {
        ("delivered", "delivered")
    }
    assert not WebhookEvent.objects.exclude(state="processed").exists()


def test_callbacks_of_one_delivery_in_one_batch_end_where_one_by_one_would(sms_inbox):
    ahead = make_outbound(sms_inbox, to="+14155550111", sid=sid(1))
    behind = make_outbound(sms_inbox, to="+14155550112", sid=sid(2), status="delivered")
    failed = make_outbound(sms_inbox, to="+14155550113", sid=sid(3))
    journal(sms_inbox, "status_sent", sid(1))
    journal(sms_inbox, "status_delivered", sid(1))
    journal(sms_inbox, "status_sending", sid(1))
    journal(sms_inbox, "status_sent", sid(2))
    journal(sms_inbox, "status_undelivered_30003", sid(3))
    journal(sms_inbox, "status_delivered", sid(3))

    assert do_apply_status_batch("twilio") == 6

    for delivery in (ahead, behind, failed):
        delivery.refresh_from_db()
    assert (ahead.status, ahead.message.status) == ("delivered", "delivered")
    assert ahead.sent_at and ahead.delivered_at
    assert behind.status == "delivered" and behind.sent_at is None  # never moved back
    assert (failed.status, failed.error_code) == ("undelivered", "30003")
    assert "unreachable" in failed.error_message and failed.failed_at is not None
    notes = list(WebhookEvent.objects.order_by("id").values_list("error", flat=True))
    assert notes == [
        f"Delivery {ahead.pk} stays delivered (not moved to sent).",
        f"Delivery {ahead.pk} is delivered.",
        f"Delivery {ahead.pk} stays delivered (not moved to sending).",
        f"Delivery {behind.pk} stays delivered (not moved to sent).",
        f"Delivery {failed.pk} is undelivered.",
        f"Delivery {failed.pk} stays undelivered (not moved to delivered).",
    ]


def test_failures_reach_the_hooks_and_an_opt_out_the_consent_once(sms_inbox, failed_hook):
    opted = make_outbound(sms_inbox, to="+14155550111", sid=sid(1), status="sent")
    lost = make_outbound(sms_inbox, to="+14155550112", sid=sid(2), status="sent")
    fine = make_outbound(sms_inbox, to="+14155550113", sid=sid(3), status="sent")
    journal(sms_inbox, "status_undelivered_30003", sid(1), ErrorCode="21610")
    journal(sms_inbox, "status_undelivered_30003", sid(2))
    journal(sms_inbox, "status_undelivered_30003", sid(2))
    journal(sms_inbox, "status_delivered", sid(3))

    assert do_apply_status_batch("twilio") == 4

    assert sorted(d.pk for d in failed_hook) == [opted.pk, lost.pk]
    contact = opted.message.conversation.contact
    assert is_opted_out(contact, channel=sms_inbox.kind, sender=sms_inbox.address)
    assert not is_opted_out(
        lost.message.conversation.contact, channel=sms_inbox.kind, sender=sms_inbox.address
    )
    fine.refresh_from_db()
    assert fine.status == "delivered"


def test_a_callback_before_its_send_is_recorded_waits_for_the_replay_sweep(sms_inbox):
    journal(sms_inbox, "status_delivered", sid(1))

    assert do_apply_status_batch("twilio") == 1
    event = WebhookEvent.objects.get(kind="status")
    assert (event.state, event.attempts) == ("pending", 1)
    assert "No delivery has id" in event.error
    assert do_apply_status_batch("twilio") == 0  # a deferred one is the sweep's, not the batch's

    delivery = make_outbound(sms_inbox, to="+14155550111", sid=sid(1), status="sent")
    WebhookEvent.objects.filter(pk=event.pk).update(
        received_at=timezone.now() - timedelta(minutes=1)
    )
    replay_pending_webhooks_task()

    delivery.refresh_from_db()
    assert delivery.status == "delivered"
    event.refresh_from_db()
    assert event.state == "processed"


def test_another_tenants_callback_cannot_move_a_delivery(sms_inbox, other_tenant, fake_twilio):
    delivery = make_outbound(sms_inbox, to="+14155550111", sid=sid(1), status="sent")
    intruder = make_twilio_inbox(other_tenant, sim=fake_twilio)
    journal(intruder, "status_undelivered_30003", sid(1))

    do_apply_status_batch("twilio")

    delivery.refresh_from_db()
    assert delivery.status == "sent"
    assert "No delivery has id" in WebhookEvent.objects.get(kind="status").error


@pytest.mark.usefixtures("empty_celery_broker")
def test_a_burst_of_callbacks_schedules_one_run_and_a_callback_after_its_start_another(
    settings,
):
    from django.core.cache import cache

    from inbox.tasks import webhooks as tasks
    from tests.celery_broker import backlog

    settings.STATUS_BATCH_DELAY_MS = 300
    cache.delete(tasks._scheduled_key("twilio", "status"))
    tasks._not_started_before.clear()
    for _ in range(5):
        tasks.schedule_status_batch("twilio", "status")
    assert backlog()["queued"] == 1

    tasks._not_started_before.clear()  # another web process: Redis tells it a run is coming
    tasks.schedule_status_batch("twilio", "status")
    assert backlog()["queued"] == 1

    tasks.apply_status_batches_task("twilio", "status")  # the run starts
    time.sleep(0.3)
    tasks.schedule_status_batch("twilio", "status")
    assert backlog()["queued"] == 2
