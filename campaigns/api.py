"""Campaigns and message templates in the JSON API (mounted at /api/v1/ by omnichannel.api).

Everything is scoped to the calling token's tenant: another tenant's campaign or template id
answers 404, exactly like a missing one, and another tenant's inbox, template, list or segment
in a body is refused like an unknown one. Input the campaign or template services refuse
answers 422 with the usual error body plus ``errors`` mapping each field to what is wrong::

    {"error": {"code": "invalid", "message": "Cannot save the campaign: inbox: is not one of
               this tenant's inboxes", "errors": {"inbox": "is not one of this tenant's inboxes"}}}

A campaign is changed only while it is a draft; launching, pausing, resuming and cancelling it
in a state that does not allow it answers 409 (a campaign is launched once). ``POST /campaigns``
and ``POST /campaigns/{id}/launch`` honour an ``Idempotency-Key`` header like ``POST /messages``.
"""

from collections.abc import Callable
from datetime import datetime, time
from decimal import Decimal
from functools import wraps
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest
from ninja import Field, Router, Schema, Status
from ninja.pagination import paginate

from campaigns.audience import preview_audience
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
from campaigns.media import check_save_template, do_delete_template
from campaigns.models import Campaign, MessageTemplate
from campaigns.services import FieldErrors, preview
from campaigns.stats import campaign_stats
from contacts.models import Contact, ContactList, Segment
from inbox.models import Inbox
from omnichannel.api import (
    ApiInput,
    Paginated,
    error,
    idempotent,
    permission_required,
    require_api_permission,
)
from omnichannel.tenancy import get_in_tenant

router = Router(tags=["campaigns"])
ROUTERS = [router]  # mounted at /api/v1/ by omnichannel.api

PACING_HELP = (
    "none (as fast as the sender allows), delay (delay_seconds between messages), window "
    "(spread over window_seconds) or rate (at most rate_per_second)."
)
# Which number each pacing needs (plain strings: the payload's values are plain strings).
PACING_NUMBERS = {"delay": "delay_seconds", "window": "window_seconds", "rate": "rate_per_second"}


# --- Schemas ------------------------------------------------------------------------------------


class TemplateOut(Schema):
    id: int
    name: str
    channel: str
    body: str
    content_sid: str
    variables: dict[str, str]
    created_at: datetime
    updated_at: datetime


class TemplateIn(ApiInput):
    name: str = Field(..., max_length=200)
    channel: str = Field(..., description="sms, whatsapp, … (the channel it is written for).")
    body: str = Field("", description='Text with variables: Hi {{firstName|default:"there"}}.')
    content_sid: str = Field("", description="WhatsApp: the approved template's Content SID.")
    variables: dict[str, str] = Field(
        default_factory=dict, description='WhatsApp: numbers to variables, {"1": "firstName"}.'
    )


class TemplatePatchIn(ApiInput):
    """Only the fields sent change; null leaves a field as it is."""

    name: str | None = Field(None, max_length=200)
    channel: str | None = None
    body: str | None = None
    content_sid: str | None = None
    variables: dict[str, str] | None = None


class TemplatePreviewIn(ApiInput):
    contact_id: int
    price_per_segment: Decimal | None = Field(
        None, ge=0, description="What one SMS segment costs; with it the answer has `cost`."
    )


class TemplatePreviewOut(Schema):
    text: str
    encoding: str = Field(..., description="GSM-7, or UCS-2 when a character is not in GSM-7.")
    units: int = Field(..., description="Septets (GSM-7) or UTF-16 code units (UCS-2).")
    segments: int
    per_segment: int
    non_gsm: str = Field(..., description="The characters that forced UCS-2.")
    cost: Decimal | None = Field(..., description="segments times price_per_segment, if sent.")


