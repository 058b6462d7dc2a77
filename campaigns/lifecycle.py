"""Creating, launching, pausing, resuming and cancelling campaigns; the beat sweep.

States: draft -> scheduled -> running <-> paused -> completed, and cancelled from any state
before completed. Every change is one conditional UPDATE (or a locked row), so two people
pressing "Launch" at once launch it once and the second is told it already was.
"""

import datetime
import logging
import zoneinfo
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.dateparse import parse_datetime, parse_time

from campaigns.audience import refused_outside_window, snapshot_audience
from campaigns.engine import breaker_for, finish_if_done, has_claimable, return_expired_leases
from campaigns.models import Campaign, CampaignRecipient, MessageTemplate
from campaigns.progress import publish_progress
from campaigns.services import FieldErrors
from contacts.models import ContactList, Segment
from inbox.actions.send import SENDABLE_CHANNELS, sends_notifications
from inbox.models import Inbox
from omnichannel import audit
from omnichannel.actions import ActionError
from omnichannel.channels import Channel
from omnichannel.models import AuditEvent, Tenant

logger = logging.getLogger(__name__)

# Where campaigns send from: phone-number channels (iMessage too, paced by its provider, and
# a Chatwoot inbox that allows it: see ``sends_campaigns``).
CAMPAIGN_CHANNELS = (*SENDABLE_CHANNELS, Channel.IMESSAGE, Channel.CHATWOOT)

S = Campaign.Status
P = Campaign.Pacing
MAX_RATE = 1000.0
BOOLEANS = {"true": True, "on": True, "1": True, "yes": True, "false": False, "off": False}
BOOLEANS |= {"0": False, "no": False}


class CampaignInvalid(FieldErrors):
    what = "campaign"


class LaunchRefused(CampaignInvalid):
    action = "launched"


def _ids(value: Any, field: str, errors: dict[str, str]) -> list[int]:
    if value in (None, ""):
        return []
    if not isinstance(value, (list, tuple)):
        value = [value]
    try:
        return sorted({int(v) for v in value})
    except (TypeError, ValueError):
        errors[field] = "must be a list of ids"
        return []


def _moment(value: Any, tenant: Tenant, errors: dict[str, str]) -> datetime.datetime | None:
    if value in (None, ""):
        return None
    try:
        moment = value if isinstance(value, datetime.datetime) else parse_datetime(str(value))
    except ValueError:  # well formed but impossible, e.g. February 30
        moment = None
    if moment is None:
        errors["scheduled_at"] = "must be a date and time such as 2026-12-24T09:00"
        return None
    if timezone.is_naive(moment):  # a time as the tenant's people read it
        moment = moment.replace(tzinfo=zoneinfo.ZoneInfo(tenant.timezone or "UTC"))
    return moment


def _number(value: Any, field: str, errors: dict[str, str]) -> float | None:
    if value in (None, ""):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        errors[field] = "must be a number"
        return None
    if not number > 0:
        errors[field] = "must be more than 0"
        return None
    return number


def _time(value: Any, field: str, errors: dict[str, str]) -> datetime.time | None:
    if value in (None, ""):
        return None
    try:
        moment = value if isinstance(value, datetime.time) else parse_time(str(value))
    except ValueError:  # well formed but impossible, e.g. 25:00
        moment = None
    if moment is None:
        errors[field] = "must be a time such as 21:00"
    return moment


