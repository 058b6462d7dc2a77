"""Free slots: each resource's weekly rules, in its own time zone, plus or minus its exceptions,
minus what holds and confirmed appointments block (buffers included), within the type's minimum
notice and booking horizon.

Local times are turned into instants day by day with ``zoneinfo``, so a 09:00-17:00 rule stays
09:00-17:00 on the wall clock across a DST change (the UTC instants move instead). Reads are a
fixed handful of queries whatever the range: rules, exceptions and busy ranges, each in one go.
"""

import datetime as dt
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db.backends.postgresql.psycopg_any import DateTimeTZRange
from django.utils import timezone

from calendar_app import hooks
from calendar_app.models import (
    BLOCKING_STATES,
    AppointmentResource,
    AppointmentState,
    AppointmentType,
    AvailabilityException,
    AvailabilityRule,
    Resource,
)
from omnichannel.zones import first_zone

UTC = dt.UTC
Interval = tuple[dt.datetime, dt.datetime]
MINUTE = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class Slot:
    start: dt.datetime
    end: dt.datetime
    resource_ids: tuple[int, ...]

    def as_dict(self) -> dict:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "resource_ids": list(self.resource_ids),
        }


def zone_of(resource: Resource, tenant_zone: str) -> zoneinfo.ZoneInfo:
    """The resource's zone, else the tenant's, else UTC (a name that no longer exists too)."""
    return first_zone(resource.timezone, tenant_zone)


def blocked_range(appointment_type: AppointmentType, start: dt.datetime) -> DateTimeTZRange:
    """What an appointment of this type starting at ``start`` blocks: ``[start - buffer before,
    end + buffer after)``, half-open so back-to-back appointments do not collide."""
    end = start + dt.timedelta(minutes=appointment_type.duration_minutes)
    return DateTimeTZRange(
        start - dt.timedelta(minutes=appointment_type.buffer_before_minutes),
        end + dt.timedelta(minutes=appointment_type.buffer_after_minutes),
        "[)",
    )


def booking_window(
    appointment_type: AppointmentType, now: dt.datetime
) -> tuple[dt.datetime, dt.datetime]:
    """The earliest and the latest start the type allows now."""
    return (
        now + dt.timedelta(minutes=appointment_type.min_notice_minutes),
        now + dt.timedelta(days=appointment_type.horizon_days),
    )


def _minutes(value: dt.time) -> int:
    return value.hour * 60 + value.minute


def _subtract(intervals: list[tuple[int, int]], cut: tuple[int, int]) -> list[tuple[int, int]]:
    out = []
    for lo, hi in intervals:
        if cut[1] <= lo or cut[0] >= hi:
            out.append((lo, hi))
            continue
        if lo < cut[0]:
            out.append((lo, cut[0]))
        if cut[1] < hi:
            out.append((cut[1], hi))
    return out


def _merge(intervals: Iterable[Interval]) -> list[Interval]:
    merged: list[list[dt.datetime]] = []
    for lo, hi in sorted(intervals):
        if merged and lo <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return [(lo, hi) for lo, hi in merged]


