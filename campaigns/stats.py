"""A campaign's numbers: counters from the campaign row, the rest from its recipients.

Delivered and read come from the messages' own statuses (moved forward by the provider's
status callbacks), so they are true whichever worker sent the message. Every query here is on
an index of ``CampaignRecipient`` (campaign + status, campaign + sent_at) or a primary key.
"""

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import Count
from django.utils import timezone

from campaigns.models import Campaign, CampaignRecipient
from campaigns.pacing import QuietWait, effective_rate, eta_seconds, quiet_wait
from inbox.models import Message

RATE_WINDOW_SECONDS = 60
CHART_BARS = 30
R = CampaignRecipient.Status


@dataclass
class Stats:
    id: int
    status: str
    status_label: str
    pause_reason: str
    total: int
    queued: int
    sent: int
    delivered: int
    read: int
    failed: int
    undelivered: int
    skipped: int
    unknown: int
    cancelled: int
    replied: int
    skipped_by_reason: dict[str, int]
    delivery_rate: float | None
    read_rate: float | None
    reply_rate: float | None
    progress: float
    sending_rate: float
    eta_seconds: int | None
    # Waiting recipients whose quiet hours hold them now, and when the first and the last of
    # those waits end.
    waiting_for_quiet_hours: int = 0
    quiet_hours_end: datetime | None = None
    quiet_hours_last_end: datetime | None = None
    errors: list[dict] = field(default_factory=list)
    timeline: list[dict] = field(default_factory=list)
    bucket_seconds: int = 60

    def as_dict(self) -> dict:
        return {
            key: value.isoformat() if isinstance(value, datetime) else value
            for key, value in asdict(self).items()
        }


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _message_statuses(campaign: Campaign) -> dict[str, int]:
    rows = (
        CampaignRecipient.objects.filter(campaign=campaign, status=R.SENT)
        .values_list("message__status")
        .annotate(n=Count("id"))
    )
    return {status or "": n for status, n in rows}


def _errors(campaign: Campaign, limit: int = 10) -> list[dict]:
    """Failures grouped by the provider's error code, biggest first, each with one recipient's
    message and address as the example."""
    failed = CampaignRecipient.objects.filter(campaign=campaign, status__in=[R.FAILED, R.UNKNOWN])
    counts = (
        failed.values_list("error_code")
        .annotate(count=Count("id"))
        .order_by("-count", "error_code")[:limit]
    )
    counts = dict(counts)
    examples = {
        row["error_code"]: row
        for row in failed.filter(error_code__in=list(counts))
        .order_by("error_code", "id")
        .distinct("error_code")
        .values("error_code", "error_message", "address")
    }
    return [
        {
            "code": code or "—",
            "count": count,
            "example": examples[code]["error_message"],
            "address": examples[code]["address"],
        }
        for code, count in counts.items()
    ]


def _timeline(campaign: Campaign) -> tuple[list[dict], int]:
    """Sends per time bucket since the start, at most ``CHART_BARS`` buckets."""
    if campaign.started_at is None:
        return [], 60
    end = campaign.finished_at or timezone.now()
    span = max(1.0, (end - campaign.started_at).total_seconds())
    bucket = max(1, int(span // CHART_BARS) + 1)
    sql = f"""
        SELECT floor(extract(epoch FROM (sent_at - %s)) / %s)::int AS slot, count(*)
        FROM {CampaignRecipient._meta.db_table}
        WHERE campaign_id = %s AND status = 'sent' AND sent_at IS NOT NULL
        GROUP BY slot ORDER BY slot
    """  # noqa: S608  (table name from the model)
    with connection.cursor() as cursor:
        cursor.execute(sql, [campaign.started_at, bucket, campaign.pk])
        counts = dict(cursor.fetchall())
    slots = max(1, min(CHART_BARS, int(span // bucket) + 1))
    return [
        {
            "at": (campaign.started_at + timedelta(seconds=i * bucket)).isoformat(),
            "sent": counts.get(i, 0),
        }
        for i in range(slots)
    ], bucket


def _quiet_wait(campaign: Campaign, now: datetime) -> QuietWait:
    """Who of the waiting recipients quiet hours hold now: one row per time zone."""
    if not campaign.quiet_hours or not campaign.pending or not campaign.is_active:
        return QuietWait()
    zones = dict(
        CampaignRecipient.objects.filter(campaign=campaign, status=R.PENDING)
        .values_list("timezone")
        .annotate(n=Count("id"))
    )
    return quiet_wait(campaign, zones, now)


def campaign_stats(campaign: Campaign) -> Stats:
    campaign.refresh_from_db()
    statuses = _message_statuses(campaign)
    read = statuses.get(Message.Status.READ, 0)
    delivered = statuses.get(Message.Status.DELIVERED, 0) + read
    undelivered = statuses.get(Message.Status.UNDELIVERED, 0) + statuses.get(
        Message.Status.FAILED, 0
    )
    skipped_by_reason = dict(
        CampaignRecipient.objects.filter(campaign=campaign, status=R.SKIPPED)
        .values_list("skip_reason")
        .annotate(n=Count("id"))
    )
    now = timezone.now()
    since = now - timedelta(seconds=RATE_WINDOW_SECONDS)
    recent = CampaignRecipient.objects.filter(
        campaign=campaign, sent_at__gte=since, status=R.SENT
    ).count()
    sending_rate = round(recent / RATE_WINDOW_SECONDS, 2)
    wait = _quiet_wait(campaign, now)
    eta = None
    if campaign.status == Campaign.Status.RUNNING and campaign.pending:
        rate = sending_rate or effective_rate(campaign)
        eta = eta_seconds(campaign.pending, wait, rate, now)
    to_send = campaign.total - campaign.skipped
    timeline, bucket = _timeline(campaign)
    return Stats(
        id=campaign.pk,
        status=campaign.status,
        status_label=campaign.get_status_display(),
        pause_reason=campaign.pause_reason,
        total=campaign.total,
        queued=campaign.pending,
        sent=campaign.sent,
        delivered=delivered,
        read=read,
        failed=campaign.failed + undelivered,
        undelivered=undelivered,
        skipped=campaign.skipped,
        unknown=campaign.unknown,
        cancelled=campaign.cancelled,
        replied=campaign.replied,
        skipped_by_reason=skipped_by_reason,
        delivery_rate=_ratio(delivered, campaign.sent),
        read_rate=_ratio(read, delivered),
        reply_rate=_ratio(campaign.replied, campaign.sent),
        progress=round(100 * (to_send - campaign.pending) / to_send, 1) if to_send else 100.0,
        sending_rate=sending_rate,
        eta_seconds=eta,
        waiting_for_quiet_hours=wait.count,
        quiet_hours_end=wait.first_end,
        quiet_hours_last_end=wait.last_end,
        errors=_errors(campaign),
        timeline=timeline,
        bucket_seconds=bucket,
    )