def _clean(tenant: Tenant, data: Mapping[str, Any], campaign: Campaign) -> dict[str, Any]:
    """The fields of ``data`` checked against the tenant; CampaignInvalid lists every problem."""
    errors: dict[str, str] = {}
    out: dict[str, Any] = {}
    if "name" in data or campaign.pk is None:
        name = " ".join(str(data.get("name") or "").split())[:120]
        if not name:
            errors["name"] = "is required"
        out["name"] = name
    if "inbox" in data or campaign.pk is None:
        inbox = Inbox.objects.for_tenant(tenant).filter(pk=_first_id(data.get("inbox"))).first()
        if inbox is None:
            errors["inbox"] = "is not one of this tenant's inboxes"
        elif inbox.kind not in CAMPAIGN_CHANNELS:
            errors["inbox"] = (
                f"campaigns send through SMS, WhatsApp, iMessage or Chatwoot, not {inbox.kind}"
            )
        elif not sends_notifications(inbox):
            errors["inbox"] = (
                "does not send notifications and campaigns (turn its “notifications and "
                "campaigns” switch on in Settings → Channels)"
            )
        out["inbox"] = inbox
    if "template" in data or campaign.pk is None:
        template = (
            MessageTemplate.objects.for_tenant(tenant)
            .filter(pk=_first_id(data.get("template")))
            .first()
        )
        if template is None:
            errors["template"] = "is not one of this tenant's templates"
        out["template"] = template
    inbox, template = out.get("inbox", campaign_inbox(campaign)), out.get("template")
    template = template or (campaign.template if campaign.template_id else None)
    if inbox is not None and template is not None and template.channel != inbox.kind:
        errors["template"] = f"is written for {template.channel}, but the inbox sends {inbox.kind}"
    for field, model in (("lists", ContactList), ("segments", Segment)):
        if field in data:
            ids = _ids(data.get(field), field, errors)
            found = list(model.objects.for_tenant(tenant).filter(pk__in=ids))
            if len(found) != len(ids):
                missing = sorted(set(ids) - {obj.pk for obj in found})
                errors[field] = f"has ids that are not this tenant's: {missing}"
            out[field] = found
    if "scheduled_at" in data:
        out["scheduled_at"] = _moment(data.get("scheduled_at"), tenant, errors)
    needs = {P.DELAY: "delay_seconds", P.WINDOW: "window_seconds", P.RATE: "rate_per_second"}
    if "pacing" in data or any(field in data for field in needs.values()):
        pacing = data.get("pacing", campaign.pacing) or P.NONE
        if pacing not in P.values:
            errors["pacing"] = f"must be one of {', '.join(P.values)}"
        out["pacing"] = pacing
        out["delay_seconds"] = out["window_seconds"] = out["rate_per_second"] = None
        for used_by, field in needs.items():
            if data.get(field) not in (None, "") and field != needs.get(pacing):
                errors[field] = f"is only used with pacing “{used_by}”"
        if pacing in needs:
            field = needs[pacing]
            # A change of pacing alone keeps the number the campaign already has.
            number = _number(data.get(field, getattr(campaign, field)), field, errors)
            if number is None and field not in errors:
                errors[field] = f"is required with pacing “{pacing}”"
            if field == "rate_per_second" and number and number > MAX_RATE:
                errors[field] = f"can be at most {MAX_RATE:g}"
            if field == "window_seconds" and number:
                number = int(number)
            out[field] = number
    if "quiet_hours" in data:
        value = data.get("quiet_hours")
        flag = value if isinstance(value, bool) else BOOLEANS.get(str(value).strip().lower())
        if flag is None:
            errors["quiet_hours"] = "must be true or false"
        out["quiet_hours"] = bool(flag)
    for field in ("quiet_start", "quiet_end"):
        if field in data:
            value = _time(data.get(field), field, errors)
            if value is not None:
                out[field] = value
    if errors:
        raise CampaignInvalid(errors)
    return out


def _first_id(value: Any) -> int | None:
    value = getattr(value, "pk", value)
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def campaign_inbox(campaign: Campaign) -> Inbox | None:
    return campaign.inbox if campaign.inbox_id else None


@transaction.atomic
def do_save_campaign(
    tenant: Tenant,
    data: Mapping[str, Any],
    *,
    campaign: Campaign | None = None,
    acting_user=None,
) -> Campaign:
    """Create a draft (or, with ``campaign``, change one). Only drafts can be changed."""
    if campaign is not None:
        campaign = (
            Campaign.objects.select_for_update().filter(pk=campaign.pk, tenant=tenant).first()
        )
        if campaign is None:
            raise ActionError("No such campaign.", code="not_found")
        if campaign.status != S.DRAFT:
            raise ActionError(
                f"The campaign is {campaign.get_status_display().lower()}; only drafts can be "
                "changed.",
                code="conflict",
            )
    created = campaign is None
    campaign = campaign or Campaign(tenant=tenant, created_by=acting_user)
    fields = _clean(tenant, data, campaign)
    lists, segments = fields.pop("lists", None), fields.pop("segments", None)
    before = {} if created else audit.snapshot(campaign, fields)
    audience_before = {} if created else _audience(campaign)
    for name, value in fields.items():
        setattr(campaign, name, value)
    campaign.save()
    if lists is not None:
        campaign.lists.set(lists)
    if segments is not None:
        campaign.segments.set(segments)
    if created:
        _audit(AuditEvent.Action.CAMPAIGN_CREATED, campaign, acting_user, None)
        return campaign
    changed = audit.changed_fields(campaign, before)
    changed += [name for name, ids in _audience(campaign).items() if ids != audience_before[name]]
    if changed:
        _audit(AuditEvent.Action.CAMPAIGN_CHANGED, campaign, acting_user, None, changed=changed)
    return campaign


