"""The engine in one process: claim, send through the real Twilio SDK to the fake, record."""

import pytest

from campaigns import engine
from campaigns.lifecycle import do_launch_campaign
from campaigns.models import Campaign, CampaignRecipient
from inbox.models import Delivery, Message

R = CampaignRecipient.Status


def counters_match_rows(campaign: Campaign) -> None:
    campaign.refresh_from_db()
    rows = CampaignRecipient.objects.filter(campaign=campaign)
    not_settled = rows.filter(status__in=[R.PENDING, R.LEASED, R.SENDING]).count()
    assert campaign.pending == not_settled
    for status in ("sent", "failed", "skipped", "unknown", "cancelled"):
        assert getattr(campaign, status) == rows.filter(status=status).count(), status
    assert campaign.total == rows.count()


def test_it_sends_every_recipient_once_and_records_messages(
    tenant, fake_twilio, audience, make_campaign
):
    campaign = make_campaign(lists=[audience(120)])
    campaign = do_launch_campaign(campaign)
    assert campaign.status == Campaign.Status.RUNNING
    assert (campaign.total, campaign.pending) == (120, 120)

    assert engine.work(campaign.pk, seconds=30) == "finished"

    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.COMPLETED
    counters_match_rows(campaign)
    assert campaign.sent == 120
    numbers = [r.params["To"] for r in fake_twilio.sent]
    assert len(numbers) == 120 == len(set(numbers))
    assert {r.params["Body"] for r in fake_twilio.sent} >= {"Hi Person0!", "Hi Person119!"}
    recipient = CampaignRecipient.objects.get(campaign=campaign, address="+14152000007")
    message = Message.objects.get(pk=recipient.message_id)
    assert message.conversation.contact_id == recipient.contact_id
    assert message.body == "Hi Person7!"
    assert message.metadata["campaign_id"] == campaign.pk
    delivery = Delivery.objects.get(message=message)
    assert delivery.provider_message_id == recipient.provider_message_id
    assert delivery.provider_message_id.startswith("SM")


def test_a_second_worker_finds_nothing_to_send_twice(tenant, fake_twilio, audience, make_campaign):
    campaign = do_launch_campaign(make_campaign(lists=[audience(30)]))
    assert engine.work(campaign.pk, seconds=30) == "finished"
    assert engine.work(campaign.pk, seconds=30) == "not_running"
    assert len(fake_twilio.sent) == 30


@pytest.mark.parametrize("code", [21211, 21614])
def test_permanent_provider_errors_fail_the_recipient_only(
    tenant, fake_twilio, audience, make_campaign, code
):
    campaign = do_launch_campaign(make_campaign(lists=[audience(5)]))
    fake_twilio.queue_response(status=400, code=code)
    assert engine.work(campaign.pk, seconds=30) == "finished"
    campaign.refresh_from_db()
    assert (campaign.sent, campaign.failed) == (4, 1)
    failed = CampaignRecipient.objects.get(campaign=campaign, status=R.FAILED)
    assert failed.error_code == str(code)
    assert failed.error_message
    counters_match_rows(campaign)


def test_template_media_goes_out_as_signed_links_and_editing_a_sending_template_is_refused(
    tenant, fake_twilio, audience, make_campaign, sms_template, settings, tmp_path
):
    from campaigns.media import check_save_template, do_add_template_media
    from omnichannel.actions import ActionError
    from tests.campaigns.test_template_media import PNG, upload

    settings.MEDIA_ROOT = tmp_path
    do_add_template_media(sms_template, upload("offer.png", PNG, "image/png"))
    campaign = do_launch_campaign(make_campaign(lists=[audience(3)]))
    with pytest.raises(ActionError) as refused:
        check_save_template(
            tenant, template=sms_template, name="Hello", channel="sms", body="Changed"
        )
    assert refused.value.code == "conflict"

    assert engine.work(campaign.pk, seconds=30) == "finished"

    links = {tuple(r.form["MediaUrl"]) for r in fake_twilio.sent}
    assert len(links) == 1
    (link,) = links.pop()
    assert link.startswith("http://testserver/m/t/")
    message = Message.objects.filter(metadata__campaign_id=campaign.pk).first()
    assert message.metadata["media_urls"] == [link]


def test_send_threads_share_one_provider_and_its_connections_until_the_inbox_changes(sms_inbox):
    from concurrent.futures import ThreadPoolExecutor

    from inbox.models import Inbox

    first = engine._senders.get(Inbox.objects.get(pk=sms_inbox.pk))
    loaded = [Inbox.objects.get(pk=sms_inbox.pk) for _ in range(8)]  # as each work() loads it
    with ThreadPoolExecutor(max_workers=4) as pool:
        seen = set(pool.map(engine._senders.get, loaded))
    assert seen == {first}

    changed = Inbox.objects.get(pk=sms_inbox.pk)
    changed.settings = {**changed.settings, "api_timeout": 3}
    changed.save(update_fields=["settings"])
    assert engine._senders.get(Inbox.objects.get(pk=sms_inbox.pk)) is not first
