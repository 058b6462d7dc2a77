"""When a notification is due: dates from an event's data, the rule's offset, quiet hours in the
contact's own time zone (the campaigns' rule, :func:`campaigns.pacing.in_quiet_hours`)."""

import datetime
import zoneinfo

from django.utils import timezone

from campaigns.pacing import in_quiet_hours
from notifications.models import NotificationRule
from omnichannel.zones import first_zone

# A date without a time ("2026-12-20") means this time of day in the contact's zone.
DATE_ONLY_TIME = datetime.time(9, 0)
# A dated reminder whose moment passed longer ago than this is skipped, not sent late.
LATE_GRACE = datetime.timedelta(hours=1)


class BadDate(ValueError):
    pass


def contact_zone(contact) -> zoneinfo.ZoneInfo:
    """The contact's time zone, else their tenant's, else UTC."""
    return first_zone(contact.timezone, getattr(contact.tenant, "timezone", ""))


def parse_moment(value, zone: datetime.tzinfo) -> datetime.datetime:
    """An ISO 8601 date or date-time as an aware datetime (naive values in ``zone``)."""
    if not isinstance(value, str) or not value.strip():
        raise BadDate("must be an ISO 8601 date or date-time, e.g. 2026-12-20 or 2026-12-20T10:00")
    text = value.strip()
    try:
        if len(text) == 10:
            day = datetime.date.fromisoformat(text)
            return datetime.datetime.combine(day, DATE_ONLY_TIME, tzinfo=zone)
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise BadDate(
            f"“{text[:40]}” is not an ISO 8601 date or date-time (e.g. 2026-12-20 or "
            "2026-12-20T10:00:00-06:00)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment


def missing_date(rule: NotificationRule, data: dict) -> str | None:
    """The date key ``rule`` is timed from when ``data`` has no value for it (absent, null or
    empty: a one-way trip has no return_date), else None. Such a reminder is passed over, not
    refused: the event's other notifications still go out."""
    if rule.timing == NotificationRule.Timing.NOW:
        return None
    return rule.date_key if data.get(rule.date_key) in (None, "") else None


def passed_over_detail(date_key: str, source: str) -> str:
    return f"Passed over: {source} has no {date_key}, which this reminder is timed from."


def planned_moment(rule: NotificationRule, data: dict, zone) -> datetime.datetime | None:
    """When ``rule`` wants to send for ``data`` (None: now). Raises BadDate for a bad date."""
    if rule.timing == NotificationRule.Timing.NOW:
        return None
    if rule.date_key not in data:
        raise BadDate(f"is required by the rule “{rule.name}”")
    base = parse_moment(data[rule.date_key], zone)
    unit = (
        datetime.timedelta(days=1)
        if rule.unit == NotificationRule.Unit.DAYS
        else (datetime.timedelta(hours=1))
    )
    delta = unit * rule.offset
    return base - delta if rule.timing == NotificationRule.Timing.BEFORE else base + delta


def date_has_passed(rule: NotificationRule, data: dict, zone, now: datetime.datetime) -> bool:
    """True for a reminder *before* a date once that date is here: a "your trip is tomorrow"
    held up (a worker down for days, quiet hours, rate limits) must not arrive after the trip."""
    if rule.timing != NotificationRule.Timing.BEFORE:
        return False
    return parse_moment(data.get(rule.date_key), zone) <= now


def out_of_quiet_hours(
    rule: NotificationRule, moment: datetime.datetime, zone
) -> datetime.datetime:
    """``moment``, or the end of the contact's quiet hours when it falls inside them."""
    local = moment.astimezone(zone)
    if not in_quiet_hours(rule, local.time()):
        return moment
    morning = local.replace(
        hour=rule.quiet_end.hour, minute=rule.quiet_end.minute, second=0, microsecond=0
    )
    if morning <= local:
        morning = datetime.datetime.combine(
            local.date() + datetime.timedelta(days=1), rule.quiet_end, tzinfo=zone
        )
    return morning


def due_moment(rule: NotificationRule, data: dict, contact) -> tuple[datetime.datetime, bool]:
    """``(due_at, late)``: when to send, quiet hours respected; ``late`` when a dated moment is
    already past (beyond the grace) and the notification should be skipped."""
    zone = contact_zone(contact)
    now = timezone.now()
    planned = planned_moment(rule, data, zone)
    late = planned is not None and planned < now - LATE_GRACE
    moment = max(planned or now, now)
    return out_of_quiet_hours(rule, moment, zone), late
