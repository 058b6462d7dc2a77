"""The campaigns' part of a GDPR erasure (campaigns.contact_data, through contacts.hooks)."""

from campaigns import engine
from campaigns.audience import message_hash
from campaigns.lifecycle import do_launch_campaign
from campaigns.models import CampaignRecipient
from contacts.gdpr import do_erase_contact, export_contact
from contacts.models import Contact
from tests.campaigns.test_engine import counters_match_rows

R = CampaignRecipient.Status


def test_a_waiting_recipient_is_skipped_as_erased_and_never_sent(
    tenant, fake_twilio, audience, make_campaign
):
    campaign = do_launch_campaign(make_campaign(lists=[audience(3)]))
    ana = Contact.objects.get(tenant=tenant, phone="+14152000001")
    address_hash = message_hash(campaign.pk, "sms", ana.phone)

    do_erase_contact(ana)

    row = CampaignRecipient.objects.get(contact=ana)
    assert (row.status, row.skip_reason, row.address, row.body, row.variables) == (
        R.SKIPPED,
        "erased",
        "",
        "",
        {},
    )
    assert row.message_hash != address_hash
    counters_match_rows(campaign)
    assert engine.work(campaign.pk, seconds=30) == "finished"
    assert sorted(r.params["To"] for r in fake_twilio.sent) == ["+14152000000", "+14152000002"]
    campaign.refresh_from_db()
    assert (campaign.sent, campaign.skipped, campaign.total) == (2, 1, 3)
    counters_match_rows(campaign)


def test_a_sent_recipient_keeps_its_outcome_and_loses_the_person(
    tenant, fake_twilio, audience, make_campaign
):
    campaign = do_launch_campaign(make_campaign(lists=[audience(2)]))
    assert engine.work(campaign.pk, seconds=30) == "finished"
    ana = Contact.objects.get(tenant=tenant, phone="+14152000000")
    exported = export_contact(ana)["campaign_messages"]
    assert [(m["body"], m["address"], m["status"]) for m in exported] == [
        ("Hi Person0!", "+14152000000", "sent")
    ]

    do_erase_contact(ana)

    row = CampaignRecipient.objects.get(contact=ana)
    assert (row.status, row.address, row.body, row.timezone) == (R.SENT, "", "", "")
    assert row.sent_at is not None and row.provider_message_id
    other = CampaignRecipient.objects.exclude(contact=ana).get()
    assert (other.address, other.body) == ("+14152000001", "Hi Person1!")
    campaign.refresh_from_db()
    assert (campaign.sent, campaign.total) == (2, 2)
    counters_match_rows(campaign)


def test_a_person_erased_while_their_message_is_handed_over_is_recorded_without_them(
    tenant, fake_twilio, audience, make_campaign
):
    from concurrent.futures import ThreadPoolExecutor

    from inbox.models import Delivery, Message

    campaign = do_launch_campaign(make_campaign(lists=[audience(2)]))
    leased = engine.claim(campaign, "w1", 10)
    started = engine.start_sending(campaign, "w1", [row.id for row in leased])
    chunk = [row for row in leased if row.id in started]
    with ThreadPoolExecutor(2) as pool:
        outcomes = engine.send_chunk(campaign, chunk, pool, [])
    ana = Contact.objects.get(tenant=tenant, phone="+14152000000")
    do_erase_contact(ana)  # after Twilio took it, before the worker recorded it

    engine.record(campaign, "w1", outcomes)

    row = CampaignRecipient.objects.get(contact=ana)
    assert (row.status, row.address, row.body) == (R.SENT, "", "")
    message = Message.objects.get(pk=row.message_id)
    assert message.body == "[erased]"
    assert Delivery.objects.get(message=message).recipient == ""
    other = CampaignRecipient.objects.exclude(contact=ana).get(campaign=campaign)
    assert Message.objects.get(pk=other.message_id).body.startswith("Hi Person1")
    campaign.refresh_from_db()
    counters_match_rows(campaign)
