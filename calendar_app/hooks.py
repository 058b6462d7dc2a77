"""Where the calendar's core lets integrations in without importing them (the Google sync
registers here in ``CalendarAppConfig.ready``):

- busy sources: more busy time per resource for the slot search (events of synced calendars);
- appointment listeners: told after an appointment's confirm, reschedule or cancel, inside its
  transaction (a listener schedules its side effects with ``transaction.on_commit``).
"""

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

Interval = tuple[dt.datetime, dt.datetime]
# source(resource_ids, start, end) -> {resource_id: [(start, end), ...]}: one bounded query.
BusySource = Callable[[Sequence[int], dt.datetime, dt.datetime], Mapping[int, list[Interval]]]
# listener(appointment, change) with change "confirmed" | "rescheduled" | "cancelled".
AppointmentListener = Callable[[Any, str], None]

_busy_sources: list[BusySource] = []
_listeners: list[AppointmentListener] = []


def register_busy_source(source: BusySource) -> BusySource:
    if source not in _busy_sources:
        _busy_sources.append(source)
    return source


def register_appointment_listener(listener: AppointmentListener) -> AppointmentListener:
    if listener not in _listeners:
        _listeners.append(listener)
    return listener


def external_busy(
    resource_ids: Sequence[int], start: dt.datetime, end: dt.datetime
) -> dict[int, list[Interval]]:
    """Busy time the registered sources know of, per resource, overlapping ``[start, end)``."""
    found: dict[int, list[Interval]] = {}
    if not resource_ids:
        return found
    for source in _busy_sources:
        for resource_id, intervals in source(resource_ids, start, end).items():
            found.setdefault(resource_id, []).extend(intervals)
    return found


def appointment_changed(appointment: Any, change: str) -> None:
    for listener in _listeners:
        listener(appointment, change)