def _audience(campaign: Campaign) -> dict[str, set[int]]:
    return {
        "lists": set(campaign.lists.values_list("pk", flat=True)),
        "segments": set(campaign.segments.values_list("pk", flat=True)),
    }


def _locked(campaign: Campaign) -> Campaign:
    locked = (
        Campaign.objects.select_for_update(of=("self",))
        .select_related("inbox", "template", "tenant")
        .filter(pk=campaign.pk)
        .first()
    )
    if locked is None:
        raise ActionError("No such campaign.", code="not_found")
    return locked


def _audit(action, campaign: Campaign, acting_user, token, **data) -> None:
    audit.record(
        action,
        tenant=campaign.tenant,
        actor=acting_user,
        token=token,
        target=campaign,
        data={"name": campaign.name, **data},
    )


def _kick(campaign_id: int) -> None:
    from campaigns.tasks import run_campaign_task

    for _ in range(settings.CAMPAIGN_WORKERS):
        run_campaign_task.delay(campaign_id)


@transaction.atomic
def do_launch_campaign(campaign: Campaign, *, acting_user=None, token=None) -> Campaign:
    """Snapshot the audience and schedule (or start) the campaign. Only once: a second launch
    is refused with a conflict."""
    campaign = _locked(campaign)
    if campaign.status != S.DRAFT:
        raise ActionError(
            f"The campaign was already launched (it is {campaign.get_status_display().lower()}); "
            "a campaign can be started once.",
            code="conflict",
        )
    errors = {}
    if not campaign.inbox.is_active:
        errors["inbox"] = f"“{campaign.inbox.name}” is disabled"
    if campaign.template.channel != campaign.inbox.kind:
        errors["template"] = (
            f"is written for {campaign.template.channel}, but the inbox sends {campaign.inbox.kind}"
        )
    if not campaign.lists.exists() and not campaign.segments.exists():
        errors["audience"] = "choose at least one list or segment"
    now = timezone.now()
    if campaign.scheduled_at and campaign.scheduled_at < now - datetime.timedelta(minutes=1):
        errors["scheduled_at"] = "is in the past; choose a later time or send now"
    if errors:
        raise LaunchRefused(errors)
    snapshot = snapshot_audience(campaign)
    refusal = refused_outside_window(campaign.template, snapshot.outside_window)
    if refusal:  # the rows written so far go with the transaction
        raise LaunchRefused({"template": refusal})
    total, skipped = snapshot.total, snapshot.skipped
    Campaign.objects.filter(pk=campaign.pk).update(
        status=S.SCHEDULED,
        launched_at=now,
        total=total,
        skipped=skipped,
        pending=total - skipped,
    )
    _audit(
        AuditEvent.Action.CAMPAIGN_LAUNCHED,
        campaign,
        acting_user,
        token,
        recipients=total,
        skipped=skipped,
    )
    if campaign.scheduled_at is None or campaign.scheduled_at <= now:
        _start(campaign.pk)
    campaign.refresh_from_db()
    return campaign


def _start(campaign_id: int) -> bool:
    started = Campaign.objects.filter(pk=campaign_id, status=S.SCHEDULED).update(
        status=S.RUNNING, started_at=timezone.now()
    )
    if started:
        transaction.on_commit(lambda: _after_start(campaign_id))
    return bool(started)


def _after_start(campaign_id: int) -> None:
    if not finish_if_done(campaign_id):
        _kick(campaign_id)
    publish_progress(campaign_id, force=True)


@transaction.atomic
def do_pause_campaign(
    campaign: Campaign, *, reason: str = "", acting_user=None, token=None
) -> Campaign:
    campaign = _locked(campaign)
    if campaign.status not in (S.SCHEDULED, S.RUNNING):
        raise ActionError(
            f"Only a scheduled or running campaign can be paused; this one is "
            f"{campaign.get_status_display().lower()}.",
            code="conflict",
        )
    Campaign.objects.filter(pk=campaign.pk).update(
        status=S.PAUSED,
        pause_reason=(reason or "Paused by a person.")[:500],
        paused_by_breaker=False,
    )
    _audit(AuditEvent.Action.CAMPAIGN_PAUSED, campaign, acting_user, token, reason=reason or "")
    transaction.on_commit(lambda: publish_progress(campaign.pk, force=True))
    campaign.refresh_from_db()
    return campaign


