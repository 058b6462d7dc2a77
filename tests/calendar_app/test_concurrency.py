"""Twenty requests race for one slot through the API, each on its own database connection:
exactly one wins, every other one gets 409. The exclusion constraint is what stops those that
passed the application's check at the same moment (test_constraint.py shows it alone refuses an
overlap)."""

import datetime as dt
import threading
import time

import pytest
import time_machine
from django.db import connection

from calendar_app.models import Appointment, AppointmentResource
from tests.calendar_app.conftest import NOW, Api, booking

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.clock]
RACERS = 20


@pytest.mark.parametrize("confirm", [False, True], ids=["hold", "book"])
def test_twenty_racers_for_one_slot_make_one_appointment(
    api_token, consult, agent, contact, confirm
):
    start = threading.Barrier(RACERS)
    statuses: list[int] = []
    codes: list[str] = []
    errors: list[BaseException] = []

    def race():
        try:
            client = Api(api_token)
            start.wait(timeout=30)
            response = client.post(
                "/appointments", booking(consult, agent, contact, confirm=confirm)
            )
            statuses.append(response.status_code)
            if response.status_code != 201:
                codes.append(response.json()["error"]["code"])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    with time_machine.travel(NOW, tick=True):
        threads = [threading.Thread(target=race) for _ in range(RACERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    assert not errors
    assert sorted(statuses) == [201] + [409] * (RACERS - 1)
    assert set(codes) == {"slot_taken"}
    assert Appointment.objects.count() == 1
    assert AppointmentResource.objects.filter(state__in=["hold", "confirmed"]).count() == 1


def test_the_constraint_decides_when_the_check_cannot_see_the_other_booking(
    tenant, consult, agent, contact
):
    """Another transaction holds the slot but has not committed: the application's check sees
    nothing, the insert waits on the constraint, and once the other commits it is refused and
    answered as SlotTaken naming the other's time."""
    from django.db import transaction
    from django.db.backends.postgresql.psycopg_any import DateTimeTZRange

    from calendar_app.actions import SlotTaken, do_hold
    from tests.calendar_app.conftest import WEDNESDAY_10

    inserted = threading.Event()
    errors: list[BaseException] = []
    other_start = WEDNESDAY_10 + dt.timedelta(minutes=20)

    def other_booking():
        try:
            with transaction.atomic():
                other = Appointment.objects.create(
                    tenant=tenant, contact=contact, appointment_type=consult,
                    start_at=other_start, end_at=other_start + dt.timedelta(minutes=30),
                    state="confirmed",
                )  # fmt: skip
                AppointmentResource.objects.create(
                    tenant=tenant, appointment=other, resource=agent, state="confirmed",
                    during=DateTimeTZRange(other_start, other_start + dt.timedelta(minutes=40)),
                )  # fmt: skip
                inserted.set()
                with connection.cursor() as cursor:  # until the other insert waits on us
                    for _ in range(3000):
                        cursor.execute(
                            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = "
                            "'Lock' AND datname = current_database()"
                        )
                        if cursor.fetchone()[0]:
                            break
                        time.sleep(0.01)
                    else:
                        raise AssertionError("the second insert never waited")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
            inserted.set()
        finally:
            connection.close()

    with time_machine.travel(NOW, tick=True):
        thread = threading.Thread(target=other_booking)
        thread.start()
        assert inserted.wait(30)
        with pytest.raises(SlotTaken) as taken:
            do_hold(tenant, appointment_type=consult, resources=[agent], contact=contact,
                    start=WEDNESDAY_10)  # fmt: skip
        thread.join(30)
    assert not errors
    assert taken.value.conflict == (other_start, other_start + dt.timedelta(minutes=30))
    assert taken.value.nearest  # the nearest free slots are offered
    assert Appointment.objects.count() == 1