class CampaignOut(Schema):
    id: int
    name: str
    status: str
    status_label: str
    pause_reason: str
    paused_by_breaker: bool
    inbox: int = Field(..., alias="inbox_id")
    template: int = Field(..., alias="template_id")
    lists: list[int]
    segments: list[int]
    scheduled_at: datetime | None
    pacing: str
    delay_seconds: float | None
    window_seconds: int | None
    rate_per_second: float | None
    quiet_hours: bool
    quiet_start: time
    quiet_end: time
    total: int
    pending: int
    sent: int
    failed: int
    skipped: int
    unknown: int
    cancelled: int
    replied: int
    created_at: datetime
    updated_at: datetime
    launched_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None

    @staticmethod
    def resolve_status_label(campaign: Campaign) -> str:
        return campaign.get_status_display()

    # Needs "lists" and "segments" prefetched (see _campaigns).
    @staticmethod
    def resolve_lists(campaign: Campaign) -> list[int]:
        return sorted(contact_list.pk for contact_list in campaign.lists.all())

    @staticmethod
    def resolve_segments(campaign: Campaign) -> list[int]:
        return sorted(segment.pk for segment in campaign.segments.all())


class CampaignIn(ApiInput):
    name: str = Field(..., max_length=200)
    inbox: int = Field(..., description="An SMS, WhatsApp or iMessage inbox of the tenant.")
    template: int = Field(..., description="A template written for the inbox's channel.")
    lists: list[int] = Field(default_factory=list, max_length=500)
    segments: list[int] = Field(default_factory=list, max_length=500)
    scheduled_at: str | None = Field(
        None,
        description=(
            "ISO 8601, e.g. 2026-12-24T09:00; without an offset it is the tenant's time zone. "
            "Empty: sends when launched."
        ),
    )
    pacing: str = Field("none", description=PACING_HELP)
    delay_seconds: float | None = None
    window_seconds: float | None = None
    rate_per_second: float | None = None
    quiet_hours: bool = Field(True, description="Hold messages between quiet_start and quiet_end.")
    quiet_start: str | None = Field(None, description="The recipient's local time, e.g. 21:00.")
    quiet_end: str | None = Field(None, description="e.g. 08:00.")


class CampaignPatchIn(ApiInput):
    """Only the fields sent change. A pacing number sent alone keeps the current pacing."""

    name: str | None = Field(None, max_length=200)
    inbox: int | None = None
    template: int | None = None
    lists: list[int] | None = Field(None, max_length=500)
    segments: list[int] | None = Field(None, max_length=500)
    scheduled_at: str | None = Field(None, description="null: sends when launched.")
    pacing: str | None = Field(None, description=PACING_HELP)
    delay_seconds: float | None = None
    window_seconds: float | None = None
    rate_per_second: float | None = None
    quiet_hours: bool | None = None
    quiet_start: str | None = None
    quiet_end: str | None = None


class PauseIn(ApiInput):
    reason: str = Field("", max_length=500, description="Shown on the campaign while paused.")


class ErrorGroupOut(Schema):
    code: str
    count: int
    example: str | None
    address: str | None


class TimelineBarOut(Schema):
    at: datetime
    sent: int


class StatsOut(Schema):
    """Counters from the campaign; delivered and read from the messages' provider statuses."""

    id: int
    status: str
    status_label: str
    pause_reason: str
    total: int
    queued: int
    sent: int
    delivered: int
    read: int
    failed: int = Field(..., description="Refused by the provider, or sent but undelivered.")
    undelivered: int
    skipped: int
    unknown: int
    cancelled: int
    replied: int
    skipped_by_reason: dict[str, int]
    delivery_rate: float | None
    read_rate: float | None
    reply_rate: float | None
    progress: float = Field(..., description="Percent of the sendable recipients settled.")
    sending_rate: float = Field(..., description="Messages per second over the last minute.")
    eta_seconds: int | None = Field(
        ..., description="Seconds until every queued message is sent, quiet-hours waits counted."
    )
    waiting_for_quiet_hours: int = Field(
        ..., description="Queued recipients whose quiet hours hold them now."
    )
    quiet_hours_end: datetime | None = Field(..., description="When the first of those waits ends.")
    quiet_hours_last_end: datetime | None = Field(
        ..., description="When the last of those waits ends (recipients' time zones differ)."
    )
    errors: list[ErrorGroupOut]
    timeline: list[TimelineBarOut]
    bucket_seconds: int


class AudiencePreviewIn(ApiInput):
    inbox: int
    lists: list[int] = Field(default_factory=list, max_length=500)
    segments: list[int] = Field(default_factory=list, max_length=500)


