"""The campaign pages read times in the person's zone: template and campaign lists, the chart's
axis, the schedule typed in the builder, and the live piece pushed to every member."""

import dataclasses
import datetime
import re
import zoneinfo

import pytest
import time_machine
from django.utils import timezone

from campaigns.charts import sends_over_time
from campaigns.models import Campaign, MessageTemplate
from campaigns.progress import publish_progress
from campaigns.stats import campaign_stats
from omnichannel.events import tenant_group
from omnichannel.models import UserPreference
from tests.campaigns.test_views import builder_post

pytestmark = [pytest.mark.django_db, pytest.mark.clock]

# 03:30 UTC on 5 Dec: 21:30 on 4 Dec in Mexico City, 16:30 on 5 Dec in Auckland.
INSTANT = datetime.datetime(2026, 12, 5, 3, 30, tzinfo=datetime.UTC)
MEXICO = zoneinfo.ZoneInfo("America/Mexico_City")


def text_of(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


@pytest.fixture
def mexico(tenant):
    tenant.timezone = "America/Mexico_City"
    tenant.save(update_fields=["timezone"])
    return tenant


def prefer(user, name: str) -> None:
    UserPreference.objects.update_or_create(user=user, defaults={"timezone": name})


def test_the_template_list_reads_in_the_persons_zone(mexico, owner, login, sms_template):
    MessageTemplate.objects.filter(pk=sms_template.pk).update(updated_at=INSTANT)
    page = text_of(login(owner).get("/campaigns/templates/"))
    assert "4 Dec 2026, 21:30" in page
    assert "Times in America/Mexico_City (CST)" in page


def test_the_campaign_list_and_page_read_in_the_persons_own_zone(
    mexico, owner, login, make_campaign
):
    campaign = make_campaign(scheduled_at=INSTANT.isoformat())
    Campaign.objects.filter(pk=campaign.pk).update(created_at=INSTANT)
    prefer(owner, "Pacific/Auckland")
    client = login(owner)

    assert "Created 5 Dec 2026, 16:30" in text_of(client.get("/campaigns/"))
    page = text_of(client.get(f"/campaigns/{campaign.pk}/"))
    assert "Start 5 Dec 2026, 16:30 Pacific/Auckland (NZDT)" in page
    assert "Created 5 Dec 2026, 16:30" in page


def test_the_builder_reads_a_typed_start_where_the_person_reads_times(
    mexico, owner, login, sms_inbox, sms_template, audience
):
    prefer(owner, "Pacific/Auckland")
    client = login(owner)
    page = text_of(client.get("/campaigns/new/"))
    assert "Pacific/Auckland time" in page
    # Quiet hours of people without a zone still follow the tenant's.
    assert "America/Mexico_City for people without one" in page

    response = client.post(
        "/campaigns/new/",
        builder_post(
            sms_inbox,
            sms_template,
            lists=[audience(1)],
            send_when="later",
            scheduled_at="2031-12-24T09:30",
        ),
    )
    assert response.status_code == 302
    auckland = zoneinfo.ZoneInfo("Pacific/Auckland")
    scheduled = Campaign.objects.get().scheduled_at
    assert scheduled == datetime.datetime(2031, 12, 24, 9, 30, tzinfo=auckland)
    # …and shows it back as typed.
    edit = client.get(f"/campaigns/{Campaign.objects.get().pk}/edit/").content.decode()
    assert 'value="2031-12-24T09:30"' in edit


def test_the_chart_axis_reads_in_the_active_zone_and_names_it(mexico, make_campaign):
    stats = dataclasses.replace(
        campaign_stats(make_campaign()),
        timeline=[
            {"at": INSTANT.isoformat(), "sent": 3},
            {"at": (INSTANT + datetime.timedelta(minutes=1)).isoformat(), "sent": 1},
        ],
    )
    with timezone.override(MEXICO):
        chart = str(sends_over_time(stats))
    assert ">21:30:00</text>" in chart
    assert ">21:31:00 CST</text>" in chart
    assert "<title>21:30:00: 3 sent</title>" in chart
    assert "03:30:00" not in chart


def test_the_live_piece_is_pushed_in_each_members_zone(
    mexico,
    owner,
    make_member,
    make_campaign,
    private_channel_prefix,
    group_events,
    django_capture_on_commit_callbacks,
):
    agent = make_member(mexico, "supervisor")
    prefer(agent, "Pacific/Auckland")
    campaign = make_campaign()
    with time_machine.travel(INSTANT, tick=False):
        Campaign.objects.filter(pk=campaign.pk).update(
            status=Campaign.Status.COMPLETED, started_at=INSTANT, finished_at=INSTANT
        )
    drain = group_events(tenant_group(mexico.pk))
    with django_capture_on_commit_callbacks(execute=True):
        publish_progress(campaign.pk, force=True)
    (event,) = [e for e in drain() if e["event"] == "campaign.progress"]
    pieces = event["html_by_zone"]
    assert set(pieces) == {"America/Mexico_City", "Pacific/Auckland"}
    assert "Finished 4 Dec 2026, 21:30" in pieces["America/Mexico_City"]
    assert "Finished 5 Dec 2026, 16:30" in pieces["Pacific/Auckland"]
