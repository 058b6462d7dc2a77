"""Server-rendered SVG charts for the live campaign page: no script, no CDN, readable by a
screen reader (each chart has a title and every bar a ``<title>`` with its number)."""

import datetime

from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from campaigns.stats import Stats

WIDTH, HEIGHT = 600, 160


def _n(value: float) -> str:
    return f"{value:.1f}"


def _clock(at: str) -> str:
    """A bucket's start as the reader's wall clock (the active zone), to the second."""
    return timezone.localtime(datetime.datetime.fromisoformat(at)).strftime("%H:%M:%S")


def _zone_abbreviation(at: str) -> str:
    """ "CST", or "UTC-03" where the zone has no letters for it."""
    name = timezone.localtime(datetime.datetime.fromisoformat(at)).tzname() or ""
    return f"UTC{name}" if name.lstrip("+-").isdigit() else name


def sends_over_time(stats: Stats) -> SafeString:
    """Bars: messages sent per time bucket since the campaign started; times on the reader's
    clock, the axis naming its zone."""
    points = stats.timeline
    if not points:
        return format_html('<p class="chart-empty">{}</p>', "Nothing sent yet.")
    top = max(p["sent"] for p in points) or 1
    slot = WIDTH / len(points)
    bars = format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}" class="bar"><title>{}: {} sent</title></rect>',
        (
            (
                _n(i * slot + 1),
                _n(HEIGHT - 20 - (HEIGHT - 30) * p["sent"] / top),
                _n(max(1.0, slot - 2)),
                _n((HEIGHT - 30) * p["sent"] / top),
                _clock(p["at"]),
                p["sent"],
            )
            for i, p in enumerate(points)
        ),
    )
    label = f"Messages sent per {stats.bucket_seconds} s; the busiest bar is {top}."
    return format_html(
        '<svg class="chart" viewBox="0 0 {} {}" role="img" aria-label="{}">'
        "<title>{}</title>{}"
        '<text x="0" y="{}" class="axis">{}</text>'
        '<text x="{}" y="{}" class="axis" text-anchor="end">{}</text></svg>',
        WIDTH,
        HEIGHT,
        label,
        label,
        bars,
        HEIGHT - 4,
        _clock(points[0]["at"]),
        WIDTH,
        HEIGHT - 4,
        f"{_clock(points[-1]['at'])} {_zone_abbreviation(points[-1]['at'])}",
    )


def funnel(stats: Stats) -> SafeString:
    """Horizontal bars: to send, sent, delivered, read, replied."""
    steps = [
        ("To send", stats.total - stats.skipped),
        ("Sent", stats.sent),
        ("Delivered", stats.delivered),
        ("Read", stats.read),
        ("Replied", stats.replied),
    ]
    top = max(steps[0][1], 1)
    row = 28
    rows = format_html_join(
        "",
        '<g class="step"><text x="0" y="{}" class="label">{}</text>'
        '<rect x="90" y="{}" width="{}" height="18" class="bar"><title>{}: {}</title></rect>'
        '<text x="{}" y="{}" class="value">{}{}</text></g>',
        (
            (
                i * row + 14,
                name,
                i * row + 1,
                _n(max(1.0, 400 * count / top)),
                name,
                count,
                _n(96 + 400 * count / top),
                i * row + 14,
                count,
                f" ({100 * count / top:.0f} %)" if i else "",
            )
            for i, (name, count) in enumerate(steps)
        ),
    )
    return format_html(
        '<svg class="chart funnel" viewBox="0 0 {} {}" role="img" aria-label="{}">'
        "<title>{}</title>{}</svg>",
        WIDTH,
        row * len(steps),
        "Delivery funnel",
        "Delivery funnel",
        rows,
    )