class SkippedExample(Schema):
    contact_id: int
    address: str
    reason: str


class OutsideWindowExample(Schema):
    contact_id: int
    name: str
    address: str


class AudiencePreviewOut(Schema):
    total: int = Field(..., description="Appearances in the lists and segments, repeats included.")
    sendable: int = Field(..., description="How many messages launching now would send.")
    skipped: int
    skipped_by_reason: dict[str, int]
    examples: list[SkippedExample] = Field(..., description="A few of the skipped people.")
    window_hours: int | None = Field(
        ...,
        description="WhatsApp: free-form text reaches only people who wrote in this many hours; "
        "null for channels without such a window.",
    )
    outside_window: int = Field(
        ...,
        description="Of the sendable, how many have not written within window_hours: only an "
        "approved template (Content SID) reaches them, and launching a campaign with free-form "
        "text is refused while there are any.",
    )
    outside_window_examples: list[OutsideWindowExample] = Field(
        ..., description="A few of the people outside the window."
    )


# --- Helpers ------------------------------------------------------------------------------------


def reports_field_errors(doing: str) -> Callable[[Callable], Callable]:
    """Field-by-field refusals of the services answer 422 with ``errors``, like the contacts
    API (their ActionError code alone would make a bare 400)."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            try:
                return view(request, *args, **kwargs)
            except FieldErrors as exc:
                details = "; ".join(f"{field}: {reason}" for field, reason in exc.errors.items())
                return error(
                    request, 422, "invalid", f"Cannot {doing}: {details}", errors=exc.errors
                )

        return wrapper

    return decorator


def _campaigns(request: HttpRequest) -> QuerySet[Campaign]:
    return campaigns_for_tenant(request.tenant).prefetch_related(
        Prefetch("lists", queryset=ContactList.objects.only("id")),
        Prefetch("segments", queryset=Segment.objects.only("id")),
    )


def _campaign(request: HttpRequest, campaign_id: int) -> Campaign:
    return get_in_tenant(_campaigns(request), request.tenant, pk=campaign_id)


def _row(request: HttpRequest, campaign_id: int) -> Campaign:
    """The bare campaign, for the lifecycle actions (which lock and reload it)."""
    return get_in_tenant(Campaign, request.tenant, pk=campaign_id)


def _load_campaign(request: HttpRequest) -> Callable[[int], Campaign | None]:
    return lambda pk: _campaigns(request).filter(pk=pk).first()


def _template(request: HttpRequest, template_id: int) -> MessageTemplate:
    return get_in_tenant(MessageTemplate, request.tenant, pk=template_id)


def _campaign_data(payload: Schema) -> dict[str, Any]:
    """The fields sent (only those change), as ``do_save_campaign`` reads them."""
    return payload.model_dump(exclude_unset=True)


# --- Templates ----------------------------------------------------------------------------------


@router.get("/templates", response=list[TemplateOut], summary="The tenant's message templates")
@permission_required("templates.view")
@paginate(Paginated, max_limit=200)
def template_list(request: HttpRequest, channel: str | None = None):
    """By name; `channel` keeps one channel's templates."""
    templates = MessageTemplate.objects.for_tenant(request.tenant).order_by("name", "id")
    return templates.filter(channel=channel) if channel else templates


@router.post("/templates", response={201: TemplateOut}, summary="Create a message template")
@permission_required("templates.manage")
@reports_field_errors("save the template")
def template_create(request: HttpRequest, payload: TemplateIn):
    """Variables are checked now: an unknown `{{name}}` or a stray brace answers 422 naming
    it. Names are unique in the tenant."""
    template = check_save_template(request.tenant, **payload.model_dump())
    return Status(201, template)


@router.get("/templates/{template_id}", response=TemplateOut, summary="A message template")
@permission_required("templates.view")
def template_detail(request: HttpRequest, template_id: int):
    return _template(request, template_id)


@router.patch("/templates/{template_id}", response=TemplateOut, summary="Change a template")
@permission_required("templates.manage")
@reports_field_errors("save the template")
def template_update(request: HttpRequest, template_id: int, payload: TemplatePatchIn):
    """Only the fields sent change. Recipients of a launched campaign keep the text they were
    given at launch."""
    template = _template(request, template_id)
    fields = {
        "name": template.name,
        "channel": template.channel,
        "body": template.body,
        "content_sid": template.content_sid,
        "variables": template.variables,
    }
    fields.update(payload.model_dump(exclude_none=True))
    return check_save_template(request.tenant, template=template, **fields)


