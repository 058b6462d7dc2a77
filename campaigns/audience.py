"""Who a campaign reaches: its lists and segments, resolved and checked at launch.

:func:`plan_audience` walks the contacts in id order and decides, for each, the address and
text they get or why they are skipped (opted out of this sender, blocked, no valid address);
a contact reached through several of the lists and segments gets one message, and each extra
appearance is a skipped duplicate. On WhatsApp it also notes who is outside the 24-hour window
(has not written in the last 24 hours), whom only an approved template reaches.
:func:`preview_audience` counts the same decisions for the builder; :func:`snapshot_audience`
writes them as ``CampaignRecipient`` rows, so later changes to the lists do not change a
running campaign. Consent is checked once more for every message right before it goes out
(:func:`campaigns.engine.start_sending`): an opt-out after the launch still counts.
"""

import datetime
import hashlib
import re
import zoneinfo
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db.models import (
    Case,
    Count,
    ExpressionWrapper,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from campaigns.approved_templates import filled_variables
from campaigns.models import Campaign, CampaignRecipient, MessageTemplate
from contacts.attributes import definitions_for
from contacts.blocklist import blocked_phones
from contacts.filters import FilterError
from contacts.lists import segment_contacts
from contacts.models import Consent, Contact, ContactList, ListMembership, Segment
from contacts.templating import contact_values, render
from inbox.models import Conversation, Inbox
from inbox.providers import get_provider
from omnichannel.actions import ActionError

# A zone PostgreSQL would not know would break the quiet-hours check of a whole batch.
ZONES = frozenset(zoneinfo.available_timezones())
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
CHUNK = 2000
Skip = CampaignRecipient.SkipReason


@dataclass
class Planned:
    contact_id: int
    address: str
    message_hash: str
    body: str = ""
    variables: dict = field(default_factory=dict)
    timezone: str = ""
    skip_reason: str = ""
    name: str = ""
    # WhatsApp: has not written in the last 24 hours (only an approved template reaches them).
    outside_window: bool = False


@dataclass
class OutsideWindow:
    """Who of the audience only an approved WhatsApp template reaches: how many, a few names."""

    hours: int | None = None  # the channel's window; None: the channel has none
    count: int = 0
    examples: list[dict] = field(default_factory=list)

    def add(self, planned: Planned, limit: int) -> None:
        self.count += 1
        if len(self.examples) < limit:
            self.examples.append(
                {
                    "contact_id": planned.contact_id,
                    "name": planned.name,
                    "address": planned.address,
                }
            )

    def refusal(self) -> str:
        """Why a free-form campaign to these people cannot be launched, and what to do."""
        names = ", ".join(e["name"] or e["address"] for e in self.examples)
        more = (
            f" and {self.count - len(self.examples)} more"
            if self.count > len(self.examples)
            else ""
        )
        people = "person has" if self.count == 1 else "people have"
        return (
            f"{self.count} {people} not written to this WhatsApp number in the last "
            f"{self.hours} hours ({names}{more}), and WhatsApp only delivers free-form text "
            f"within {self.hours} hours of the contact's last message; choose an approved "
            "WhatsApp template (one with a Content SID) to reach them"
        )


@dataclass
class AudiencePreview:
    total: int
    sendable: int
    skipped: dict[str, int]
    examples: list[dict]  # a few skipped people, for the builder
    outside_window: OutsideWindow = field(default_factory=OutsideWindow)
    zones: dict[str, int] = field(default_factory=dict)  # time zone -> people who get it


@dataclass
class Snapshot:
    total: int
    skipped: int
    outside_window: OutsideWindow


def message_hash(campaign_id: int | None, channel: str, address: str) -> str:
    return hashlib.sha256(f"{campaign_id}:{channel}:{address}".encode()).hexdigest()


def _segment_matches(segment: Segment) -> QuerySet[Contact]:
    try:
        return segment_contacts(segment).values("pk")
    except FilterError as exc:
        raise ActionError(
            f"The segment “{segment.name}” no longer works ({exc}); fix it or remove it "
            "from the campaign.",
            code="invalid",
        ) from exc


def audience_contacts(
    tenant, lists: Iterable[ContactList], segments: Iterable[Segment]
) -> QuerySet[Contact]:
    """The tenant's contacts in any of ``lists`` or matching any of ``segments``, each once,
    annotated with ``sources``: in how many of them the contact is (2 or more: duplicates)."""
    list_ids = [lst.pk for lst in lists]
    matches = [_segment_matches(segment) for segment in segments]
    condition = Q(pk__in=[])
    sources: Any = Value(0)
    if list_ids:
        members = ListMembership.objects.filter(tenant=tenant, contact_list_id__in=list_ids)
        condition |= Q(pk__in=members.values("contact_id"))
        sources = Coalesce(
            Subquery(
                members.filter(contact_id=OuterRef("pk"))
                .values("contact_id")
                .annotate(n=Count("id"))
                .values("n")
            ),
            0,
        )
    for match in matches:
        condition |= Q(pk__in=match)
        sources = sources + Case(When(pk__in=match, then=1), default=0)
    return (
        Contact.objects.for_tenant(tenant)
        .filter(condition, erased_at__isnull=True)
        .annotate(sources=ExpressionWrapper(sources, output_field=IntegerField()))
    )


def _opted_out(tenant, inbox: Inbox, contact_ids: list[int]) -> set[int]:
    return set(
        Consent.objects.for_tenant(tenant)
        .filter(
            contact_id__in=contact_ids,
            channel=inbox.kind,
            sender=inbox.address,
            status=Consent.Status.OPTED_OUT,
        )
        .values_list("contact_id", flat=True)
    )


def window_hours(inbox: Inbox) -> int | None:
    """The channel's free-form window (WhatsApp: 24 hours), None when it has none."""
    return get_provider(inbox).capabilities.session_window_hours


def within_window(tenant, inbox: Inbox, contact_ids: list[int], hours: int) -> set[int]:
    """Which of ``contact_ids`` wrote to ``inbox`` in the last ``hours`` (one query), read
    as ``inbox.actions.send`` reads the window: any of their conversations in the inbox."""
    cutoff = timezone.now() - datetime.timedelta(hours=hours)
    return set(
        Conversation.objects.for_tenant(tenant)
        .filter(inbox=inbox, contact_id__in=contact_ids, last_inbound_at__gte=cutoff)
        .values_list("contact_id", flat=True)
    )


def _render(template: MessageTemplate, contact: Contact, keys: list[str]) -> tuple[str, dict]:
    values = contact_values(contact, keys)
    if template.content_sid:
        return "", filled_variables(template, values)
    return render(template.body, values), {}


def plan_audience(
    tenant,
    *,
    inbox: Inbox,
    template: MessageTemplate | None,
    lists: Iterable[ContactList],
    segments: Iterable[Segment],
    campaign_id: int | None = None,
) -> Iterator[Planned]:
    """One :class:`Planned` per contact of the audience, in id order, a chunk of queries at a
    time (contacts, their consents, the blocklist, on WhatsApp their last messages). Without
    ``template``, nothing is rendered (who is reached does not depend on it)."""
    keys = list(definitions_for(tenant))
    tenant_zone = tenant.timezone or "UTC"
    hours = window_hours(inbox)
    contacts = audience_contacts(tenant, lists, segments).order_by("pk")
    last_pk = 0
    while True:
        chunk = list(contacts.filter(pk__gt=last_pk)[:CHUNK])
        if not chunk:
            return
        last_pk = chunk[-1].pk
        ids = [c.pk for c in chunk]
        opted_out = _opted_out(tenant, inbox, ids)
        blocked = blocked_phones(tenant, [c.phone for c in chunk])
        inside = within_window(tenant, inbox, ids, hours) if hours else set()
        for contact in chunk:
            address = contact.phone or ""
            planned = Planned(
                contact_id=contact.pk,
                address=address,
                message_hash=message_hash(campaign_id, inbox.kind, address),
                timezone=contact.timezone if contact.timezone in ZONES else tenant_zone,
                name=contact.name,
            )
            if not E164.match(address):
                planned.skip_reason = Skip.INVALID
            elif contact.pk in opted_out:
                planned.skip_reason = Skip.OPTED_OUT
            elif address in blocked:
                planned.skip_reason = Skip.BLOCKED
            if planned.skip_reason:
                # Skipped rows are one per contact, whatever their address.
                planned.message_hash = message_hash(campaign_id, "skip", str(contact.pk))
            else:
                planned.outside_window = bool(hours) and contact.pk not in inside
                if template is not None:
                    planned.body, planned.variables = _render(template, contact, keys)
            yield planned
            # The same person through a second list or segment: one message, the rest counted.
            for copy in range(1, contact.sources):
                yield Planned(
                    contact_id=contact.pk,
                    address=address,
                    message_hash=message_hash(campaign_id, f"duplicate-{copy}", str(contact.pk)),
                    timezone=planned.timezone,
                    skip_reason=Skip.DUPLICATE,
                )


def preview_audience(
    tenant,
    *,
    inbox: Inbox,
    lists: Iterable[ContactList],
    segments: Iterable[Segment],
    examples: int = 5,
) -> AudiencePreview:
    """What launching now would do: how many get the message and who is skipped, and why;
    on WhatsApp, who is outside the 24-hour window (only an approved template reaches them)."""
    skipped: Counter[str] = Counter()
    zones: Counter[str] = Counter()
    shown: list[dict] = []
    outside = OutsideWindow(hours=window_hours(inbox))
    total = 0
    for planned in plan_audience(
        tenant, inbox=inbox, template=None, lists=lists, segments=segments
    ):
        total += 1
        if planned.outside_window:
            outside.add(planned, examples)
        if planned.skip_reason:
            skipped[planned.skip_reason] += 1
            if len(shown) < examples:
                shown.append(
                    {
                        "contact_id": planned.contact_id,
                        "address": planned.address,
                        "reason": planned.skip_reason,
                    }
                )
        else:
            zones[planned.timezone] += 1
    return AudiencePreview(
        total=total,
        sendable=total - sum(skipped.values()),
        skipped=dict(skipped),
        examples=shown,
        outside_window=outside,
        zones=dict(zones),
    )


def snapshot_audience(campaign: Campaign, *, examples: int = 5) -> Snapshot:
    """Write the campaign's recipient rows (inside the caller's transaction): how many, how
    many skipped, and who is outside WhatsApp's window.

    Free-form WhatsApp text cannot reach anyone outside the window, so the launch will be
    refused (:func:`refused_outside_window`): from the first such person on, the walk only
    counts, and the caller's rollback has little to undo.
    """
    total = skipped = 0
    outside = OutsideWindow(hours=window_hours(campaign.inbox))
    free_form = not campaign.template.content_sid
    batch: list[CampaignRecipient] = []
    terminal = {"status": CampaignRecipient.Status.SKIPPED}
    for planned in plan_audience(
        campaign.tenant,
        inbox=campaign.inbox,
        template=campaign.template,
        lists=campaign.lists.all(),
        segments=campaign.segments.all(),
        campaign_id=campaign.pk,
    ):
        total += 1
        skipped += bool(planned.skip_reason)
        if planned.outside_window:
            outside.add(planned, examples)
        if free_form and outside.count:
            batch = []
            continue
        batch.append(
            CampaignRecipient(
                tenant_id=campaign.tenant_id,
                campaign=campaign,
                contact_id=planned.contact_id,
                address=planned.address,
                message_hash=planned.message_hash,
                body=planned.body,
                variables=planned.variables,
                timezone=planned.timezone,
                skip_reason=planned.skip_reason,
                **(terminal if planned.skip_reason else {}),
            )
        )
        if len(batch) >= CHUNK:
            CampaignRecipient.objects.bulk_create(batch)
            batch = []
    if batch:
        CampaignRecipient.objects.bulk_create(batch)
    return Snapshot(total=total, skipped=skipped, outside_window=outside)


def refused_outside_window(template: MessageTemplate, outside: OutsideWindow) -> str:
    """Why a launch is refused (empty: it is not): free-form text to people outside the
    window would fail for each of them at WhatsApp."""
    if template.content_sid or not outside.count:
        return ""
    return outside.refusal()
