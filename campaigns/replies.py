"""Replies to campaign messages: the inbound message (already threaded into the contact's
conversation by the inbox) is attributed to the latest campaign that messaged the contact from
that inbox within the attribution window, once per recipient. The inbox calls
:func:`attribute_reply` for each message it stores (registered on
``inbox.hooks.on_message_received`` in ``CampaignsConfig.ready``)."""

from datetime import timedelta

from django.db.models import F

from campaigns.models import Campaign, CampaignRecipient
from campaigns.progress import publish_progress
from inbox.models import Message

ATTRIBUTION_WINDOW = timedelta(days=7)


def attribute_reply(message: Message) -> CampaignRecipient | None:
    """Mark the campaign recipient ``message`` answers (None when it answers no campaign)."""
    if message.direction != Message.Direction.INBOUND:
        return None
    contact_id = message.conversation.contact_id
    since = message.created_at - ATTRIBUTION_WINDOW
    recipient = (
        CampaignRecipient.objects.filter(
            contact_id=contact_id,
            campaign__inbox_id=message.inbox_id,
            status=CampaignRecipient.Status.SENT,
            sent_at__gte=since,
            sent_at__lte=message.created_at,
        )
        .order_by("-sent_at")
        .first()
    )
    if recipient is None:
        return None
    first = CampaignRecipient.objects.filter(pk=recipient.pk, replied_at__isnull=True).update(
        replied_at=message.created_at
    )
    if first:
        Campaign.objects.filter(pk=recipient.campaign_id).update(replied=F("replied") + 1)
        publish_progress(recipient.campaign_id)
    Message.objects.filter(pk=message.pk).update(
        metadata={**(message.metadata or {}), "campaign_id": recipient.campaign_id}
    )
    message.metadata = {**(message.metadata or {}), "campaign_id": recipient.campaign_id}
    return recipient