@router.delete("/templates/{template_id}", response={204: None}, summary="Delete a template")
@permission_required("templates.manage")
def template_delete(request: HttpRequest, template_id: int):
    """Its media files go too. A template a campaign uses (even a finished one) answers 409."""
    do_delete_template(_template(request, template_id))
    return Status(204, None)


@router.post(
    "/templates/{template_id}/preview",
    response=TemplatePreviewOut,
    summary="The template as one contact would receive it, and its SMS segments",
)
@permission_required("templates.view")
def template_preview(request: HttpRequest, template_id: int, payload: TemplatePreviewIn):
    """Also needs `contacts.view`: the text shows the contact's data."""
    require_api_permission(request, "contacts.view")
    template = _template(request, template_id)
    contact = get_in_tenant(Contact, request.tenant, pk=payload.contact_id)
    text, info = preview(template, contact)
    price = payload.price_per_segment
    return {
        "text": text,
        "encoding": info.encoding,
        "units": info.units,
        "segments": info.segments,
        "per_segment": info.per_segment,
        "non_gsm": info.non_gsm,
        "cost": info.cost(price) if price is not None else None,
    }


# --- Campaigns ----------------------------------------------------------------------------------


@router.get(
    "/campaigns", response=list[CampaignOut], summary="The tenant's campaigns, newest first"
)
@permission_required("campaigns.view")
@paginate(Paginated, max_limit=200)
def campaign_list(request: HttpRequest, status: Campaign.Status | None = None):
    """`status` keeps the campaigns in one state."""
    campaigns = _campaigns(request).order_by("-created_at", "-id")
    return campaigns.filter(status=status) if status else campaigns


@router.post(
    "/campaigns/audience-preview",
    response=AudiencePreviewOut,
    summary="Who a campaign would reach if launched now, and who would be skipped",
)
@permission_required("campaigns.view")
@reports_field_errors("preview the audience")
def campaign_audience_preview(request: HttpRequest, payload: AudiencePreviewIn):
    """The same decisions the launch makes (opted out of this sender, blocked, no valid
    address, the same person twice), counted, and on WhatsApp who is outside the 24-hour
    window; nothing is saved. Ids that are not this tenant's answer 422 naming the field."""
    tenant = request.tenant
    errors: dict[str, str] = {}
    inbox = Inbox.objects.for_tenant(tenant).filter(pk=payload.inbox).first()
    if inbox is None:
        errors["inbox"] = "is not one of this tenant's inboxes"
    chosen: dict[str, list] = {}
    for field, model, ids in (
        ("lists", ContactList, set(payload.lists)),
        ("segments", Segment, set(payload.segments)),
    ):
        chosen[field] = list(model.objects.for_tenant(tenant).filter(pk__in=ids))
        missing = sorted(ids - {row.pk for row in chosen[field]})
        if missing:
            errors[field] = f"has ids that are not this tenant's: {missing}"
    if errors:
        raise CampaignInvalid(errors)
    result = preview_audience(
        tenant, inbox=inbox, lists=chosen["lists"], segments=chosen["segments"]
    )
    return {
        "total": result.total,
        "sendable": result.sendable,
        "skipped": sum(result.skipped.values()),
        "skipped_by_reason": result.skipped,
        "examples": result.examples,
        "window_hours": result.outside_window.hours,
        "outside_window": result.outside_window.count,
        "outside_window_examples": result.outside_window.examples,
    }


@router.post(
    "/campaigns",
    response={200: CampaignOut, 201: CampaignOut},
    summary="Create a draft campaign",
)
@permission_required("campaigns.edit")
@reports_field_errors("save the campaign")
def campaign_create(request: HttpRequest, payload: CampaignIn):
    """Nothing is sent until `POST /campaigns/{id}/launch`. Send an `Idempotency-Key` header to
    make retries safe: a repeat answers 200 with the same draft."""

    def create() -> Campaign:
        return do_save_campaign(request.tenant, _campaign_data(payload))

    return idempotent(
        request,
        scope="campaigns",
        fingerprint=payload.model_dump(),
        act=create,
        load=_load_campaign(request),
    )


