"""The campaign builder's fields: what a person types, turned into what
:func:`campaigns.lifecycle.do_save_campaign` takes, and back.

Nothing is validated here: values that cannot be converted (a delay of "soon") are passed on
as typed, so that every problem is reported by the one function that checks campaigns.
"""

from dataclasses import dataclass, field
from typing import Any

from django.http import QueryDict
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from campaigns.models import Campaign

P = Campaign.Pacing
DELAY_UNITS = {"seconds": 1, "minutes": 60, "hours": 3600}
WINDOW_UNITS = {"minutes": 60, "hours": 3600}
LOCAL_MINUTE = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> sends and shows


def _in_reader_zone(typed: str) -> str:
    """A typed date and time, read where the person reads times (the form shows it there):
    without this the lifecycle would read it in the tenant's zone."""
    try:
        moment = parse_datetime(typed)
    except ValueError:
        return typed  # impossible (February 30): the lifecycle says so
    if moment is None or timezone.is_aware(moment):
        return typed
    return moment.replace(tzinfo=timezone.get_current_timezone()).isoformat()


@dataclass
class BuilderValues:
    """The builder's fields as the form shows them (strings, as typed or as stored)."""

    name: str = ""
    inbox: str = ""
    template: str = ""
    lists: list[str] = field(default_factory=list)
    segments: list[str] = field(default_factory=list)
    send_when: str = "now"  # "now" (when launched) or "later" (at scheduled_at)
    scheduled_at: str = ""
    pacing: str = P.NONE
    delay_value: str = ""
    delay_unit: str = "seconds"
    window_value: str = ""
    window_unit: str = "hours"
    rate: str = ""
    quiet_hours: bool = True
    quiet_start: str = "21:00"
    quiet_end: str = "08:00"

    @classmethod
    def from_post(cls, post: QueryDict) -> "BuilderValues":
        def text(name: str, default: str = "") -> str:
            return post.get(name, default).strip()

        return cls(
            name=text("name"),
            inbox=text("inbox"),
            template=text("template"),
            lists=post.getlist("lists"),
            segments=post.getlist("segments"),
            send_when="later" if post.get("send_when") == "later" else "now",
            scheduled_at=text("scheduled_at"),
            pacing=text("pacing", P.NONE),
            delay_value=text("delay_value"),
            delay_unit=_unit(text("delay_unit"), DELAY_UNITS, "seconds"),
            window_value=text("window_value"),
            window_unit=_unit(text("window_unit"), WINDOW_UNITS, "hours"),
            rate=text("rate"),
            # An unticked checkbox sends nothing: absence means "off" once the form was posted.
            quiet_hours=bool(post.get("quiet_hours")),
            quiet_start=text("quiet_start"),
            quiet_end=text("quiet_end"),
        )

    @classmethod
    def from_campaign(cls, campaign: Campaign) -> "BuilderValues":
        """The stored campaign, times in the current (the tenant's) time zone."""
        values = cls(
            name=campaign.name,
            inbox=str(campaign.inbox_id or ""),
            template=str(campaign.template_id or ""),
            lists=[str(pk) for pk in campaign.lists.values_list("pk", flat=True)],
            segments=[str(pk) for pk in campaign.segments.values_list("pk", flat=True)],
            pacing=campaign.pacing,
            quiet_hours=campaign.quiet_hours,
            quiet_start=campaign.quiet_start.strftime("%H:%M"),
            quiet_end=campaign.quiet_end.strftime("%H:%M"),
        )
        if campaign.scheduled_at:
            values.send_when = "later"
            values.scheduled_at = timezone.localtime(campaign.scheduled_at).strftime(LOCAL_MINUTE)
        if campaign.delay_seconds:
            values.delay_value, values.delay_unit = _in_largest_unit(
                campaign.delay_seconds, DELAY_UNITS
            )
        if campaign.window_seconds:
            values.window_value, values.window_unit = _in_largest_unit(
                campaign.window_seconds, WINDOW_UNITS
            )
        if campaign.rate_per_second:
            values.rate = f"{campaign.rate_per_second:g}"
        return values

    def data(self) -> dict[str, Any]:
        """The fields for ``do_save_campaign``."""
        data: dict[str, Any] = {
            "name": self.name,
            "inbox": self.inbox,
            "template": self.template,
            "lists": self.lists,
            "segments": self.segments,
            "pacing": self.pacing,
            "quiet_hours": "on" if self.quiet_hours else "off",
            "quiet_start": self.quiet_start,
            "quiet_end": self.quiet_end,
            "scheduled_at": "",
        }
        if self.send_when == "later":
            # An empty date with "later" ticked is a mistake, not "send now": a value the
            # lifecycle refuses makes it say so next to the field.
            data["scheduled_at"] = _in_reader_zone(self.scheduled_at) or "(no date given)"
        if self.pacing == P.DELAY:
            data["delay_seconds"] = _times(self.delay_value, DELAY_UNITS[self.delay_unit])
        elif self.pacing == P.WINDOW:
            data["window_seconds"] = _times(self.window_value, WINDOW_UNITS[self.window_unit])
        elif self.pacing == P.RATE:
            data["rate_per_second"] = self.rate
        return data

    def chosen(self) -> dict[str, set[int]]:
        """The chosen lists and segments as ids, for marking the options selected."""
        return {"lists": _int_set(self.lists), "segments": _int_set(self.segments)}


def _unit(value: str, units: dict[str, int], default: str) -> str:
    return value if value in units else default


def _times(value: str, factor: int) -> str | float:
    try:
        return float(value) * factor
    except ValueError:
        return value


def _in_largest_unit(seconds: float, units: dict[str, int]) -> tuple[str, str]:
    """``90`` seconds -> ``("90", "seconds")``, ``7200`` -> ``("2", "hours")``; the largest unit
    the value is a whole number of, else the smallest unit."""
    for name, factor in sorted(units.items(), key=lambda item: -item[1]):
        if seconds % factor == 0:
            return f"{seconds / factor:g}", name
    name, factor = min(units.items(), key=lambda item: item[1])
    return f"{seconds / factor:g}", name


def _int_set(values: list[str]) -> set[int]:
    ids = set()
    for value in values:
        try:
            ids.add(int(value))
        except ValueError:
            continue
    return ids
