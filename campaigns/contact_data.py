"""A contact's campaign data for GDPR: erased with the contact, and exported with it.

Registered on ``contacts.hooks`` (``CampaignsConfig.ready``). Each recipient row stays with its
status, dates, error code and reply, so campaign counters and statistics still add up; its
address, rendered text, variables, time zone and error text go, and its ``message_hash`` (a
hash of the address, which a phone number is easily recovered from) becomes a hash of the row
id. A row still waiting or claimed but not yet being sent is skipped with the reason
``erased`` (as the engine would at hand-off), with the campaign's counters moved in the same
transaction; one being handed over right now is recorded without the person
(``campaigns.engine.record``).
"""

from collections import Counter
from typing import Any

from django.db import transaction
from django.db.models import CharField, F, Func, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from campaigns.models import Campaign, CampaignRecipient
from contacts.models import Contact
from contacts.personal_data import PersonalData

R = CampaignRecipient.Status


def _iso(value) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


@transaction.atomic
def erase_campaign_data(contact: Contact, personal: PersonalData) -> dict[str, int]:
    """Erase the person from campaign recipients (see the module docstring); the counts."""
    rows = CampaignRecipient.objects.filter(tenant_id=contact.tenant_id, contact=contact)
    waiting = list(
        rows.select_for_update()
        .filter(status__in=[R.PENDING, R.LEASED])
        .values_list("pk", "campaign_id")
    )
    if waiting:
        CampaignRecipient.objects.filter(pk__in=[pk for pk, _ in waiting]).update(
            status=R.SKIPPED,
            skip_reason=CampaignRecipient.SkipReason.ERASED,
            finished_at=timezone.now(),
            leased_by="",
            lease_expires_at=None,
        )
        for campaign_id, count in Counter(c for _, c in waiting).items():
            Campaign.objects.filter(pk=campaign_id).update(
                pending=F("pending") - count, skipped=F("skipped") + count
            )
    erased = rows.update(
        address="",
        body="",
        variables={},
        timezone="",
        error_message="",
        message_hash=Func(
            Concat(Value("erased:"), Cast("pk", CharField()), output_field=CharField()),
            function="md5",
            output_field=CharField(),
        ),
    )
    return {"campaign_recipients_erased": erased, "campaign_recipients_skipped": len(waiting)}


def export_campaign_data(contact: Contact, personal: PersonalData) -> dict[str, Any]:
    """What each campaign sent (or was to send) them. One query."""
    rows = (
        CampaignRecipient.objects.filter(tenant_id=contact.tenant_id, contact=contact)
        .select_related("campaign")
        .order_by("id")
    )
    return {
        "campaign_messages": [
            {
                "campaign": {"id": r.campaign_id, "name": r.campaign.name},
                "address": r.address,
                "body": r.body,
                "variables": r.variables,
                "status": r.status,
                "skip_reason": r.skip_reason,
                "error_code": r.error_code,
                "error_message": r.error_message,
                "sent_at": _iso(r.sent_at),
                "replied_at": _iso(r.replied_at),
                "message_id": r.message_id,
            }
            for r in rows
        ]
    }
