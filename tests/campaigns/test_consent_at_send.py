"""Consent is checked when a message leaves, not only at launch: people who text STOP, are
blocklisted, erased or deleted while a campaign runs get nothing more from it, and the
campaign counts them as skipped with the reason.

"The middle of the campaign" is made deterministic by driving the engine's own steps (claim,
hand-off, send, record) for the first chunk, changing consent through the real webhook and
API, then letting the engine finish.
"""

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from campaigns import engine
from campaigns.lifecycle import do_launch_campaign
from campaigns.models import Campaign, CampaignRecipient
from campaigns.stats import campaign_stats
from contacts.actions import do_set_consent
from contacts.blocklist import do_block_address
from contacts.gdpr import do_erase_contact
from contacts.models import BlockedAddress, Consent, Contact
from tests.campaigns.test_engine import counters_match_rows
from tests.inbox.api_factories import bearer
from tests.inbox.webhook_helpers import assert_empty_twiml, post_twilio

pytestmark = pytest.mark.django_db

R = CampaignRecipient.Status
WORKER = "test-worker"


def rows_of(campaign: Campaign) -> list[CampaignRecipient]:
    return list(CampaignRecipient.objects.filter(campaign=campaign).order_by("pk"))


def hand_off(campaign: Campaign, leased: list[engine.Leased]) -> list[str]:
    """What a worker does with one chunk it holds: mark it sending (the consent check), send
    what is left through the real SDK, record. The numbers it sent to."""
    started = engine.start_sending(campaign, WORKER, [row.id for row in leased])
    chunk = [row for row in leased if row.id in started]
    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = engine.send_chunk(campaign, chunk, pool, [])
    engine.record(campaign, WORKER, outcomes)
    return [row.address for row in chunk]


def sent_to(fake_twilio) -> list[str]:
    return [request.params["To"] for request in fake_twilio.sent]


def api(client, method: str, path: str, token: str, body=None):
    return client.generic(
        method.upper(),
        f"/api/v1{path}",
        data=json.dumps(body) if body is not None else b"",
        content_type="application/json",
        **bearer(token),
    )


def text_stop(inbox, phone: str, n: int, body: str = "STOP") -> None:
    """The contact texts STOP (or ``body``): Twilio's signed webhook through the real URL."""
    sid = f"SM{n:032x}"
    response = post_twilio(
        inbox,
        "inbound_stop",
        Body=body,
        From=phone,
        To=inbox.address,
        MessageSid=sid,
        SmsMessageSid=sid,
        SmsSid=sid,
    )
    assert_empty_twiml(response)


