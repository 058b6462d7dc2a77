"""A campaign held by quiet hours says so: how many wait and until when (in the tenant's time
zone), with an ETA that counts the wait, on the builder, the live page and the launch
confirmation. The clock is frozen at 22:31 in Mexico City, inside quiet hours 21:00-08:00."""

import datetime
import re
import zoneinfo

import pytest
import time_machine

from campaigns.lifecycle import do_launch_campaign
from campaigns.pacing import quiet_wait
from campaigns.stats import campaign_stats

pytestmark = [pytest.mark.django_db, pytest.mark.clock]

MEXICO = zoneinfo.ZoneInfo("America/Mexico_City")
EVENING = datetime.datetime(2026, 12, 6, 22, 31, tzinfo=MEXICO)
MORNING = datetime.datetime(2026, 12, 7, 8, 0, tzinfo=MEXICO)
QUIET = {"quiet_hours": True, "quiet_start": "21:00", "quiet_end": "08:00"}


@pytest.fixture(autouse=True)
def evening():
    with time_machine.travel(EVENING, tick=False):
        yield


@pytest.fixture
def mexican_tenant(tenant):
    tenant.timezone = "America/Mexico_City"
    tenant.save(update_fields=["timezone"])
    return tenant


@pytest.fixture
def client(owner, login):
    return login(owner)


def text_of(response) -> str:
    html = response.content.decode()
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#x27;", "'")


def test_the_wait_ends_at_each_zones_end_of_quiet_hours(mexican_tenant, make_campaign, audience):
    campaign = make_campaign(lists=[audience(1)], **QUIET)
    zones = {"America/Mexico_City": 3, "Asia/Tokyo": 2, "America/New_York": 1}
    wait = quiet_wait(campaign, zones, EVENING)
    # 13:31 in Tokyo is not quiet; 23:31 in New York waits until 08:00 there (07:00 here).
    assert wait.count == 4
    assert wait.first_end == datetime.datetime(2026, 12, 7, 7, 0, tzinfo=MEXICO)
    assert wait.last_end == MORNING
    quiet_off = make_campaign(name="Daytime", lists=[audience(1, name="Others", start=100)])
    assert quiet_wait(quiet_off, zones, EVENING).count == 0


def test_a_running_campaign_held_by_quiet_hours_says_so_and_its_eta_counts_the_wait(
    mexican_tenant, client, make_campaign, audience
):
    people = audience(3, timezone="America/Mexico_City")
    campaign = do_launch_campaign(make_campaign(lists=[people], **QUIET))

    stats = campaign_stats(campaign)
    assert (stats.status, stats.queued, stats.waiting_for_quiet_hours) == ("running", 3, 3)
    assert stats.quiet_hours_end == MORNING
    # Nothing goes before 08:00: 9 h 29 min from now, plus the sending itself.
    wait = (MORNING - EVENING).total_seconds()
    assert wait <= stats.eta_seconds <= wait + 60

    page = text_of(client.get(f"/campaigns/{campaign.pk}/"))
    quiet = "quiet hours (21:00\N{EN DASH}08:00 in each person's time zone)"
    assert f"3 of 3 waiting for {quiet}" in page
    assert "until 08:00 on 7 Dec (America/Mexico_City)" in page
    assert "9 h 29 min left" in page
    assert "under a minute left" not in page


def test_the_builder_says_who_would_wait_for_quiet_hours(
    mexican_tenant, client, sms_inbox, sms_template, audience
):
    people = audience(3, timezone="America/Mexico_City")
    query = {"inbox": sms_inbox.pk, "template": sms_template.pk, "lists": people.pk}
    page = text_of(client.get("/campaigns/preview/", {**query, "send_when": "now", **QUIET}))
    assert "Launched now, 3 of the 3 people wait for quiet hours" in page
    assert "until 08:00 on 7 Dec (America/Mexico_City)" in page

    # Starting at 09:00 tomorrow, or without quiet hours, nobody waits.
    later = {"send_when": "later", "scheduled_at": "2026-12-07T09:00", **QUIET}
    assert "wait for quiet hours" not in text_of(
        client.get("/campaigns/preview/", {**query, **later})
    )
    assert "wait for quiet hours" not in text_of(
        client.get("/campaigns/preview/", {**query, "send_when": "now"})
    )


def test_launching_asks_to_confirm_the_audience_cost_and_schedule(
    mexican_tenant, client, make_campaign, audience
):
    campaign = make_campaign(lists=[audience(3, timezone="America/Mexico_City")], **QUIET)
    html = client.get(f"/campaigns/{campaign.pk}/").content.decode()
    form = re.search(rf"<form[^>]*campaigns/{campaign.pk}/launch/[^>]*>", html).group(0)
    confirm = re.search(r'data-confirm="([^"]*)"', form).group(1).replace("&#x27;", "'")
    assert "Launch “Winter sale” now?" in confirm
    assert "3 people get it" in confirm
    assert "about 3 SMS segments, about $0.02" in confirm
    assert "Quiet hours from 21:00 to 08:00 in each person's time zone" in confirm
    assert "3 wait until 08:00 on 7 Dec (America/Mexico_City)" in confirm
