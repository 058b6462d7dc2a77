"""Campaign analytics: delivery and read from the provider's callbacks, replies attributed,
errors grouped by code, charts, and the live push over the channel layer."""

from campaigns import engine
from campaigns.charts import funnel, sends_over_time
from campaigns.lifecycle import do_launch_campaign
from campaigns.models import CampaignRecipient
from campaigns.progress import publish_progress
from campaigns.stats import campaign_stats
from inbox.actions.receive import do_apply_status
from inbox.models import Conversation, Message
from inbox.providers.base import StatusEvent
from omnichannel.events import tenant_group
from tests.inbox.webhook_helpers import receive


def sent_campaign(audience, make_campaign, count: int):
    campaign = do_launch_campaign(make_campaign(lists=[audience(count)]))
    assert engine.work(campaign.pk, seconds=30) == "finished"
    return campaign


def callback(inbox, recipient: CampaignRecipient, status: str, code: str = "") -> None:
    do_apply_status(
        inbox,
        StatusEvent(
            provider_message_id=recipient.provider_message_id, status=status, error_code=code
        ),
    )


def test_stats_follow_the_providers_callbacks(
    tenant, sms_inbox, fake_twilio, audience, make_campaign
):
    fake_twilio.queue_response(status=400, code=21211, times=2)
    campaign = sent_campaign(audience, make_campaign, 10)
    sent = list(CampaignRecipient.objects.filter(campaign=campaign, status="sent").order_by("pk"))
    assert len(sent) == 8
    for recipient in sent[:6]:
        callback(sms_inbox, recipient, "delivered")
    for recipient in sent[:3]:
        callback(sms_inbox, recipient, "read")
    callback(sms_inbox, sent[7], "undelivered", "30003")

    stats = campaign_stats(campaign)

    assert (stats.total, stats.queued, stats.sent) == (10, 0, 8)
    assert (stats.delivered, stats.read, stats.undelivered) == (6, 3, 1)
    assert stats.failed == 2 + 1
    assert stats.delivery_rate == 0.75 and stats.read_rate == 0.5
    assert stats.progress == 100.0 and stats.eta_seconds is None
    assert stats.errors[0]["code"] == "21211" and stats.errors[0]["count"] == 2
    assert stats.errors[0]["example"]
    assert sum(p["sent"] for p in stats.timeline) == 8
    assert stats.sending_rate > 0


def test_a_reply_lands_in_the_contacts_conversation_and_counts_for_the_campaign(
    tenant, sms_inbox, fake_twilio, audience, make_campaign
):
    campaign = sent_campaign(audience, make_campaign, 3)
    recipient = CampaignRecipient.objects.filter(campaign=campaign).order_by("pk").first()
    outbound = Message.objects.get(pk=recipient.message_id)

    reply = receive(sms_inbox, recipient.address, "Yes please!")
    receive(sms_inbox, recipient.address, "And one more thing")

    assert reply.conversation_id == outbound.conversation_id
    assert Conversation.objects.filter(contact_id=recipient.contact_id).count() == 1
    reply.refresh_from_db()
    assert reply.metadata["campaign_id"] == campaign.pk
    recipient.refresh_from_db()
    assert recipient.replied_at is not None
    campaign.refresh_from_db()
    assert campaign.replied == 1  # per person, not per message
    assert campaign_stats(campaign).reply_rate == round(1 / 3, 4)


def test_a_message_from_someone_the_campaign_did_not_reach_is_not_attributed(
    tenant, sms_inbox, fake_twilio, audience, make_campaign
):
    campaign = sent_campaign(audience, make_campaign, 2)
    stranger = receive(sms_inbox, "+14155550199", "Who is this?")
    assert "campaign_id" not in stranger.metadata
    campaign.refresh_from_db()
    assert campaign.replied == 0


def test_charts_are_svg_with_their_numbers_readable(tenant, fake_twilio, audience, make_campaign):
    stats = campaign_stats(sent_campaign(audience, make_campaign, 4))
    timeline, steps = str(sends_over_time(stats)), str(funnel(stats))
    assert timeline.startswith("<svg") and 'role="img"' in timeline
    assert "4 sent" in timeline
    assert steps.startswith("<svg") and "Sent: 4" in steps and "Delivered: 0" in steps


def test_progress_is_pushed_to_the_tenant_with_the_live_piece(
    tenant,
    fake_twilio,
    audience,
    make_campaign,
    private_channel_prefix,
    group_events,
    django_capture_on_commit_callbacks,
):
    campaign = sent_campaign(audience, make_campaign, 2)
    drain = group_events(tenant_group(tenant.pk))
    with django_capture_on_commit_callbacks(execute=True):
        publish_progress(campaign.pk, force=True)
    events = [e for e in drain() if e["event"] == "campaign.progress"]
    assert events, "no campaign.progress event"
    assert events[-1]["payload"]["id"] == campaign.pk
    assert events[-1]["payload"]["sent"] == 2
    html = events[-1]["html_by_zone"]["UTC"]  # every member follows the tenant's zone
    assert f'id="campaign-{campaign.pk}-live"' in html
    assert 'hx-swap-oob="true"' in html
