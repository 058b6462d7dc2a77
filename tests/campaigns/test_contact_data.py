"""The campaigns' part of a GDPR erasure (campaigns.contact_data, through contacts.hooks)."""

from campaigns import engine
from campaigns.audience import message_hash
from campaigns.lifecycle import do_launch_campaign
from campaigns.models import CampaignRecipient
from contacts.gdpr import do_erase_contact, export_contact
from contacts.models import Contact
from tests.campaigns.test_engine import counters_match_rows

R = CampaignRecipient.Status


def test_a_waiting_recipient_is_cancelled_and_never_sent(
    tenant, fake_twilio, audience, make_campaign
):
    campaign = do_launch_campaign(make_campaign(lists=[audience(3)]))
    ana = Contact.objects.get(tenant=tenant, phone="+14152000001")
    address_hash = message_hash(campaign.pk, "sms", ana.phone)

    do_erase_contact(ana)

    row = CampaignRecipient.objects.get(contact=ana)
    assert (row.status, row.address, row.body, row.variables) == (R.CANCELLED, "", "", {})
    assert row.message_hash != address_hash
    counters_match_rows(campaign)
    assert engine.work(campaign.pk, seconds=30) == "finished"
    assert sorted(r.params["To"] for r in fake_twilio.sent) == ["+14152000000", "+14152000002"]
    campaign.refresh_from_db()
    assert (campaign.sent, campaign.cancelled, campaign.total) == (2, 1, 3)
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
