"""Campaign pages: the list, the builder with its live preview, and a campaign's live page.

Pieces and their stable ids:

- ``campaigns/builder.html#preview`` (``#campaign-preview``): the audience (who gets it, who
  is skipped and why) and the message for the fields chosen so far; ``campaigns:preview``
  answers it as the inbox, template, lists or segments change.
- ``campaigns/detail.html#head`` (``#campaign-{id}-head``): status, facts and the actions the
  viewer may take; ``campaigns:head`` answers it when the page sees the state change.
- ``campaigns/detail.html#live`` (``#campaign-{id}-live``): the numbers and charts. Workers push
  it to the whole tenant over the websocket (:mod:`campaigns.progress`), rendered outside any
  request, so it holds nothing that depends on the viewer (no buttons, no CSRF token);
  ``campaigns:live`` answers it for polling while the websocket is down.

Every action is a POST form that calls one lifecycle function and reports a refusal as a
message on the campaign's page. Lookups are scoped to the request's tenant (404 otherwise).
"""

import datetime

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_datetime, parse_time
from django.utils.formats import date_format
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from campaigns.charts import funnel, sends_over_time
from campaigns.forms import DELAY_UNITS, WINDOW_UNITS, BuilderValues
from campaigns.lifecycle import (
    CampaignInvalid,
    campaigns_for_tenant,
    do_cancel_campaign,
    do_delete_campaign,
    do_launch_campaign,
    do_pause_campaign,
    do_resume_campaign,
    do_save_campaign,
)
from campaigns.models import Campaign
from campaigns.selectors import (
    builder_choices,
    builder_preview,
    campaign_list_for_tenant,
    campaign_row,
)
from campaigns.stats import campaign_stats
from campaigns.templatetags.campaign_ui import dollars, quiet_until
from inbox.sending_pace import pace_note
from omnichannel.actions import ACTION_ERROR_STATUS, ActionError
from omnichannel.tenancy import get_in_tenant, require_permission, tenant_zone
from omnichannel.zones import zone_label

PAGE_SIZE = 25
S = Campaign.Status
# The fields the builder shows problems next to (campaigns.lifecycle's names).
BUILDER_FIELDS = frozenset(
    {
        "name",
        "inbox",
        "template",
        "lists",
        "segments",
        "scheduled_at",
        "pacing",
        "delay_seconds",
        "window_seconds",
        "rate_per_second",
        "quiet_start",
        "quiet_end",
    }
)
# How launch refusals name the fields they are about.
FIELD_LABELS = {
    "audience": "Audience",
    "inbox": "Inbox",
    "template": "Template",
    "scheduled_at": "Start time",
}


def _render(
    request: HttpRequest, template: str, context: dict, *, status: int = 200
) -> HttpResponse:
    return render(request, template, {"section": "campaigns", **context}, status=status)


def _campaign(request: HttpRequest, campaign_id: int) -> Campaign:
    return get_in_tenant(
        campaigns_for_tenant(request.tenant).select_related("tenant", "created_by"),
        request.tenant,
        pk=campaign_id,
    )


def _can(request: HttpRequest, codename: str) -> bool:
    return request.membership.has_permission(codename)


def _back(campaign: Campaign) -> HttpResponse:
    return redirect("campaigns:detail", campaign_id=campaign.pk)


# --- The list ------------------------------------------------------------------------------