@router.get("/campaigns/{campaign_id}", response=CampaignOut, summary="A campaign")
@permission_required("campaigns.view")
def campaign_detail(request: HttpRequest, campaign_id: int):
    return _campaign(request, campaign_id)


@router.patch("/campaigns/{campaign_id}", response=CampaignOut, summary="Change a draft campaign")
@permission_required("campaigns.edit")
@reports_field_errors("save the campaign")
def campaign_update(request: HttpRequest, campaign_id: int, payload: CampaignPatchIn):
    """Only the fields sent change; `lists` and `segments` replace the whole selection. A
    campaign that is no longer a draft answers 409."""
    campaign = _row(request, campaign_id)
    do_save_campaign(request.tenant, _campaign_data(payload), campaign=campaign)
    return _campaign(request, campaign_id)


@router.delete("/campaigns/{campaign_id}", response={204: None}, summary="Delete a campaign")
@permission_required("campaigns.edit")
def campaign_delete(request: HttpRequest, campaign_id: int):
    """Drafts and finished campaigns; a scheduled, running or paused one answers 409 (cancel
    it first). The messages it sent stay in their conversations."""
    do_delete_campaign(_row(request, campaign_id))
    return Status(204, None)


@router.post(
    "/campaigns/{campaign_id}/launch",
    response=CampaignOut,
    summary="Launch a draft: snapshot the audience and send now or at scheduled_at",
)
@permission_required("campaigns.launch")
@reports_field_errors("launch the campaign")
def campaign_launch(request: HttpRequest, campaign_id: int):
    """The audience is fixed now: later changes to its lists do not change the campaign.
    A campaign is launched once: launching it again answers 409. With an `Idempotency-Key`
    header a repeat answers 200 with the campaign instead. A WhatsApp campaign with free-form
    text (a template without a Content SID) answers 422 while some of its audience has not
    written in the last 24 hours, naming a few of them."""
    campaign = _row(request, campaign_id)
    return idempotent(
        request,
        scope="campaigns",
        fingerprint=campaign_id,
        act=lambda: do_launch_campaign(campaign, token=request.api_token),
        load=_load_campaign(request),
        status=200,
    )


@router.post("/campaigns/{campaign_id}/pause", response=CampaignOut, summary="Pause a campaign")
@permission_required("campaigns.launch")
def campaign_pause(request: HttpRequest, campaign_id: int, payload: PauseIn | None = None):
    """A scheduled or running campaign; the batch in flight finishes. 409 otherwise."""
    reason = payload.reason if payload is not None else ""
    do_pause_campaign(_row(request, campaign_id), reason=reason, token=request.api_token)
    return _campaign(request, campaign_id)


@router.post("/campaigns/{campaign_id}/resume", response=CampaignOut, summary="Resume a campaign")
@permission_required("campaigns.launch")
def campaign_resume(request: HttpRequest, campaign_id: int):
    """A paused campaign goes on where it stopped (or waits for scheduled_at). 409 otherwise."""
    do_resume_campaign(_row(request, campaign_id), token=request.api_token)
    return _campaign(request, campaign_id)


@router.post("/campaigns/{campaign_id}/cancel", response=CampaignOut, summary="Cancel a campaign")
@permission_required("campaigns.launch")
def campaign_cancel(request: HttpRequest, campaign_id: int):
    """Nothing more is sent; messages already handed to the provider stay as they are. A
    completed or cancelled campaign answers 409."""
    do_cancel_campaign(_row(request, campaign_id), token=request.api_token)
    return _campaign(request, campaign_id)


@router.get("/campaigns/{campaign_id}/stats", response=StatsOut, summary="A campaign's numbers")
@permission_required("campaigns.view")
def campaign_stats_view(request: HttpRequest, campaign_id: int):
    """What the campaign page shows: counters, delivery and reply rates, skips by reason,
    errors grouped by the provider's code, and sends over time."""
    return campaign_stats(_row(request, campaign_id)).as_dict()
