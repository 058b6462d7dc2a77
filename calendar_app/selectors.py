"""Reads of the calendar page: what a day, a week or an agenda shows, and whose calendar "me"
is. A fixed handful of queries whatever the number of appointments."""

import datetime as dt
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db.models import Prefetch, QuerySet

from calendar_app.models import (
    Appointment,
    AppointmentResource,
    AppointmentState,
    Resource,
)
from omnichannel.models import Tenant

VIEWS = ("day", "week", "agenda")
AGENDA_DAYS = 14
DAY_MINUTES = 24 * 60
MIN_BLOCK_MINUTES = 20  # a 5-minute appointment still needs room for its name


def resources_for_tenant(tenant: Tenant) -> QuerySet[Resource]:
    return Resource.objects.for_tenant(tenant).order_by("name", "id")


def my_resource_ids(tenant: Tenant, user) -> list[int]:
    """The resources linked to ``user``: their calendar is "me"."""
    return list(Resource.objects.for_tenant(tenant).filter(user=user).values_list("pk", flat=True))


def appointments_for_calendar(
    tenant: Tenant,
    *,
    start: dt.datetime,
    end: dt.datetime,
    resource_ids: Sequence[int] | None = None,
) -> QuerySet[Appointment]:
    """Appointments overlapping [start, end) (holds nobody confirmed are left out: they no
    longer hold anything), on ``resource_ids`` when given."""
    appointments = (
        Appointment.objects.for_tenant(tenant)
        .filter(start_at__lt=end, end_at__gt=start)
        .exclude(state=AppointmentState.EXPIRED)
        .select_related("appointment_type", "contact")
        .prefetch_related(
            Prefetch(
                "resource_rows",
                queryset=AppointmentResource.objects.select_related("resource").order_by(
                    "resource__name", "resource_id"
                ),
            )
        )
        .order_by("start_at", "id")
    )
    if resource_ids is not None:
        appointments = appointments.filter(
            pk__in=AppointmentResource.objects.filter(
                tenant=tenant, resource_id__in=list(resource_ids)
            ).values("appointment_id")
        )
    return appointments


@dataclass
class Block:
    """An appointment as a week or day column places it (wall-clock minutes of its zone)."""

    appointment: Appointment
    top: float
    height: float
    lane: int = 0
    lanes: int = 1


@dataclass
class Day:
    date: dt.date
    start: dt.datetime
    end: dt.datetime
    link: str = ""  # the query string of this day's own page
    appointments: list[Appointment] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)


def days_between(first: dt.date, count: int, zone: zoneinfo.ZoneInfo) -> list[Day]:
    """``count`` local days from ``first``: each from its own midnight to the next, so a day of
    a DST change lasts 23 or 25 hours."""
    days = []
    for offset in range(count):
        date = first + dt.timedelta(days=offset)
        days.append(
            Day(
                date=date,
                start=dt.datetime.combine(date, dt.time(0), tzinfo=zone),
                end=dt.datetime.combine(date + dt.timedelta(days=1), dt.time(0), tzinfo=zone),
            )
        )
    return days


def place(days: list[Day], appointments: list[Appointment], zone: zoneinfo.ZoneInfo) -> None:
    """Put each appointment in the day it starts (local time) and give it its place in the
    column: wall-clock position, and side-by-side lanes for those that overlap."""
    by_date = {day.date: day for day in days}
    for appointment in appointments:
        local_start = appointment.start_at.astimezone(zone)
        day = by_date.get(local_start.date())
        if day is None:
            continue  # started the day before the range: shown where it starts
        day.appointments.append(appointment)
        minutes = local_start.hour * 60 + local_start.minute
        duration = (appointment.end_at - appointment.start_at).total_seconds() / 60
        height = min(max(duration, MIN_BLOCK_MINUTES), DAY_MINUTES - minutes)
        day.blocks.append(
            Block(
                appointment=appointment,
                top=round(minutes / DAY_MINUTES * 100, 4),
                height=round(max(height, 1) / DAY_MINUTES * 100, 4),
            )
        )
    for day in days:
        _lanes(day.blocks)


def _lanes(blocks: list[Block]) -> None:
    """Overlapping blocks share the column's width: a cluster of overlapping blocks gets as
    many lanes as it needs at most at once."""
    cluster: list[Block] = []
    cluster_end = -1.0
    lane_ends: list[float] = []

    def close() -> None:
        for block in cluster:
            block.lanes = len(lane_ends)

    for block in sorted(blocks, key=lambda b: (b.top, -b.height)):
        if cluster and block.top >= cluster_end:
            close()
            cluster, lane_ends = [], []
        for lane, lane_end in enumerate(lane_ends):
            if lane_end <= block.top:
                block.lane = lane
                lane_ends[lane] = block.top + block.height
                break
        else:
            block.lane = len(lane_ends)
            lane_ends.append(block.top + block.height)
        cluster.append(block)
        cluster_end = max(cluster_end, block.top + block.height)
    if cluster:
        close()