@transaction.atomic
def do_resume_campaign(campaign: Campaign, *, acting_user=None, token=None) -> Campaign:
    campaign = _locked(campaign)
    if campaign.status != S.PAUSED:
        raise ActionError(
            f"Only a paused campaign can be resumed; this one is "
            f"{campaign.get_status_display().lower()}.",
            code="conflict",
        )
    _resume(campaign)
    _audit(AuditEvent.Action.CAMPAIGN_RESUMED, campaign, acting_user, token)
    campaign.refresh_from_db()
    return campaign


def _resume(campaign: Campaign) -> None:
    not_started = campaign.started_at is None
    waiting = not_started and campaign.scheduled_at and campaign.scheduled_at > timezone.now()
    Campaign.objects.filter(pk=campaign.pk, status=S.PAUSED).update(
        status=S.SCHEDULED if not_started else S.RUNNING,
        pause_reason="",
        paused_by_breaker=False,
    )
    if not_started and not waiting:
        _start(campaign.pk)
    elif not not_started:
        transaction.on_commit(lambda: _after_start(campaign.pk))


@transaction.atomic
def do_cancel_campaign(campaign: Campaign, *, acting_user=None, token=None) -> Campaign:
    """Nothing more is sent; messages already handed to the provider stay as they are."""
    campaign = _locked(campaign)
    if campaign.status in (S.COMPLETED, S.CANCELLED):
        raise ActionError(
            f"The campaign is already {campaign.get_status_display().lower()}.", code="conflict"
        )
    now = timezone.now()
    cancelled = CampaignRecipient.objects.filter(
        campaign=campaign,
        status__in=[CampaignRecipient.Status.PENDING, CampaignRecipient.Status.LEASED],
    ).update(
        status=CampaignRecipient.Status.CANCELLED,
        finished_at=now,
        leased_by="",
        lease_expires_at=None,
    )
    Campaign.objects.filter(pk=campaign.pk).update(
        status=S.CANCELLED,
        finished_at=now,
        cancelled=F("cancelled") + cancelled,
        pending=F("pending") - cancelled,
    )
    _audit(AuditEvent.Action.CAMPAIGN_CANCELLED, campaign, acting_user, token, cancelled=cancelled)
    transaction.on_commit(lambda: publish_progress(campaign.pk, force=True))
    campaign.refresh_from_db()
    return campaign


@transaction.atomic
def do_delete_campaign(campaign: Campaign, *, acting_user=None) -> None:
    campaign = _locked(campaign)
    if campaign.status in (S.SCHEDULED, S.RUNNING, S.PAUSED):
        raise ActionError("Cancel the campaign before deleting it.", code="conflict")
    _audit(
        AuditEvent.Action.CAMPAIGN_DELETED,
        campaign,
        acting_user,
        None,
        status=campaign.status,
        sent=campaign.sent,
    )
    campaign.delete()


def campaigns_for_tenant(tenant: Tenant):
    return Campaign.objects.for_tenant(tenant).select_related("inbox", "template")


# --- the beat sweep ------------------------------------------------------------------------


def tick(now: datetime.datetime | None = None) -> dict[str, int]:
    """What beat runs every few seconds: expired leases, due schedules, breakers that cooled
    down, and running campaigns with work but no worker."""
    now = now or timezone.now()
    done = return_expired_leases()
    started = 0
    for campaign_id in Campaign.objects.filter(
        status=S.SCHEDULED, scheduled_at__lte=now
    ).values_list("pk", flat=True):
        with transaction.atomic():
            started += _start(campaign_id)
    resumed = 0
    for campaign in Campaign.objects.filter(status=S.PAUSED, paused_by_breaker=True).select_related(
        "inbox"
    ):
        if not breaker_for(campaign).is_open():
            with transaction.atomic():
                _resume(campaign)
            resumed += 1
    kicked = 0
    stale = now - datetime.timedelta(seconds=settings.CAMPAIGN_STALE_SECONDS)
    for campaign in Campaign.objects.filter(status=S.RUNNING).select_related("inbox"):
        if finish_if_done(campaign.pk):
            continue
        if campaign.last_batch_at and campaign.last_batch_at > stale:
            continue
        if has_claimable(campaign):
            _kick(campaign.pk)
            kicked += 1
    # Delivery receipts keep arriving after the last send: open pages follow them for a while.
    recent = now - datetime.timedelta(seconds=settings.CAMPAIGN_LIVE_AFTER_SECONDS)
    for campaign_id in Campaign.objects.filter(
        status__in=[S.COMPLETED, S.CANCELLED], finished_at__gte=recent
    ).values_list("pk", flat=True):
        publish_progress(campaign_id)
    return {**done, "started": started, "resumed": resumed, "kicked": kicked}
