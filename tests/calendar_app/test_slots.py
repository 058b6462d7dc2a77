"""Free slots: weekly rules in the resource's own zone (DST-correct), exceptions, buffers,
minimum notice, horizon, and what holds and appointments take."""

import datetime as dt
import zoneinfo

import pytest
import time_machine

from calendar_app.actions import do_add_availability_exception, do_book, do_hold
from calendar_app.availability import free_slots
from tests.calendar_app.conftest import NOW, make_agent, make_type

pytestmark = pytest.mark.clock

EVERY_DAY_9_TO_5 = [(day, dt.time(9), dt.time(17)) for day in range(7)]


def local_starts(slots, zone):
    by_day: dict[dt.date, list[dt.time]] = {}
    for slot in slots:
        local = slot.start.astimezone(zone)
        by_day.setdefault(local.date(), []).append(local.time())
    return by_day


@pytest.mark.parametrize(
    ("zone_name", "before", "after", "utc_before", "utc_after"),
    [
        # New York springs forward on Sunday 14 March 2027 (EST -5 -> EDT -4).
        ("America/New_York", dt.date(2027, 3, 13), dt.date(2027, 3, 15), 14, 13),
        # Madrid on Sunday 28 March 2027 (CET +1 -> CEST +2).
        ("Europe/Madrid", dt.date(2027, 3, 27), dt.date(2027, 3, 29), 8, 7),
        # And back: New York on Sunday 1 November 2026, Madrid on Sunday 25 October 2026.
        ("America/New_York", dt.date(2026, 10, 31), dt.date(2026, 11, 2), 13, 14),
        ("Europe/Madrid", dt.date(2026, 10, 24), dt.date(2026, 10, 26), 7, 8),
    ],
)
def test_a_9_to_5_rule_stays_9_to_5_local_across_the_dst_change(
    tenant, zone_name, before, after, utc_before, utc_after
):
    zone = zoneinfo.ZoneInfo(zone_name)
    agent = make_agent(tenant, zone=zone_name, weekly=EVERY_DAY_9_TO_5)
    hour = make_type(tenant, [agent], duration_minutes=60, buffer_after_minutes=0)
    a_week_before = dt.datetime.combine(before - dt.timedelta(days=7), dt.time(12), dt.UTC)
    with time_machine.travel(a_week_before, tick=False):
        slots = free_slots(
            [agent],
            hour,
            dt.datetime.combine(before, dt.time(0), zone),
            dt.datetime.combine(after + dt.timedelta(days=1), dt.time(0), zone),
            tenant_zone=tenant.timezone,
        )
    days = local_starts(slots, zone)
    assert sorted(days) == [before, before + dt.timedelta(days=1), after]
    for times in days.values():  # the change day included: eight hours of the wall clock
        assert times == [dt.time(h) for h in range(9, 17)]
    first: dict[dt.date, dt.datetime] = {}
    for slot in slots:
        first.setdefault(slot.start.astimezone(zone).date(), slot.start)
    assert first[before].astimezone(dt.UTC).hour == utc_before
    assert first[after].astimezone(dt.UTC).hour == utc_after
    assert first[after] - first[before] == dt.timedelta(days=2, hours=utc_after - utc_before)


@time_machine.travel(NOW, tick=False)  # Tuesday 12:00 UTC
def test_notice_horizon_buffers_exceptions_and_bookings_shape_the_slots(
    tenant, agent, consult, contact
):
    tuesday = NOW.replace(hour=0)
    # Notice (60 min): today from 13:00; a 30-min slot every 30 min, until 16:30.
    today = free_slots([agent], consult, tuesday, tuesday + dt.timedelta(days=1), tenant_zone="UTC")
    assert [s.start.strftime("%H:%M") for s in today] == [
        "13:00", "13:30", "14:00", "14:30", "15:00", "15:30", "16:00", "16:30"
    ]  # fmt: skip
    wednesday = tuesday + dt.timedelta(days=1)
    do_book(tenant, appointment_type=consult, resources=[agent], contact=contact,
            start=wednesday.replace(hour=10))  # fmt: skip
    do_hold(tenant, appointment_type=consult, resources=[agent], contact=contact,
            start=wednesday.replace(hour=14))  # fmt: skip
    do_add_availability_exception(
        agent, start_date=wednesday.date(), start_time=dt.time(12), end_time=dt.time(13)
    )
    do_add_availability_exception(agent, start_date=dt.date(2026, 12, 3), reason="Holiday")
    do_add_availability_exception(
        agent, kind="open", start_date=dt.date(2026, 12, 5), start_time=dt.time(10),
        end_time=dt.time(11),
    )  # fmt: skip
    week = free_slots([agent], consult, wednesday, wednesday + dt.timedelta(days=7),
                      tenant_zone="UTC")  # fmt: skip
    starts = {s.start for s in week}
    at = wednesday.replace
    # 10:00-10:30 booked, its 10-min buffer after reaches 10:40: 10:30 is taken, 11:00 is not.
    assert at(hour=9) in starts and at(hour=9, minute=30) not in starts  # 9:30 + buffer: 10:10
    assert at(hour=10) not in starts
    assert at(hour=10, minute=30) not in starts and at(hour=11) in starts
    # The buffer also runs after a new slot: 13:30 would end 14:00 + 10 min, into the hold.
    assert at(hour=13) in starts and at(hour=13, minute=30) not in starts
    assert at(hour=14) not in starts and at(hour=14, minute=30) not in starts
    assert at(hour=12) not in starts and at(hour=12, minute=30) not in starts  # closed hour
    assert not [s for s in week if s.start.date() == dt.date(2026, 12, 3)]  # holiday
    saturday = [s.start.strftime("%H:%M") for s in week if s.start.date() == dt.date(2026, 12, 5)]
    assert saturday == ["10:00", "10:30"]  # extra hours on a day with no rule
    # The horizon (60 days) ends the search.
    far = free_slots([agent], consult, NOW + dt.timedelta(days=58), NOW + dt.timedelta(days=70),
                     tenant_zone="UTC")  # fmt: skip
    assert far and max(s.start for s in far) <= NOW + dt.timedelta(days=60)


@time_machine.travel(NOW, tick=False)
def test_an_appointment_needing_two_resources_gets_only_times_both_are_free(tenant, agent, contact):
    room = make_agent(tenant, name="Room 1", weekly=[(2, dt.time(11), dt.time(13))])
    both = make_type(tenant, [agent, room], buffer_after_minutes=0)
    wednesday = NOW.replace(hour=0) + dt.timedelta(days=1)
    do_book(tenant, appointment_type=both, resources=[agent], contact=contact,
            start=wednesday.replace(hour=12))  # fmt: skip
    slots = free_slots([agent, room], both, wednesday, wednesday + dt.timedelta(days=1),
                       tenant_zone="UTC")  # fmt: skip
    assert [s.start.strftime("%H:%M") for s in slots] == ["11:00", "11:30", "12:30"]
    assert {s.resource_ids for s in slots} == {tuple(sorted([agent.pk, room.pk]))}