def test_stop_blocklist_erasure_and_deletion_mid_campaign_stop_the_message(
    tenant, client, api_token, fake_twilio, sms_inbox, audience, make_campaign
):
    campaign = do_launch_campaign(make_campaign(lists=[audience(30)]))
    rows = rows_of(campaign)
    # A worker holds the first 20; the other 10 still wait.
    leased = engine.claim(campaign, WORKER, 20)
    assert [row.id for row in leased] == [row.pk for row in rows[:20]]
    first = hand_off(campaign, leased[:10])
    assert sorted(first) == sorted(sent_to(fake_twilio)) == [row.address for row in rows[:10]]

    # Meanwhile, among those not reached yet (some already claimed, some waiting):
    stopped = [rows[10], rows[11], rows[25]]
    for n, row in enumerate(stopped):
        text_stop(sms_inbox, row.address, n)
    blocked = [rows[12], rows[26]]
    for row in blocked:
        response = api(client, "post", "/contacts/blocklist", api_token, {"phone": row.address})
        assert response.status_code == 201, response.content
    erased = rows[13]
    response = api(client, "post", f"/contacts/{erased.contact_id}/erase", api_token)
    assert response.status_code == 200, response.content
    deleted = rows[27]
    response = api(client, "delete", f"/contacts/{deleted.contact_id}", api_token)
    assert response.status_code == 204, response.content
    # The latest word counts: STOP then START gets the message.
    changed_mind = rows[14]
    text_stop(sms_inbox, changed_mind.address, 10)
    text_stop(sms_inbox, changed_mind.address, 11, body="START")
    # The STOPs were answered and stored as the contacts' consent.
    assert Consent.objects.filter(
        contact_id__in=[row.contact_id for row in stopped],
        channel="sms",
        sender=sms_inbox.address,
        status=Consent.Status.OPTED_OUT,
    ).count() == len(stopped)

    # The claimed rest goes out (the check is at hand-off, not at claim), then the engine
    # finishes the campaign on its own.
    second = hand_off(campaign, leased[10:])
    assert len(second) == 10 - 4
    assert engine.work(campaign.pk, seconds=30) == "finished"

    excluded = {row.address for row in [*stopped, *blocked, erased, deleted]}
    numbers = sent_to(fake_twilio)
    assert len(numbers) == len(set(numbers)) == 30 - len(excluded)
    assert excluded.isdisjoint(numbers)
    assert changed_mind.address in numbers

    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.COMPLETED
    assert (campaign.sent, campaign.skipped, campaign.pending) == (23, 7, 0)
    counters_match_rows(campaign)
    expected = {"opted_out": 3, "blocked": 2, "erased": 1, "deleted": 1}
    assert campaign_stats(campaign).skipped_by_reason == expected
    stats = api(client, "get", f"/campaigns/{campaign.pk}/stats", api_token).json()
    assert (stats["skipped"], stats["skipped_by_reason"]) == (7, expected)
    by_reason = {
        row.skip_reason: row
        for row in CampaignRecipient.objects.filter(campaign=campaign, status=R.SKIPPED)
    }
    assert by_reason["deleted"].contact_id is None
    assert by_reason["erased"].message_id is None and by_reason["erased"].finished_at


def test_the_live_page_names_each_reason(
    tenant, owner, login, fake_twilio, sms_inbox, audience, make_campaign
):
    campaign = do_launch_campaign(make_campaign(lists=[audience(4)]))
    rows = rows_of(campaign)
    do_erase_contact(Contact.objects.get(pk=rows[0].contact_id))
    Contact.objects.filter(pk=rows[1].contact_id).delete()
    assert engine.work(campaign.pk, seconds=30) == "finished"

    html = login(owner).get(f"/campaigns/{campaign.pk}/live/").content.decode()
    assert 'data-count="skipped">2<' in html
    assert 'Contact erased</span> <strong data-skip="erased">1<' in html
    assert 'Contact deleted</span> <strong data-skip="deleted">1<' in html


def test_an_opt_out_reported_by_the_provider_mid_campaign_stops_the_next_chunks(
    tenant, fake_twilio, sms_inbox, audience, make_campaign
):
    """Twilio's 21610 on a message of one campaign records the opt-out; the same person in a
    second, running campaign is then skipped at hand-off."""
    people = audience(3)
    first = do_launch_campaign(make_campaign(lists=[people], name="First"))
    second = do_launch_campaign(make_campaign(lists=[people], name="Second"))
    fake_twilio.queue_response(status=400, code=21610)
    assert engine.work(first.pk, seconds=30) == "finished"
    refused = CampaignRecipient.objects.get(campaign=first, status=R.FAILED)

    assert engine.work(second.pk, seconds=30) == "finished"
    skipped = CampaignRecipient.objects.get(campaign=second, status=R.SKIPPED)
    assert (skipped.address, skipped.skip_reason) == (refused.address, "opted_out")
    assert sent_to(fake_twilio).count(refused.address) == 1
    counters_match_rows(second)


