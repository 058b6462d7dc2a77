"""Campaigns through a BlueBubbles (iMessage) inbox, against the fake BlueBubbles server: the
circuit breaker is keyed on the server and pauses the campaign while it answers errors, the
campaign resumes after; the sender is paced to one message every 3 seconds by default (bulk
iMessage from one Apple ID gets it flagged), which the builder and the channel's page say;
consent is checked when each message leaves."""

import time

import pytest
from django.core.cache import cache

from campaigns import engine, lifecycle
from campaigns.lifecycle import do_launch_campaign, do_save_campaign
from campaigns.models import Campaign, CampaignRecipient
from campaigns.pacing import buckets_for, sender_rate
from campaigns.services import do_save_template
from contacts.actions import do_set_consent
from contacts.models import Consent
from inbox.actions.inboxes import do_create_inbox, do_update_inbox
from inbox.models import Delivery
from omnichannel.channels import Channel
from tests.campaigns.test_engine import counters_match_rows
from tests.inbox.bluebubbles_helpers import make_bb_inbox

pytestmark = pytest.mark.django_db

R = CampaignRecipient.Status


@pytest.fixture
def imessage(tenant, bb_server):
    cache.clear()  # server info is cached per inbox id
    return make_bb_inbox(tenant, bb_server)


@pytest.fixture
def imessage_template(tenant):
    return do_save_template(
        tenant, name="Hello by iMessage", channel=Channel.IMESSAGE, body="Hi {{firstName}}!"
    )


@pytest.fixture
def campaign_of(make_campaign, imessage, imessage_template, audience):
    def make(count: int) -> Campaign:
        return do_launch_campaign(
            make_campaign(lists=[audience(count)], inbox=imessage, template=imessage_template)
        )

    return make


def sent_to(server) -> list[str]:
    return [message["handle"]["address"] for message in server.sent]


def sends_tried(server) -> int:
    return len([path for _, path, _ in server.requests if path == "/api/v1/chat/new"])


def test_the_breaker_pauses_the_campaign_while_the_server_fails_and_it_resumes_after(
    tenant, imessage, bb_server, campaign_of, settings
):
    settings.CAMPAIGN_BREAKER_THRESHOLD = 3
    settings.CAMPAIGN_WORKERS = 0  # resuming enqueues no Celery task: this test is the worker
    # Two messages a chunk, a short cool-down.
    imessage.settings = {
        **imessage.settings,
        "messages_per_second": 20,
        "breaker_cooldown_seconds": 0.5,
    }
    imessage.save(update_fields=["settings"])
    campaign = campaign_of(20)
    bb_server.down = True

    assert engine.work(campaign.pk, seconds=20) == "paused"

    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.PAUSED and campaign.paused_by_breaker
    assert "Paused automatically: BlueBubbles failed 3 times in a row" in campaign.pause_reason
    assert not bb_server.sent
    # A 500 to a send may hide a message that went out: those are final, never tried again.
    tried_while_down = sends_tried(bb_server)
    assert 3 <= tried_while_down < 20
    assert campaign.failed == tried_while_down
    # Still down: the cool-down ends, the probe fails, it stays paused.
    time.sleep(0.6)
    assert lifecycle.tick()["resumed"] == 1
    assert engine.work(campaign.pk, seconds=20) == "paused"
    assert sends_tried(bb_server) == tried_while_down + 1

    bb_server.down = False
    time.sleep(0.6)
    assert lifecycle.tick()["resumed"] == 1
    assert engine.work(campaign.pk, seconds=20) == "finished"

    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.COMPLETED and campaign.pause_reason == ""
    assert campaign.sent == 20 - tried_while_down - 1
    assert campaign.sent + campaign.failed == 20
    assert len(sent_to(bb_server)) == campaign.sent == len(set(sent_to(bb_server)))
    counters_match_rows(campaign)
    recipient = CampaignRecipient.objects.filter(campaign=campaign, status=R.SENT).first()
    delivery = Delivery.objects.get(message_id=recipient.message_id)
    assert (delivery.inbox, delivery.provider_message_id) == (
        imessage,
        recipient.provider_message_id,
    )


def test_the_breaker_is_keyed_on_the_server_not_the_inbox(tenant, imessage, bb_server, campaign_of):
    campaign = campaign_of(1)
    key = engine.breaker_for(campaign).key
    campaign.inbox = do_create_inbox(
        tenant,
        kind=Channel.IMESSAGE,
        provider="bluebubbles",
        name="Second Apple ID",
        address="+14155550199",
        credentials={"server_url": bb_server.base_url, "password": bb_server.password},
    )

    assert engine.breaker_for(campaign).key == key
    assert key.endswith(f"bluebubbles:{bb_server.base_url}")


