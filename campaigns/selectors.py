"""Reads for the campaign pages: the builder's choices and its live preview, list rows."""

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import QuerySet

from campaigns.audience import (
    AudiencePreview,
    audience_contacts,
    preview_audience,
    refused_outside_window,
)
from campaigns.lifecycle import CAMPAIGN_CHANNELS, campaigns_for_tenant
from campaigns.models import Campaign, CampaignRecipient, MessageTemplate
from campaigns.pacing import QuietWait, quiet_wait
from campaigns.services import preview
from contacts.lists import lists_with_counts, segments_for_tenant
from contacts.models import ContactList, Segment
from contacts.phones import contact_display
from inbox.actions.send import sends_notifications
from inbox.models import Inbox
from inbox.sending_pace import pace_note
from omnichannel.actions import ActionError
from omnichannel.channels import Channel
from omnichannel.models import Tenant
from omnichannel.segments import SMS_SEGMENT_PRICE, SegmentInfo, segment_info

SKIP_REASONS = CampaignRecipient.SkipReason
# What the launch decides; the others (erased, deleted, outside the window) happen after it.
AT_LAUNCH = frozenset(
    {SKIP_REASONS.OPTED_OUT, SKIP_REASONS.BLOCKED, SKIP_REASONS.INVALID, SKIP_REASONS.DUPLICATE}
)
LAUNCH_SKIP_REASONS = [
    (reason, label) for reason, label in SKIP_REASONS.choices if reason in AT_LAUNCH
]


@dataclass
class BuilderChoices:
    inboxes: list[Inbox]
    templates: list[MessageTemplate]
    lists: list[ContactList]
    segments: list[Segment]


def builder_choices(tenant: Tenant) -> BuilderChoices:
    """What the builder offers: the tenant's active SMS and WhatsApp inboxes, its templates,
    lists (with member counts) and segments. Four queries."""
    return BuilderChoices(
        inboxes=[
            inbox
            for inbox in Inbox.objects.for_tenant(tenant)
            .filter(kind__in=CAMPAIGN_CHANNELS, is_active=True)
            .only("pk", "name", "kind", "address", "tenant_id", "settings", "credentials")
            .order_by("name", "id")
            if sends_notifications(inbox)
        ],
        templates=list(
            MessageTemplate.objects.for_tenant(tenant)
            .only("pk", "name", "channel", "tenant_id")
            .order_by("name", "id")
        ),
        lists=list(lists_with_counts(tenant)),
        segments=list(segments_for_tenant(tenant).only("pk", "name", "tenant_id")),
    )


@dataclass
class BuilderPreview:
    """What the builder shows beside the form for the fields chosen so far."""

    inbox: Inbox | None = None
    template: MessageTemplate | None = None
    has_audience: bool = False
    audience: AudiencePreview | None = None
    skipped: list[tuple[str, str, int]] = field(default_factory=list)  # (reason, label, n)
    skipped_total: int = 0
    examples: list[dict] = field(default_factory=list)
    problem: str = ""
    # WhatsApp with free-form text while some are outside the 24-hour window: the launch
    # will be refused, and this says why and what to do.
    window_problem: str = ""
    channel_mismatch: bool = False
    # Why the sender goes slowly (iMessage: one message every few seconds), "" when it does not.
    pace_note: str = ""
    text: str = ""
    sample_name: str = ""
    segments: SegmentInfo | None = None
    total_segments: int | None = None
    total_cost: Decimal | None = None  # at SMS_SEGMENT_PRICE: an estimate
    # Who of the audience quiet hours would hold at the start.
    quiet_wait: QuietWait = field(default_factory=QuietWait)


def _ids(values: Iterable[str]) -> list[int]:
    ids = []
    for value in values:
        try:
            ids.append(int(value))
        except (TypeError, ValueError):
            continue
    return ids