def test_the_hand_off_check_is_one_query_per_chunk_whatever_its_size(
    tenant, fake_twilio, sms_inbox, audience, make_campaign
):
    campaign = do_launch_campaign(make_campaign(lists=[audience(60)]))
    rows = rows_of(campaign)
    for row in rows[5:60:6]:
        do_set_consent(
            Contact.objects.get(pk=row.contact_id),
            channel="sms",
            sender=sms_inbox.address,
            status=Consent.Status.OPTED_OUT,
            source=Consent.Source.KEYWORD,
        )
    for row in rows[2:60:9]:
        do_block_address(tenant, kind=BlockedAddress.Kind.PHONE, value=row.address)
    do_erase_contact(Contact.objects.get(pk=rows[1].contact_id))
    Contact.objects.filter(pk=rows[40].contact_id).delete()
    leased = engine.claim(campaign, WORKER, 55)
    # The last five are another worker's: this one neither starts nor skips them.
    theirs = engine.claim(campaign, "another-worker", 5)
    Contact.objects.filter(pk=theirs[0].contact_id).delete()
    # As the worker holds it: with its inbox and template.
    campaign = Campaign.objects.select_related("inbox", "template").get(pk=campaign.pk)

    queries = []
    for chunk in (leased[:5], leased[5:] + theirs):
        with CaptureQueriesContext(connection) as captured:
            started = engine.start_sending(campaign, WORKER, [row.id for row in chunk])
        queries.append(len(captured))
        assert started  # some of each chunk are still sent
        assert started.isdisjoint(row.id for row in theirs)
    assert queries == [1, 1]
    assert set(
        CampaignRecipient.objects.filter(pk__in=[row.id for row in theirs]).values_list(
            "status", flat=True
        )
    ) == {R.LEASED}

    campaign.refresh_from_db()
    skipped = CampaignRecipient.objects.filter(campaign=campaign, status=R.SKIPPED)
    assert campaign.skipped == skipped.count() > 10
    assert set(skipped.values_list("skip_reason", flat=True)) == {
        "opted_out",
        "blocked",
        "erased",
        "deleted",
    }
    assert (
        campaign.pending
        == CampaignRecipient.objects.filter(
            campaign=campaign, status__in=[R.SENDING, R.LEASED]
        ).count()
    )


@pytest.mark.django_db(transaction=True)
def test_a_hand_off_that_skips_and_a_cancel_at_the_same_moment_do_not_deadlock(
    tenant, fake_twilio, sms_inbox, audience, make_campaign, settings
):
    """Cancelling locks the campaign, then its waiting and claimed rows; the hand-off takes
    the same locks in the same order, so neither is aborted as a deadlock."""
    from campaigns.lifecycle import do_cancel_campaign

    settings.CAMPAIGN_WORKERS = 0
    campaign = do_launch_campaign(make_campaign(lists=[audience(6)]))
    leased = engine.claim(campaign, WORKER, 6)
    Contact.objects.filter(pk=leased[0].contact_id).delete()  # a skip: counters change
    campaign = Campaign.objects.select_related("inbox", "template").get(pk=campaign.pk)
    outcome: dict = {}

    def hand_off_now() -> None:
        try:
            outcome["started"] = engine.start_sending(campaign, WORKER, [r.id for r in leased])
        except Exception as exc:  # reported below
            outcome["error"] = exc
        finally:
            connection.close()

    with transaction.atomic():
        Campaign.objects.select_for_update().get(pk=campaign.pk)  # cancel's first lock
        worker = threading.Thread(target=hand_off_now)
        worker.start()
        wait_until_blocked(worker)
        do_cancel_campaign(campaign)
    worker.join(30)

    assert "error" not in outcome, outcome.get("error")
    assert outcome["started"] == set()
    campaign.refresh_from_db()
    assert (campaign.status, campaign.cancelled) == (Campaign.Status.CANCELLED, 6)
    counters_match_rows(campaign)


def wait_until_blocked(thread: threading.Thread, seconds: float = 30) -> None:
    """Until another connection waits for a lock (polled; the thread must not finish)."""
    deadline = time.monotonic() + seconds
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT pg_stat_clear_snapshot()")  # fresh within the transaction
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
            if cursor.fetchone()[0]:
                return
            assert thread.is_alive(), "the hand-off finished without waiting for the lock"
            time.sleep(0.01)
    pytest.fail("the hand-off never waited for the campaign's lock")
