"""Calendar fixtures: an agent open Monday to Friday 09:00-17:00 (UTC unless a test says
otherwise), a 30-minute consultation with a 10-minute buffer after it, a contact, and a small
JSON client for the API."""

import datetime as dt
import json

import pytest
from django.test import Client

from calendar_app.actions import do_save_appointment_type, do_save_resource
from contacts.models import Contact
from tests.fakes.google_calendar import google, google_on  # noqa: F401  (fixtures)

WEEKDAYS_9_TO_5 = [(day, dt.time(9), dt.time(17)) for day in range(5)]
# A Tuesday at noon UTC: the next bookable morning is Wednesday's.
NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
WEDNESDAY_10 = dt.datetime(2026, 12, 2, 10, 0, tzinfo=dt.UTC)


def make_agent(tenant, name="Ana Agent", zone="UTC", weekly=WEEKDAYS_9_TO_5):
    return do_save_resource(tenant, name=name, timezone_name=zone, weekly=weekly)


def make_type(tenant, resources, **fields):
    fields = {"name": "Consultation", "duration_minutes": 30, "buffer_after_minutes": 10, **fields}
    return do_save_appointment_type(tenant, resources=resources, **fields)


@pytest.fixture
def agent(tenant):
    return make_agent(tenant)


@pytest.fixture
def consult(tenant, agent):
    return make_type(tenant, [agent])


@pytest.fixture
def contact(tenant):
    return Contact.objects.create(
        tenant=tenant, name="Luis Pérez", first_name="Luis", phone="+14155550111", timezone="UTC"
    )


class Api:
    def __init__(self, token: str) -> None:
        self.client = Client(headers={"Authorization": f"Bearer {token}"})

    def get(self, path: str, params: dict | None = None):
        return self.client.get(f"/api/v1{path}", params or {})

    def post(self, path: str, body: dict | None = None, **headers):
        return self.client.post(
            f"/api/v1{path}",
            data=json.dumps(body or {}),
            content_type="application/json",
            headers=headers,
        )


@pytest.fixture
def api(api_token) -> Api:
    return Api(api_token)


def booking(consult, agent, contact, start=WEDNESDAY_10, **extra) -> dict:
    return {
        "type_id": consult.pk,
        "resource_ids": [agent.pk],
        "contact_id": contact.pk,
        "start": start if isinstance(start, str) else start.isoformat(),
        **extra,
    }
