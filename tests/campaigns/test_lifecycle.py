"""Campaign states, the audience snapshot and its skip reasons, schedules and quiet hours."""

import datetime
import zoneinfo

import pytest
from django.utils import timezone

from campaigns import engine
from campaigns.lifecycle import (
    CampaignInvalid,
    do_cancel_campaign,
    do_launch_campaign,
    do_pause_campaign,
    do_resume_campaign,
    do_save_campaign,
    tick,
)
from campaigns.models import Campaign, CampaignRecipient
from contacts.actions import do_set_consent
from contacts.blocklist import do_block_address
from contacts.lists import add_members, do_create_list, do_create_segment
from contacts.models import BlockedAddress, Consent, Contact
from omnichannel.actions import ActionError
from tests.campaigns.conftest import make_contacts
from tests.campaigns.test_engine import counters_match_rows

S = Campaign.Status
R = CampaignRecipient.Status


def test_a_campaign_is_launched_once(tenant, audience, make_campaign):
    campaign = make_campaign(lists=[audience(3)])
    do_launch_campaign(campaign)
    with pytest.raises(ActionError) as refused:
        do_launch_campaign(campaign)
    assert refused.value.code == "conflict"
    assert "started once" in refused.value.message
    assert CampaignRecipient.objects.filter(campaign=campaign).count() == 3


def test_the_snapshot_counts_every_skip_reason(tenant, sms_inbox, audience, make_campaign):
    vip = audience(6, name="VIP")
    contacts = list(Contact.objects.filter(tenant=tenant).order_by("pk"))
    do_set_consent(
        contacts[0],
        channel="sms",
        sender=sms_inbox.address,
        status=Consent.Status.OPTED_OUT,
        source=Consent.Source.KEYWORD,
    )
    do_block_address(tenant, kind=BlockedAddress.Kind.PHONE, value=contacts[1].phone)
    no_phone = Contact.objects.create(tenant=tenant, name="No phone")
    add_members(vip, [no_phone.pk])
    newsletter = do_create_list(tenant, name="Newsletter")
    add_members(newsletter, [contacts[2].pk, contacts[3].pk])
    gold = do_create_segment(tenant, name="Everyone named Person2", filters={"q": "Person2"})

    campaign = do_launch_campaign(make_campaign(lists=[vip, newsletter], segments=[gold]))

    assert campaign.total == 7 + 3  # 7 people, Person2 three times, Person3 twice
    skipped = dict(
        CampaignRecipient.objects.filter(campaign=campaign, status=R.SKIPPED)
        .values_list("skip_reason")
        .annotate(n=__import__("django.db.models", fromlist=["Count"]).Count("id"))
    )
    assert skipped == {"opted_out": 1, "blocked": 1, "invalid": 1, "duplicate": 3}
    assert (campaign.skipped, campaign.pending) == (6, 4)
    engine.work(campaign.pk, seconds=30)
    counters_match_rows(campaign)
    assert campaign.sent == 4


def test_a_contact_in_two_lists_is_messaged_once(tenant, fake_twilio, make_campaign):
    first, second = do_create_list(tenant, name="A"), do_create_list(tenant, name="B")
    people = make_contacts(tenant, 4)
    add_members(first, [p.pk for p in people])
    add_members(second, [p.pk for p in people])
    campaign = do_launch_campaign(make_campaign(lists=[first, second]))
    engine.work(campaign.pk, seconds=30)
    numbers = [r.params["To"] for r in fake_twilio.sent]
    assert sorted(numbers) == sorted(p.phone for p in people)


def test_invalid_campaigns_name_every_field(tenant, other_tenant, sms_inbox, sms_template):
    foreign = do_create_list(other_tenant, name="Theirs")
    with pytest.raises(CampaignInvalid) as invalid:
        do_save_campaign(
            tenant,
            {
                "name": " ",
                "inbox": sms_inbox.pk,
                "template": sms_template.pk,
                "lists": [foreign.pk],
                "pacing": "delay",
                "delay_seconds": "-3",
                "scheduled_at": "next tuesday",
                "quiet_start": "25:00",
            },
        )
    assert set(invalid.value.errors) == {
        "name",
        "lists",
        "delay_seconds",
        "scheduled_at",
        "quiet_start",
    }
    assert Campaign.objects.count() == 0


def test_a_template_for_another_channel_is_refused(tenant, sms_inbox):
    from campaigns.services import do_save_template

    whatsapp = do_save_template(
        tenant,
        name="Approved",
        channel="whatsapp",
        content_sid="HX" + "a" * 32,
        variables={"1": "firstName"},
    )
    with pytest.raises(CampaignInvalid) as invalid:
        do_save_campaign(tenant, {"name": "X", "inbox": sms_inbox.pk, "template": whatsapp.pk})
    assert "whatsapp" in invalid.value.errors["template"]


def test_a_naive_schedule_is_read_in_the_tenants_zone(tenant, audience, make_campaign):
    tenant.timezone = "America/Mexico_City"
    tenant.save()
    campaign = make_campaign(lists=[audience(2)], scheduled_at="2031-01-15T09:00")
    assert campaign.scheduled_at == datetime.datetime(
        2031, 1, 15, 9, 0, tzinfo=zoneinfo.ZoneInfo("America/Mexico_City")
    )
    campaign = do_launch_campaign(campaign)
    assert campaign.status == S.SCHEDULED
    assert tick()["started"] == 0
    assert tick(now=campaign.scheduled_at + datetime.timedelta(seconds=1))["started"] == 1
    campaign.refresh_from_db()
    assert campaign.status == S.RUNNING


