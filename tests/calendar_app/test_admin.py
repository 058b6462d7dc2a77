"""The calendar's models in the Django admin: lists and change pages open for a superuser."""

import pytest
import time_machine

from calendar_app.actions import do_book
from omnichannel.actions import get_or_create_user
from tests.calendar_app.conftest import NOW, WEDNESDAY_10

pytestmark = pytest.mark.clock


@time_machine.travel(NOW, tick=False)
def test_the_admin_lists_and_shows_the_calendar(tenant, consult, agent, contact, signed_in):
    appointment = do_book(tenant, appointment_type=consult, resources=[agent], contact=contact,
                          start=WEDNESDAY_10)  # fmt: skip
    admin, _ = get_or_create_user("root@example.test", password="x" * 20)
    admin.is_staff = admin.is_superuser = True
    admin.save()
    client = signed_in(admin)
    for name, pk in (
        ("resource", agent.pk),
        ("appointmenttype", consult.pk),
        ("appointment", appointment.pk),
    ):
        assert client.get(f"/admin/calendar_app/{name}/").status_code == 200, name
        assert client.get(f"/admin/calendar_app/{name}/{pk}/change/").status_code == 200, name
