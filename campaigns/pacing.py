"""How fast a campaign goes and when it must wait.

Rates become token buckets (:mod:`campaigns.ratelimit`): every campaign is held to its sender's
cap (the inbox option ``messages_per_second``, else its provider's conservative default, e.g.
iMessage's one message every 3 seconds, else ``CAMPAIGN_SENDER_RATE``) and, when it has one, to
its own pacing. Quiet hours are checked in SQL against each recipient's time zone, so a
waiting recipient is claimed by the first batch after their window opens.
"""

import datetime
import math
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass

from django.utils import timezone

from campaigns.models import Campaign
from campaigns.ratelimit import TokenBucket, campaign_bucket, sender_bucket
from inbox.sending_pace import inbox_rate

# Buckets run under the cap so that jitter between taking a token and the request reaching
# the provider (a slow database write, a busy CPU: up to ~80 ms) never lets the provider count
# more than the cap in any one second.
SAFETY = 0.92


def bucket_shape(per_second: float) -> tuple[float, int]:
    """``(rate, capacity)`` for a cap of ``per_second``: the burst a full bucket allows plus what
    refills in one second never exceeds the cap."""
    rate = per_second * SAFETY
    capacity = max(1, math.floor(per_second + 1 - rate - 0.001))
    return rate, capacity


def sender_rate(campaign: Campaign) -> float:
    return inbox_rate(campaign.inbox)


def campaign_rate(campaign: Campaign) -> float | None:
    """The campaign's own messages per second, or None when only the sender's cap applies."""
    if campaign.pacing == Campaign.Pacing.DELAY:
        return 1 / campaign.delay_seconds
    if campaign.pacing == Campaign.Pacing.RATE:
        return campaign.rate_per_second
    if campaign.pacing == Campaign.Pacing.WINDOW:
        to_send = max(1, campaign.total - campaign.skipped)
        return to_send / campaign.window_seconds
    return None


def effective_rate(campaign: Campaign) -> float:
    own = campaign_rate(campaign)
    return min(sender_rate(campaign), own) if own else sender_rate(campaign)


def buckets_for(campaign: Campaign, client=None) -> list[TokenBucket]:
    rate, capacity = bucket_shape(sender_rate(campaign))
    buckets = [
        sender_bucket(
            campaign.tenant_id, campaign.inbox.address, rate=rate, capacity=capacity, client=client
        )
    ]
    own = campaign_rate(campaign)
    if own:
        rate, capacity = bucket_shape(own)
        buckets.append(campaign_bucket(campaign.pk, rate=rate, capacity=capacity, client=client))
    return buckets


def quiet_hours_sql(campaign: Campaign) -> tuple[str, list]:
    """A WHERE fragment (on table alias ``r``) true when it is not quiet time for the recipient."""
    if not campaign.quiet_hours or campaign.quiet_start == campaign.quiet_end:
        return "TRUE", []
    # The application's clock, not the database's: every time the engine compares comes from
    # one clock (and a test that moves it moves them all).
    local = "(%s::timestamptz AT TIME ZONE COALESCE(NULLIF(r.timezone, ''), 'UTC'))::time"
    now = timezone.now()
    start, end = campaign.quiet_start, campaign.quiet_end
    if start > end:  # overnight, e.g. 21:00-08:00
        return f"({local} >= %s AND {local} < %s)", [now, end, now, start]
    return f"({local} < %s OR {local} >= %s)", [now, start, now, end]


def in_quiet_hours(campaign: Campaign, local: datetime.time) -> bool:
    if not campaign.quiet_hours or campaign.quiet_start == campaign.quiet_end:
        return False
    start, end = campaign.quiet_start, campaign.quiet_end
    if start > end:
        return local >= start or local < end
    return start <= local < end


def quiet_hours_end(
    campaign: Campaign, zone: str, at: datetime.datetime
) -> datetime.datetime | None:
    """When the quiet hours someone in ``zone`` is in at ``at`` end, or None when they are not
    in quiet hours then. A zone that is not one is read as UTC, as :func:`quiet_hours_sql` does."""
    try:
        tz = zoneinfo.ZoneInfo(zone or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        tz = datetime.UTC
    local = at.astimezone(tz)
    if not in_quiet_hours(campaign, local.time()):
        return None
    end = datetime.datetime.combine(local.date(), campaign.quiet_end, tzinfo=tz)
    return end if end > local else end + datetime.timedelta(days=1)


@dataclass(frozen=True)
class QuietWait:
    """How many recipients quiet hours hold at a moment, and when the first and the last of
    their waits end (recipients in several zones wait until different times)."""

    count: int = 0
    first_end: datetime.datetime | None = None
    last_end: datetime.datetime | None = None
    # (end of the wait, recipients), for the ETA.
    groups: tuple[tuple[datetime.datetime, int], ...] = ()


def quiet_wait(campaign: Campaign, zones: Mapping[str, int], at: datetime.datetime) -> QuietWait:
    """Who of ``zones`` (time zone -> recipients) waits for quiet hours at ``at``."""
    ends: dict[datetime.datetime, int] = {}
    for zone, count in zones.items():
        end = quiet_hours_end(campaign, zone, at)
        if end is not None and count:
            ends[end] = ends.get(end, 0) + count
    if not ends:
        return QuietWait()
    groups = tuple(sorted(ends.items()))
    return QuietWait(
        count=sum(ends.values()), first_end=groups[0][0], last_end=groups[-1][0], groups=groups
    )


def eta_seconds(pending: int, wait: QuietWait, rate: float, at: datetime.datetime) -> int | None:
    """Seconds until ``pending`` messages are sent at ``rate``: those free to go now first,
    then each group held by quiet hours once its wait is over."""
    if not rate:
        return None
    finish = at + datetime.timedelta(seconds=(pending - wait.count) / rate)
    for end, count in wait.groups:
        finish = max(finish, end) + datetime.timedelta(seconds=count / rate)
    return round((finish - at).total_seconds())