def test_a_schedule_in_the_past_is_refused_at_launch(tenant, audience, make_campaign):
    campaign = make_campaign(
        lists=[audience(1)], scheduled_at=timezone.now() - datetime.timedelta(hours=2)
    )
    with pytest.raises(CampaignInvalid) as invalid:
        do_launch_campaign(campaign)
    assert "past" in invalid.value.errors["scheduled_at"]


def test_pause_stops_within_one_batch_and_resume_finishes(
    tenant, fake_twilio, audience, make_campaign, settings
):
    settings.CAMPAIGN_BATCH_SIZE = 10
    campaign = do_launch_campaign(make_campaign(lists=[audience(25)]))
    do_pause_campaign(campaign)
    assert engine.work(campaign.pk, seconds=30) == "not_running"
    assert fake_twilio.sent == []
    do_resume_campaign(campaign)
    assert engine.work(campaign.pk, seconds=30) == "finished"
    assert len(fake_twilio.sent) == 25


def test_cancel_settles_every_waiting_recipient(tenant, fake_twilio, audience, make_campaign):
    campaign = do_launch_campaign(make_campaign(lists=[audience(8)]))
    leased = engine.claim(campaign, "someone", 3)
    assert len(leased) == 3
    campaign = do_cancel_campaign(campaign)
    assert campaign.status == S.CANCELLED
    assert (campaign.cancelled, campaign.pending) == (8, 0)
    counters_match_rows(campaign)
    with pytest.raises(ActionError):
        do_resume_campaign(campaign)
    assert engine.work(campaign.pk, seconds=5) == "not_running"
    assert fake_twilio.sent == []


def test_quiet_hours_hold_people_whose_local_time_is_quiet(tenant, fake_twilio, make_campaign):
    """Each recipient's own zone: whoever is inside the quiet window now waits."""
    now = timezone.now()
    awake_zone, asleep_zone = "UTC", None
    for name in ("Asia/Tokyo", "America/Los_Angeles", "Europe/Madrid", "Asia/Kolkata"):
        local = now.astimezone(zoneinfo.ZoneInfo(name)).time()
        if local.hour not in (now.hour, (now.hour + 1) % 24, (now.hour - 1) % 24):
            asleep_zone = name
            break
    asleep_local = now.astimezone(zoneinfo.ZoneInfo(asleep_zone))
    # A window of two hours around the sleeper's time, which is not UTC's.
    start = (asleep_local - datetime.timedelta(hours=1)).time().replace(second=0, microsecond=0)
    end = (asleep_local + datetime.timedelta(hours=1)).time().replace(second=0, microsecond=0)
    awake = make_contacts(tenant, 2, timezone=awake_zone)
    asleep = make_contacts(tenant, 2, start=10, timezone=asleep_zone)
    people = do_create_list(tenant, name="World")
    add_members(people, [c.pk for c in awake + asleep])
    campaign = make_campaign(
        lists=[people], quiet_hours=True, quiet_start=start.isoformat(), quiet_end=end.isoformat()
    )
    campaign = do_launch_campaign(campaign)

    assert engine.work(campaign.pk, seconds=10) == "waiting"
    assert sorted(r.params["To"] for r in fake_twilio.sent) == sorted(c.phone for c in awake)
    campaign.refresh_from_db()
    assert campaign.status == S.RUNNING and campaign.pending == 2

    # The window "opens" (the quiet hours are changed to a time nobody is in).
    Campaign.objects.filter(pk=campaign.pk).update(
        quiet_start=datetime.time(0, 0), quiet_end=datetime.time(0, 0)
    )
    assert engine.work(campaign.pk, seconds=10) == "finished"
    assert len(fake_twilio.sent) == 4


def test_expired_leases_wait_again_and_started_sends_become_unknown(
    tenant, fake_twilio, audience, make_campaign
):
    campaign = do_launch_campaign(make_campaign(lists=[audience(5)]))
    leased = engine.claim(campaign, "dead-worker", 5)
    engine.start_sending(campaign, "dead-worker", [leased[0].id, leased[1].id])
    CampaignRecipient.objects.filter(campaign=campaign).update(
        lease_expires_at=timezone.now() - datetime.timedelta(seconds=1)
    )
    assert engine.return_expired_leases() == {"returned": 3, "unknown": 2}
    counters_match_rows(campaign)
    assert engine.work(campaign.pk, seconds=30) == "finished"
    campaign.refresh_from_db()
    assert (campaign.sent, campaign.unknown, campaign.status) == (3, 2, S.COMPLETED)
    unknown = CampaignRecipient.objects.filter(campaign=campaign, status=R.UNKNOWN)
    assert {r.address for r in unknown}.isdisjoint({r.params["To"] for r in fake_twilio.sent})
    assert "not sent again" in unknown.first().error_message
    counters_match_rows(campaign)


def test_a_stopping_worker_gives_back_its_unstarted_leases(
    tenant, fake_twilio, audience, make_campaign, settings
):
    import threading

    campaign = do_launch_campaign(make_campaign(lists=[audience(10)]))
    stop = threading.Event()
    stop.set()
    assert engine.work(campaign.pk, worker="w1", seconds=10, stop=stop) == "stopped"
    assert CampaignRecipient.objects.filter(campaign=campaign, status=R.PENDING).count() == 10
    assert CampaignRecipient.objects.filter(leased_by="w1").count() == 0
