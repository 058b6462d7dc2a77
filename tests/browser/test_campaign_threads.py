"""A campaign's messages in the inbox, in headless Chromium against the real ASGI server: the
run leaves the Open list as it was, a reply brings that contact's conversation in live, and
the thread shows the campaign message as an outbound bubble (the campaign's name, its tick)
above the reply; in both themes and on a phone. Screenshots go to .data/artifacts/."""

import pytest
from playwright.sync_api import expect

from campaigns import engine
from campaigns.lifecycle import do_launch_campaign, do_save_campaign
from campaigns.models import CampaignRecipient
from campaigns.services import do_save_template
from contacts.lists import add_members, do_create_list
from inbox.models import Message
from omnichannel.channels import Channel
from tests.browser.test_inbox import screenshot, sign_in
from tests.browser.test_inbox_realtime import mark_loaded, new_page
from tests.campaigns.conftest import make_contacts
from tests.inbox.webhook_helpers import receive

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.clock]


def test_a_campaign_reply_opens_its_thread_with_the_campaign_bubble_above(
    browser, asgi_server, owner, tenant, twilio_inbox
):
    inbox = twilio_inbox(tenant, kind=Channel.SMS, name="Offers SMS", messages_per_second=1000)
    template = do_save_template(tenant, name="Offer", channel=Channel.SMS, body="Winter is here!")
    customers = do_create_list(tenant, name="Customers")
    add_members(customers, [p.pk for p in make_contacts(tenant, 4)])
    campaign = do_launch_campaign(
        do_save_campaign(
            tenant,
            {
                "name": "Winter offers",
                "inbox": inbox.pk,
                "template": template.pk,
                "lists": [customers.pk],
                "quiet_hours": False,
            },
        )
    )
    assert engine.work(campaign.pk, seconds=30) == "finished"
    recipient = CampaignRecipient.objects.filter(campaign=campaign).order_by("pk").first()
    sent = Message.objects.get(pk=recipient.message_id)

    page = new_page(browser)
    sign_in(page, asgi_server, owner)
    mark_loaded(page)
    expect(page.locator("#conversation-list > li.conv-row")).to_have_count(0)

    reply = receive(inbox, recipient.address, "Is the offer valid for two?")
    assert reply.conversation_id == sent.conversation_id
    row = page.locator(f"#conv-{reply.conversation_id}")
    expect(row).to_be_visible()
    expect(page.locator("#conversation-list > li.conv-row")).to_have_count(1)
    page.context.close()

    for theme, width in (("dark", 1280), ("light", 1280), ("dark", 390)):
        page = new_page(browser, width=width, height=844 if width == 390 else 800)
        sign_in(page, asgi_server, owner)
        if theme == "light":
            page.click("[data-theme-toggle]")
            expect(page.locator("html")).to_have_attribute("data-theme", "light")
        page.goto(f"{asgi_server.url}/inbox/c/{reply.conversation_id}/")
        bubble = page.locator(f"#msg-{sent.pk}.msg-out")
        expect(bubble.locator(".msg-label")).to_have_text("Campaign · Winter offers")
        expect(bubble.locator(f"#msg-{sent.pk}-status .tick-words")).to_have_text("Sent")
        expect(page.locator("#thread .msg-out + .msg-in")).to_contain_text("valid for two")
        expect(page.locator("#thread .msg-system")).to_have_count(0)
        screenshot(page, f"campaign-thread-{theme}-{width}.png")
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        assert page.errors == []
        page.context.close()
