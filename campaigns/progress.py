"""Live numbers for the campaign page, pushed over the websocket.

Workers call :func:`publish_progress` after every chunk; it sends at most one update per
campaign per second across all workers (``force`` for state changes), so a fast campaign
neither floods the browsers nor spends its database time re-counting its rows.
"""

import time

from django.core.cache import cache
from django.template.loader import render_to_string

from omnichannel import events

MIN_INTERVAL_SECONDS = 1.0
_last_sent: dict[int, float] = {}


def progress_html(campaign, stats) -> str:
    from campaigns.charts import funnel, sends_over_time

    return render_to_string(
        "campaigns/detail.html#live",
        {
            "campaign": campaign,
            "stats": stats,
            "oob": True,
            "sends_chart": sends_over_time(stats),
            "funnel_chart": funnel(stats),
        },
    )


def publish_progress(campaign_id: int, *, force: bool = False) -> None:
    from campaigns.models import Campaign
    from campaigns.stats import campaign_stats

    now = time.monotonic()
    if not force:
        if now - _last_sent.get(campaign_id, 0.0) < MIN_INTERVAL_SECONDS:
            return
        _last_sent[campaign_id] = now
        # The numbers scan the campaign's rows: one worker a second renders them, not each.
        try:
            if not cache.add(f"campaigns:progress:{campaign_id}", 1, timeout=1):
                return
        except Exception:  # Redis is down: the page will catch up from the next push
            return
    campaign = Campaign.objects.select_related("tenant", "inbox").filter(pk=campaign_id).first()
    if campaign is None:
        return
    stats = campaign_stats(campaign)
    events.publish(
        campaign.tenant,
        events.EventType.CAMPAIGN_PROGRESS,
        stats.as_dict(),
        render_html=lambda: progress_html(campaign, stats),
    )