@require_GET
@require_permission("campaigns.view")
def index(request: HttpRequest) -> HttpResponse:
    page = Paginator(campaign_list_for_tenant(request.tenant), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return _render(
        request,
        "campaigns/list.html",
        {
            "page": page,
            "rows": [campaign_row(campaign) for campaign in page],
            "can_edit": _can(request, "campaigns.edit"),
        },
    )


# --- The builder ---------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@require_permission("campaigns.edit")
def create(request: HttpRequest) -> HttpResponse:
    return _builder(request, None)


@require_http_methods(["GET", "POST"])
@require_permission("campaigns.edit")
def edit(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign(request, campaign_id)
    if campaign.status != S.DRAFT:
        messages.info(request, "Only drafts can be changed; this campaign was launched.")
        return _back(campaign)
    return _builder(request, campaign)


def _builder(request: HttpRequest, campaign: Campaign | None) -> HttpResponse:
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        values = BuilderValues.from_post(request.POST)
        try:
            saved = do_save_campaign(
                request.tenant, values.data(), campaign=campaign, acting_user=request.user
            )
        except CampaignInvalid as exc:
            errors, status = exc.errors, 400
        except ActionError as exc:
            messages.error(request, exc.message)
            if campaign is not None and exc.code == "conflict":
                return _back(campaign)  # launched meanwhile: its page says what it does
            status = ACTION_ERROR_STATUS.get(exc.code, 400)
        else:
            messages.success(request, f"Saved the draft “{saved.name}”.")
            return _back(saved)
    else:
        values = BuilderValues.from_campaign(campaign) if campaign else BuilderValues()
    context = {
        "campaign": campaign,
        "values": values,
        "chosen": values.chosen(),
        "errors": errors,
        "choices": builder_choices(request.tenant),
        # Problems the form has no place for (a field it never sends, say) still show.
        "other_errors": {k: v for k, v in errors.items() if k not in BUILDER_FIELDS},
        "delay_units": list(DELAY_UNITS),
        "window_units": list(WINDOW_UNITS),
        "zone": timezone.get_current_timezone_name(),
        # Contacts without a zone of their own get quiet hours in the tenant's.
        "tenant_zone_name": tenant_zone(request.tenant).key,
        **_preview_context(request, values),
    }
    return _render(request, "campaigns/builder.html", context, status=status)


def _quiet_hours(values: BuilderValues) -> Campaign | None:
    """An unsaved campaign holding the form's quiet hours, for the preview to apply; None when
    they are off or not readable yet (saving reports those)."""
    try:
        start, end = parse_time(values.quiet_start), parse_time(values.quiet_end)
    except ValueError:
        return None
    if not values.quiet_hours or start is None or end is None:
        return None
    return Campaign(quiet_hours=True, quiet_start=start, quiet_end=end)


def _start(request: HttpRequest, values: BuilderValues) -> datetime.datetime | None:
    """When the campaign would start: the chosen time (read where the person reads times),
    else None for "as soon as it is launched"."""
    if values.send_when != "later":
        return None
    try:
        moment = parse_datetime(values.scheduled_at)
    except ValueError:
        return None
    if moment is not None and timezone.is_naive(moment):
        moment = moment.replace(tzinfo=timezone.get_current_timezone())
    return moment


def _preview_context(request: HttpRequest, values: BuilderValues) -> dict:
    start = _start(request, values)
    return {
        "preview": builder_preview(
            request.tenant,
            inbox_id=values.inbox,
            template_id=values.template,
            list_ids=values.lists,
            segment_ids=values.segments,
            quiet_hours=_quiet_hours(values),
            start=start or timezone.now(),
        ),
        "start": start,
    }


@require_GET
@require_permission("campaigns.view")
def preview(request: HttpRequest) -> HttpResponse:
    """The builder's preview piece for the fields in the query string: who the audience
    reaches, a read like the API's ``POST /campaigns/audience-preview`` (same permission)."""
    values = BuilderValues.from_post(request.GET)
    return _render(request, "campaigns/builder.html#preview", _preview_context(request, values))


# --- A campaign's page ---------------------------------------------------------------------


def _live_context(campaign: Campaign) -> dict:
    """What ``detail.html#live`` is rendered with (the same keys as campaigns.progress)."""
    stats = campaign_stats(campaign)
    return {
        "campaign": campaign,
        "stats": stats,
        "oob": False,
        "sends_chart": sends_over_time(stats),
        "funnel_chart": funnel(stats),
    }


def _launch_confirmation(campaign: Campaign) -> str:
    """What the person launching is asked to confirm: the audience, the cost estimate and the
    schedule, with who will wait for quiet hours (the builder's preview, for this draft)."""
    zone = timezone.get_current_timezone()
    start = campaign.scheduled_at
    preview = builder_preview(
        campaign.tenant,
        inbox_id=str(campaign.inbox_id),
        template_id=str(campaign.template_id),
        list_ids=[str(pk) for pk in campaign.lists.values_list("pk", flat=True)],
        segment_ids=[str(pk) for pk in campaign.segments.values_list("pk", flat=True)],
        quiet_hours=campaign if campaign.quiet_hours else None,
        start=start or timezone.now(),
    )
    if start:
        local = start.astimezone(zone)
        when = f"{local:%H:%M} on {local.day} {local:%b %Y}"
        lines = [f"Schedule “{campaign.name}” for {when} ({zone.key})?"]
    else:
        lines = [f"Launch “{campaign.name}” now?"]
    audience = preview.audience
    if audience is not None:
        skipped = audience.total - audience.sendable
        who = f"{audience.sendable} {'person gets' if audience.sendable == 1 else 'people get'} it"
        if skipped:
            who += f" ({skipped} skipped)"
        if preview.total_segments is not None:
            who += (
                f"; about {preview.total_segments} SMS segment"
                f"{'s' if preview.total_segments != 1 else ''}, about "
                f"{dollars(preview.total_cost)} at list price"
            )
        lines.append(who + ".")
    if campaign.quiet_hours:
        quiet = (
            f"Quiet hours from {campaign.quiet_start:%H:%M} to {campaign.quiet_end:%H:%M} in each "
            "person's time zone"
        )
        wait = preview.quiet_wait
        if wait.count:
            quiet += f": {wait.count} wait {quiet_until(wait.first_end, wait.last_end, zone)}"
        lines.append(quiet + ".")
    else:
        lines.append("No quiet hours: messages go out at any hour.")
    return "\n".join(lines)


def _head_context(request: HttpRequest, campaign: Campaign) -> dict:
    can_launch = _can(request, "campaigns.launch")
    return {
        "campaign": campaign,
        "launch_confirmation": (
            _launch_confirmation(campaign) if can_launch and campaign.status == S.DRAFT else ""
        ),
        "audience_lists": list(campaign.lists.order_by("name").values_list("name", flat=True)),
        "audience_segments": list(
            campaign.segments.order_by("name").values_list("name", flat=True)
        ),
        "can_edit": _can(request, "campaigns.edit"),
        "can_launch": can_launch,
        "zone": zone_label(timezone.get_current_timezone(), campaign.scheduled_at),
        "pace_note": pace_note(campaign.inbox),
    }


@require_GET
@require_permission("campaigns.view")
def detail(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign(request, campaign_id)
    context = {**_live_context(campaign), **_head_context(request, campaign)}
    return _render(request, "campaigns/detail.html", context)


@require_GET
@require_permission("campaigns.view")
def live(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """The live piece alone (for pages without a websocket)."""
    campaign = _campaign(request, campaign_id)
    return _render(request, "campaigns/detail.html#live", _live_context(campaign))


@require_GET
@require_permission("campaigns.view")
def head(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """The head piece alone: the page asks again once the campaign's state changed."""
    campaign = _campaign(request, campaign_id)
    return _render(request, "campaigns/detail.html#head", _head_context(request, campaign))


# --- Actions -------------------------------------------------------------------------------


def _reasons(errors: dict[str, str]) -> str:
    return "; ".join(
        f"{FIELD_LABELS.get(k, k.replace('_', ' ').capitalize())}: {v}" for k, v in errors.items()
    )


@require_POST
@require_permission("campaigns.launch")
def launch(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign(request, campaign_id)
    try:
        campaign = do_launch_campaign(campaign, acting_user=request.user)
    except CampaignInvalid as exc:
        messages.error(request, f"The campaign cannot be launched: {_reasons(exc.errors)}.")
    except ActionError as exc:
        messages.error(request, exc.message)
    else:
        to_send = campaign.total - campaign.skipped
        who = f"{to_send} message{'s' if to_send != 1 else ''} to send"
        if campaign.skipped:
            who += f", {campaign.skipped} skipped"
        if campaign.status == S.SCHEDULED and campaign.scheduled_at:
            when = date_format(timezone.localtime(campaign.scheduled_at), "j M Y, H:i")
            messages.success(request, f"Scheduled for {when}: {who}.")
        else:
            messages.success(request, f"Launched: {who}.")
    return _back(campaign)


@require_POST
@require_permission("campaigns.launch")
def pause(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign(request, campaign_id)
    reason = " ".join(request.POST.get("reason", "").split())
    try:
        do_pause_campaign(
            campaign,
            reason=reason or f"Paused by {request.user.email}.",
            acting_user=request.user,
        )
    except ActionError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Paused. Nothing more is sent until it is resumed.")
    return _back(campaign)


@require_POST
@require_permission("campaigns.launch")
def resume(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign(request, campaign_id)
    try:
        do_resume_campaign(campaign, acting_user=request.user)
    except ActionError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Resumed.")
    return _back(campaign)


@require_POST
@require_permission("campaigns.launch")
def cancel(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign(request, campaign_id)
    try:
        campaign = do_cancel_campaign(campaign, acting_user=request.user)
    except ActionError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            f"Cancelled: {campaign.cancelled} message{'s' if campaign.cancelled != 1 else ''} "
            "will not be sent. Messages already handed to the provider stay as they are.",
        )
    return _back(campaign)


@require_POST
@require_permission("campaigns.edit")
def delete(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign(request, campaign_id)
    try:
        do_delete_campaign(campaign)
    except ActionError as exc:
        messages.error(request, exc.message)
        return _back(campaign)
    messages.success(request, f"Deleted the campaign “{campaign.name}”.")
    return redirect("campaigns:index")
