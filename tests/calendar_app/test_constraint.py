"""The database itself refuses a double booking: rows written without any of the application's
checks still cannot overlap on one resource while held or confirmed."""

import datetime as dt

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.backends.postgresql.psycopg_any import DateTimeTZRange

from calendar_app.models import Appointment, AppointmentResource
from tests.calendar_app.conftest import WEDNESDAY_10, make_agent

CLOCK_INDEPENDENT = "rows at fixed times written directly; only the constraint judges them"
HOUR = dt.timedelta(hours=1)


def raw_appointment(tenant, consult, contact, start, state="confirmed"):
    return Appointment.objects.create(
        tenant=tenant,
        contact=contact,
        appointment_type=consult,
        start_at=start,
        end_at=start + HOUR,
        state=state,
        hold_expires_at=start if state == "hold" else None,
    )


def raw_row(appointment, resource, start, end, state="confirmed"):
    return AppointmentResource.objects.create(
        tenant_id=appointment.tenant_id,
        appointment=appointment,
        resource=resource,
        during=DateTimeTZRange(start, end, "[)"),
        state=state,
    )


def test_the_database_refuses_an_overlapping_insert_made_without_the_checks(
    tenant, consult, agent, contact
):
    first = raw_appointment(tenant, consult, contact, WEDNESDAY_10)
    raw_row(first, agent, WEDNESDAY_10, WEDNESDAY_10 + HOUR)
    second = raw_appointment(tenant, consult, contact, WEDNESDAY_10 + dt.timedelta(minutes=30))
    overlap = pytest.raises(IntegrityError, match="appointmentresource_no_overlap")
    with overlap, transaction.atomic():
        raw_row(second, agent, WEDNESDAY_10 + dt.timedelta(minutes=30), WEDNESDAY_10 + 2 * HOUR)
    # A hold blocks as a confirmed appointment does; plain SQL is refused the same way.
    overlap = pytest.raises(IntegrityError, match="appointmentresource_no_overlap")
    with overlap, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO calendar_app_appointmentresource "
            "(tenant_id, appointment_id, resource_id, during, state) "
            "VALUES (%s, %s, %s, tstzrange(%s, %s, '[)'), 'hold')",
            [tenant.pk, second.pk, agent.pk, WEDNESDAY_10, WEDNESDAY_10 + HOUR],
        )
    assert AppointmentResource.objects.count() == 1


def test_back_to_back_other_resources_and_released_rows_do_not_collide(
    tenant, consult, agent, contact
):
    other = make_agent(tenant, name="Bea")
    first = raw_appointment(tenant, consult, contact, WEDNESDAY_10)
    row = raw_row(first, agent, WEDNESDAY_10, WEDNESDAY_10 + HOUR)
    nxt = raw_appointment(tenant, consult, contact, WEDNESDAY_10 + HOUR)
    raw_row(nxt, agent, WEDNESDAY_10 + HOUR, WEDNESDAY_10 + 2 * HOUR)  # half-open: touching
    same_time = raw_appointment(tenant, consult, contact, WEDNESDAY_10)
    raw_row(same_time, other, WEDNESDAY_10, WEDNESDAY_10 + HOUR)  # another resource
    row.state = "cancelled"
    row.save()
    again = raw_appointment(tenant, consult, contact, WEDNESDAY_10)
    raw_row(again, agent, WEDNESDAY_10, WEDNESDAY_10 + HOUR)  # the cancelled one lets go
    assert AppointmentResource.objects.count() == 4