def _intersect(a: list[Interval], b: list[Interval]) -> list[Interval]:
    out, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if lo < hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def open_intervals(
    rules: Sequence[AvailabilityRule],
    exceptions: Sequence[AvailabilityException],
    zone: zoneinfo.ZoneInfo,
    start: dt.datetime,
    end: dt.datetime,
) -> list[Interval]:
    """When one resource is open between ``start`` and ``end`` (UTC instants, merged, sorted)."""
    weekly: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for rule in rules:
        weekly[rule.weekday].append((_minutes(rule.start_time), _minutes(rule.end_time)))
    day = start.astimezone(zone).date() - dt.timedelta(days=1)
    last = end.astimezone(zone).date()
    found: list[Interval] = []
    while day <= last:
        today = list(weekly.get(day.weekday(), ()))
        for exception in exceptions:
            if not exception.start_date <= day <= exception.end_date:
                continue
            if exception.kind == AvailabilityException.Kind.OPEN:
                today.append((_minutes(exception.start_time), _minutes(exception.end_time)))
            elif exception.start_time is None:
                today = []
            else:
                cut = (_minutes(exception.start_time), _minutes(exception.end_time))
                today = _subtract(today, cut)
        for lo, hi in today:
            # Wall-clock times of this date in the zone: the offset is the date's own.
            found.append(
                (
                    dt.datetime.combine(day, dt.time(lo // 60, lo % 60), zone).astimezone(UTC),
                    dt.datetime.combine(day, dt.time(hi // 60, hi % 60), zone).astimezone(UTC),
                )
            )
        day += dt.timedelta(days=1)
    return _intersect(_merge(found), [(start, end)])


def _slots_in(
    intervals: list[Interval],
    busy: list[Interval],
    appointment_type: AppointmentType,
    first_start: dt.datetime,
    last_start: dt.datetime,
    resource_ids: tuple[int, ...],
) -> list[Slot]:
    duration = dt.timedelta(minutes=appointment_type.duration_minutes)
    step = dt.timedelta(
        minutes=appointment_type.slot_step_minutes or appointment_type.duration_minutes
    )
    before = dt.timedelta(minutes=appointment_type.buffer_before_minutes)
    after = dt.timedelta(minutes=appointment_type.buffer_after_minutes)
    slots: list[Slot] = []
    i = 0  # busy is sorted and non-overlapping, candidates only move forward
    for lo, hi in intervals:
        moment = lo
        if moment < first_start:
            steps = -(-(first_start - moment) // step)  # ceiling division of timedeltas
            moment += steps * step
        while moment + duration <= hi and moment <= last_start:
            blocked_lo, blocked_hi = moment - before, moment + duration + after
            while i < len(busy) and busy[i][1] <= blocked_lo:
                i += 1
            if i < len(busy) and busy[i][0] < blocked_hi:
                # Every start before busy end + buffer before collides with it too: jump there
                # (on the step grid) instead of stepping through it.
                steps = max(1, -(-(busy[i][1] + before - moment) // step))
                moment += steps * step
                continue
            slots.append(Slot(moment, moment + duration, resource_ids))
            moment += step
    return slots


@dataclass
class Calendars:
    """Everything the slot search reads about some resources, in three queries."""

    tenant_zone: str
    rules: dict[int, list[AvailabilityRule]]
    exceptions: dict[int, list[AvailabilityException]]
    busy: dict[int, list[Interval]]


def load_calendars(
    resources: Sequence[Resource],
    tenant_zone: str,
    start: dt.datetime,
    end: dt.datetime,
    *,
    now: dt.datetime,
    exclude_appointment_id: int | None = None,
) -> Calendars:
    ids = [r.pk for r in resources]
    rules: dict[int, list[AvailabilityRule]] = defaultdict(list)
    for rule in AvailabilityRule.objects.filter(resource_id__in=ids):
        rules[rule.resource_id].append(rule)
    exceptions: dict[int, list[AvailabilityException]] = defaultdict(list)
    # Local dates may differ from UTC dates by a day either way.
    first_day = (start - dt.timedelta(days=2)).date()
    last_day = (end + dt.timedelta(days=2)).date()
    for exception in AvailabilityException.objects.filter(
        resource_id__in=ids, start_date__lte=last_day, end_date__gte=first_day
    ):
        exceptions[exception.resource_id].append(exception)
    busy: dict[int, list[Interval]] = defaultdict(list)
    rows = (
        AppointmentResource.objects.filter(
            resource_id__in=ids,
            state__in=BLOCKING_STATES,
            during__overlap=DateTimeTZRange(start, end, "[)"),
        )
        # A hold past its expiry blocks nothing, whether or not beat has released it yet.
        .exclude(state=AppointmentState.HOLD, hold_expires_at__lte=now)
        .values_list("resource_id", "during")
    )
    if exclude_appointment_id is not None:
        rows = rows.exclude(appointment_id=exclude_appointment_id)
    for resource_id, during in rows:
        busy[resource_id].append((during.lower, during.upper))
    # Busy time of synced external calendars (Google): one more query per source.
    for resource_id, intervals in hooks.external_busy(ids, start, end).items():
        busy[resource_id].extend(intervals)
    for intervals in busy.values():
        intervals.sort()
    return Calendars(tenant_zone, rules, exceptions, busy)


def slots_for(
    calendars: Calendars,
    resources: Sequence[Resource],
    appointment_type: AppointmentType,
    first_start: dt.datetime,
    last_start: dt.datetime,
) -> list[Slot]:
    """Slots where every one of ``resources`` is open and free, starting between
    ``first_start`` and ``last_start`` (both already within notice and horizon)."""
    if first_start > last_start or not resources:
        return []
    duration = dt.timedelta(minutes=appointment_type.duration_minutes)
    open_: list[Interval] | None = None
    busy: list[Interval] = []
    for resource in resources:
        zone = zone_of(resource, calendars.tenant_zone)
        # Read from a day earlier, so an interval keeps its opening time rather than starting
        # at ``first_start`` (now + notice: 10:07:31.2): starts stay on the step grid from the
        # opening (09:00, 09:30, ...) whatever the clock says; _slots_in skips to first_start.
        mine = open_intervals(
            calendars.rules.get(resource.pk, []),
            calendars.exceptions.get(resource.pk, []),
            zone,
            first_start - dt.timedelta(days=1),
            last_start + duration,
        )
        open_ = mine if open_ is None else _intersect(open_, mine)
        busy.extend(calendars.busy.get(resource.pk, []))
    ids = tuple(sorted(r.pk for r in resources))
    return _slots_in(open_ or [], _merge(busy), appointment_type, first_start, last_start, ids)


def search_window(
    appointment_type: AppointmentType,
    start: dt.datetime,
    end: dt.datetime,
    now: dt.datetime,
) -> tuple[dt.datetime, dt.datetime, dt.datetime, dt.datetime]:
    """``(first_start, last_start, read_from, read_to)``: starts the search may offer (in
    ``[start, end)``, notice and horizon applied) and the range of busy rows that matters."""
    earliest, latest = booking_window(appointment_type, now)
    first_start = max(start, earliest)
    last_start = min(end - dt.timedelta(microseconds=1), latest)
    read_from = first_start - dt.timedelta(minutes=appointment_type.buffer_before_minutes)
    read_to = (
        last_start
        + dt.timedelta(
            minutes=appointment_type.duration_minutes + appointment_type.buffer_after_minutes
        )
        + MINUTE
    )
    return first_start, last_start, read_from, read_to


def free_slots(
    resources: Sequence[Resource],
    appointment_type: AppointmentType,
    start: dt.datetime,
    end: dt.datetime,
    *,
    tenant_zone: str,
    together: bool = True,
    now: dt.datetime | None = None,
    exclude_appointment_id: int | None = None,
) -> list[Slot]:
    """Free slots starting in ``[start, end)``. ``together``: slots where all ``resources`` are
    free at once (an appointment needing all of them); otherwise each resource's own slots, by
    resource then time. Never earlier than the minimum notice nor later than the horizon."""
    now = now or timezone.now()
    first_start, last_start, read_from, read_to = search_window(appointment_type, start, end, now)
    if first_start > last_start or not resources:
        return []
    calendars = load_calendars(
        resources,
        tenant_zone,
        read_from,
        read_to,
        now=now,
        exclude_appointment_id=exclude_appointment_id,
    )
    if together:
        return slots_for(calendars, resources, appointment_type, first_start, last_start)
    found: list[Slot] = []
    for resource in resources:
        found += slots_for(calendars, [resource], appointment_type, first_start, last_start)
    return found