def builder_preview(
    tenant: Tenant,
    *,
    inbox_id: str,
    template_id: str,
    list_ids: Iterable[str],
    segment_ids: Iterable[str],
    quiet_hours: Campaign | None = None,
    start: datetime.datetime | None = None,
) -> BuilderPreview:
    """The audience and the message as the builder's current choices would make them.

    Ids that are not the tenant's are ignored (the preview shows nothing of other tenants;
    saving reports them). The message is rendered for the first person of the audience, so
    its SMS segment count is that of a real text rather than of the ``{{variables}}``. With
    ``quiet_hours`` (a campaign, saved or not, whose quiet hours to apply) and the ``start``,
    it also says who would wait for their quiet hours to end.
    """
    result = BuilderPreview()
    result.inbox = (
        Inbox.objects.for_tenant(tenant)
        .filter(pk__in=_ids([inbox_id]), kind__in=CAMPAIGN_CHANNELS)
        .first()
    )
    result.template = (
        MessageTemplate.objects.for_tenant(tenant).filter(pk__in=_ids([template_id])).first()
    )
    lists = list(ContactList.objects.for_tenant(tenant).filter(pk__in=_ids(list_ids)))
    segments = list(Segment.objects.for_tenant(tenant).filter(pk__in=_ids(segment_ids)))
    result.has_audience = bool(lists or segments)
    inbox, template = result.inbox, result.template
    result.channel_mismatch = bool(inbox and template and inbox.kind != template.channel)
    result.pace_note = pace_note(inbox)
    try:
        if inbox and result.has_audience:
            audience = preview_audience(tenant, inbox=inbox, lists=lists, segments=segments)
            result.audience = audience
            result.skipped_total = audience.total - audience.sendable
            result.skipped = [
                (reason, label, audience.skipped.get(reason, 0))
                for reason, label in LAUNCH_SKIP_REASONS
            ]
            labels = dict(SKIP_REASONS.choices)
            result.examples = [
                {**example, "label": labels.get(example["reason"], example["reason"])}
                for example in audience.examples
            ]
            if quiet_hours is not None and start is not None:
                result.quiet_wait = quiet_wait(quiet_hours, audience.zones, start)
            if template is not None and not result.channel_mismatch:
                refusal = refused_outside_window(template, audience.outside_window)
                if refusal:
                    result.window_problem = f"Launching will be refused: {refusal}."
        if template is not None:
            _message(result, tenant, template, lists, segments)
    except ActionError as exc:  # a segment whose filter no longer works
        result.problem = exc.message
    return result


def _message(
    result: BuilderPreview,
    tenant: Tenant,
    template: MessageTemplate,
    lists: list[ContactList],
    segments: list[Segment],
) -> None:
    sample = None
    if result.has_audience and not template.content_sid:
        sample = audience_contacts(tenant, lists, segments).order_by("pk").first()
    if sample is not None:
        result.text, info = preview(template, sample)
        result.sample_name = contact_display(sample, tenant.default_region)
    else:
        result.text, info = template.body, segment_info(template.body)
    if template.channel == Channel.SMS:
        result.segments = info
        if result.audience is not None:
            result.total_segments = info.segments * result.audience.sendable
            result.total_cost = SMS_SEGMENT_PRICE * result.total_segments


def campaign_list_for_tenant(tenant: Tenant) -> QuerySet[Campaign]:
    """Newest first, with what a row shows (inbox and template names) in the same query."""
    return campaigns_for_tenant(tenant).order_by("-created_at", "-id")


@dataclass
class CampaignRow:
    campaign: Campaign
    to_send: int  # the audience less those skipped
    progress: float | None  # percent of ``to_send`` settled; None before it starts


def campaign_row(campaign: Campaign) -> CampaignRow:
    """A list row's numbers from the campaign's counters alone (as
    :func:`campaigns.stats.campaign_stats` counts progress), so rows cost no queries."""
    to_send = campaign.total - campaign.skipped
    progress = None
    if campaign.status not in (Campaign.Status.DRAFT, Campaign.Status.SCHEDULED):
        progress = round(100 * (to_send - campaign.pending) / to_send, 1) if to_send else 100.0
    return CampaignRow(campaign=campaign, to_send=to_send, progress=progress)
