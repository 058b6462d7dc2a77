"""Twenty requests race for one slot through the API, each on its own database connection:
exactly one wins, every other one gets 409. The exclusion constraint is what stops those that
passed the application's check at the same moment (test_constraint.py shows it alone refuses an
overlap)."""

import threading

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
