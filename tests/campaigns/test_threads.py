"""Campaign messages in the contacts' threads: outbound bubbles with their ticks and the
campaign's name, in conversations that enter the shared Open view only when the contact
replies (a large campaign must not flood the inbox)."""

from campaigns import engine
from campaigns.lifecycle import do_launch_campaign
from campaigns.models import CampaignRecipient
from inbox.models import Conversation, Message
from tests.inbox.api_factories import bearer
from tests.inbox.webhook_helpers import receive


def run(make_campaign, audience, count: int, **fields):
    campaign = do_launch_campaign(make_campaign(lists=[audience(count)], **fields))
    assert engine.work(campaign.pk, seconds=30) == "finished"
    return campaign


def open_ids_in_api(client, api_token) -> set[int]:
    response = client.get("/api/v1/conversations?status=open&limit=100", **bearer(api_token))
    assert response.status_code == 200, response.content
    return {item["id"] for item in response.json()["items"]}


def test_a_campaign_does_not_open_a_conversation_per_recipient_until_they_reply(
    tenant, owner, login, client, api_token, sms_inbox, fake_twilio, audience, make_campaign
):
    campaign = run(make_campaign, audience, 3)
    recipients = list(CampaignRecipient.objects.filter(campaign=campaign).order_by("pk"))
    sent = [Message.objects.get(pk=r.message_id) for r in recipients]
    threads = {m.conversation_id for m in sent}
    assert len(threads) == 3

    inbox_page = login(owner).get("/inbox/").content.decode()
    for pk in threads:
        assert f'id="conv-{pk}"' not in inbox_page
    assert not threads & open_ids_in_api(client, api_token)
    assert not Conversation.objects.filter(pk__in=threads, status=Conversation.Status.OPEN)

    reply = receive(sms_inbox, recipients[0].address, "Tell me more")

    assert reply.conversation_id == sent[0].conversation_id
    conversation = Conversation.objects.get(pk=reply.conversation_id)
    assert conversation.status == Conversation.Status.OPEN
    thread = list(conversation.messages.order_by("created_at", "id").values_list("pk", flat=True))
    assert thread == [sent[0].pk, reply.pk]
    assert conversation.pk in open_ids_in_api(client, api_token)
    assert f'id="conv-{conversation.pk}"' in login(owner).get("/inbox/").content.decode()
    # The others still wait for their contacts.
    assert not threads - {conversation.pk} & open_ids_in_api(client, api_token)


def test_a_campaign_message_joins_an_active_conversation_without_changing_its_status(
    tenant, sms_inbox, fake_twilio, audience, make_campaign
):
    contact_list = audience(2)
    first, second = contact_list.contacts.order_by("pk")
    talking = Conversation.objects.create(
        tenant=tenant, inbox=sms_inbox, contact=first, status=Conversation.Status.OPEN
    )
    waiting = receive(sms_inbox, second.phone, "I'll check and come back to you").conversation
    Conversation.objects.filter(pk=waiting.pk).update(status=Conversation.Status.PENDING)
    campaign = do_launch_campaign(make_campaign(lists=[contact_list]))
    assert engine.work(campaign.pk, seconds=30) == "finished"

    for conversation, status in (
        (talking, Conversation.Status.OPEN),
        (waiting, Conversation.Status.PENDING),
    ):
        conversation.refresh_from_db()
        assert conversation.status == status
        assert conversation.messages.filter(metadata__campaign_id=campaign.pk).count() == 1
    # A contact who had already written keeps their conversation's status when replying again.
    receive(sms_inbox, second.phone, "Still checking")
    waiting.refresh_from_db()
    assert waiting.status == Conversation.Status.PENDING


def test_a_campaign_message_shows_as_an_outbound_bubble_with_ticks_and_the_campaign_name(
    tenant, owner, login, sms_inbox, fake_twilio, audience, make_campaign
):
    campaign = run(make_campaign, audience, 1, name="Winter offers")
    recipient = CampaignRecipient.objects.get(campaign=campaign)
    message = Message.objects.get(pk=recipient.message_id)

    html = login(owner).get(f"/inbox/c/{message.conversation_id}/").content.decode()

    assert f'<li id="msg-{message.pk}" class="msg msg-out">' in html
    assert "Campaign · Winter offers" in html
    assert f'id="msg-{message.pk}-status" class="msg-status tick-sent"' in html
    assert "msg-system" not in html
