"""Filters for the campaign pages (also used by the live piece the workers push)."""

import datetime
import zoneinfo
from decimal import Decimal

from django import template
from django.utils import timezone

from campaigns.models import CampaignRecipient

register = template.Library()

SKIP_LABELS = dict(CampaignRecipient.SkipReason.choices)


@register.filter
def duration(seconds: int | float | None) -> str:
    """A time left as people say it: "under a minute", "about 4 min", "2 h 5 min"."""
    if seconds is None:
        return "—"
    seconds = int(seconds)
    if seconds < 60:
        return "under a minute"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"about {minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


@register.filter
def percent(ratio: float | None) -> str:
    """``0.9234`` -> ``"92.3 %"``; ``None`` (nothing to divide by yet) -> ``"—"``."""
    if ratio is None:
        return "—"
    return f"{100 * ratio:.1f} %"


@register.filter
def skip_label(reason: str) -> str:
    return SKIP_LABELS.get(reason, reason or "Other")


@register.filter
def channel_label(channel: str) -> str:
    from omnichannel.channels import Channel

    return dict(Channel.choices).get(channel, channel)


@register.filter
def minus(value: int, other: int) -> int:
    return (value or 0) - (other or 0)


def _at(moment: datetime.datetime, zone: zoneinfo.ZoneInfo) -> str:
    local = moment.astimezone(zone)
    return f"{local:%H:%M} on {local.day} {local:%b}"


@register.simple_tag
def quiet_until(
    first: datetime.datetime | None,
    last: datetime.datetime | None,
    zone: zoneinfo.ZoneInfo | None = None,
) -> str:
    """When quiet hours stop holding messages, in ``zone`` (the reader's: the active one) and
    naming it:
    "until 08:00 on 7 Dec (America/Mexico_City)"; recipients in other zones may wait until
    other times, so a spread says where it starts and ends."""
    if first is None:
        return ""
    zone = zone or timezone.get_current_timezone()
    last = last or first
    if last == first:
        return f"until {_at(first, zone)} ({zone.key})"
    return f"until between {_at(first, zone)} and {_at(last, zone)} ({zone.key})"


@register.filter
def dollars(amount: Decimal | None) -> str:
    """An estimate in US dollars, to the cent: ``Decimal("0.0249")`` -> ``"$0.02"``."""
    return "" if amount is None else f"${amount:,.2f}"