def test_an_imessage_sender_goes_one_message_every_3_seconds_unless_set(
    tenant, imessage, campaign_of
):
    campaign = campaign_of(2)

    assert sender_rate(campaign) == pytest.approx(1 / 3)
    [bucket] = buckets_for(campaign)
    assert bucket.rate < 1 / 3 and bucket.capacity == 1
    do_update_inbox(imessage, messages_per_second=0.2)
    campaign.inbox.refresh_from_db()
    assert sender_rate(campaign) == pytest.approx(0.2)


def test_the_builder_says_an_imessage_campaign_is_paced(
    tenant, imessage, imessage_template, owner, login
):
    client = login(owner)

    page = client.get("/campaigns/new/").content.decode()
    assert f'<option value="{imessage.pk}" data-channel="imessage"' in page
    preview = client.get(
        "/campaigns/preview/", {"inbox": imessage.pk, "template": imessage_template.pk}
    ).content.decode()
    note = (
        "iMessage campaigns are paced to one message every 3 s: bulk iMessage from one Apple ID "
        "gets it flagged."
    )
    assert note in preview
    campaign = do_save_campaign(
        tenant, {"name": "Spring", "inbox": imessage.pk, "template": imessage_template.pk}
    )
    assert note in client.get(f"/campaigns/{campaign.pk}/").content.decode()


def test_the_channel_page_sets_the_pace(tenant, imessage, sms_inbox, owner, login):
    client = login(owner)
    page = client.get(f"/settings/channels/{imessage.pk}/").content.decode()
    assert 'name="campaign_seconds" type="number"' in page and 'value="3"' in page
    assert "one message every 3 s: bulk iMessage from one Apple ID gets it flagged" in page
    assert (
        'name="campaign_seconds"'
        not in client.get(f"/settings/channels/{sms_inbox.pk}/").content.decode()
    )

    form = {"name": imessage.name, "is_active": "on", "fallback_inbox": ""}
    assert (
        client.post(
            f"/settings/channels/{imessage.pk}/edit/", {**form, "campaign_seconds": "3"}
        ).status_code
        == 302
    )
    imessage.refresh_from_db()
    assert "messages_per_second" not in imessage.settings  # the default stays a default
    client.post(f"/settings/channels/{imessage.pk}/edit/", {**form, "campaign_seconds": "5"})
    imessage.refresh_from_db()
    assert imessage.settings["messages_per_second"] == pytest.approx(0.2)
    refused = client.post(
        f"/settings/channels/{imessage.pk}/edit/", {**form, "campaign_seconds": "0"}
    )
    assert refused.status_code == 400
    imessage.refresh_from_db()
    assert imessage.settings["messages_per_second"] == pytest.approx(0.2)


def test_someone_who_opts_out_of_imessage_after_the_launch_gets_nothing(
    tenant, imessage, bb_server, campaign_of
):
    imessage.settings = {**imessage.settings, "messages_per_second": 1000}
    imessage.save(update_fields=["settings"])
    campaign = campaign_of(3)
    first = CampaignRecipient.objects.filter(campaign=campaign).order_by("pk").first()
    do_set_consent(
        first.contact,
        channel=Channel.IMESSAGE,
        sender=imessage.address,
        status=Consent.Status.OPTED_OUT,
        source=Consent.Source.KEYWORD,
        detail="STOP",
    )

    assert engine.work(campaign.pk, seconds=20) == "finished"

    first.refresh_from_db()
    assert (first.status, first.skip_reason) == (R.SKIPPED, "opted_out")
    assert first.address not in sent_to(bb_server) and len(sent_to(bb_server)) == 2


def test_the_api_sets_the_pace(tenant, imessage, client, api_token):
    headers = {"Authorization": f"Bearer {api_token}"}
    url = f"/api/v1/inboxes/{imessage.pk}"

    response = client.patch(
        url, {"messages_per_second": 0.25}, content_type="application/json", headers=headers
    )

    assert response.status_code == 200, response.content
    assert response.json()["settings"]["messages_per_second"] == 0.25
    too_fast = client.patch(
        url, {"messages_per_second": 5000}, content_type="application/json", headers=headers
    )
    assert too_fast.status_code == 400 and "1000 a second" in too_fast.json()["error"]["message"]
