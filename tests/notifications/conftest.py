"""Notification fixtures: the tenant's default lifecycle (installed with the tenant), SMS and
WhatsApp inboxes on the fake Twilio, a contact, and helpers to post events through the API."""

import json

import pytest
from django.test import Client

from contacts.models import Contact
from omnichannel.channels import Channel
from tests.inbox.bluebubbles_helpers import bb_server  # noqa: F401  (fixture)
from tests.inbox.conftest import fake_twilio, smtp_server, twilio_inbox  # noqa: F401  (fixtures)


@pytest.fixture
def sms_inbox(tenant, twilio_inbox):  # noqa: F811
    return twilio_inbox(tenant, kind=Channel.SMS)


@pytest.fixture
def whatsapp_inbox(tenant, twilio_inbox):  # noqa: F811
    return twilio_inbox(tenant, kind=Channel.WHATSAPP)


@pytest.fixture
def contact(tenant):
    return Contact.objects.create(
        tenant=tenant, name="Ana García", first_name="Ana", phone="+14155550111", timezone="UTC"
    )


@pytest.fixture
def post_event(api_token):
    """``post_event(body, token=None)`` -> response of POST /api/v1/events."""

    def post(body: dict, *, token: str | None = None):
        return Client().post(
            "/api/v1/events",
            data=json.dumps(body),
            content_type="application/json",
            headers={"Authorization": f"Bearer {token or api_token}"},
        )

    return post


def booking(contact, key="evt-1", **data):
    return {
        "type": "booking.confirmed",
        "contact": {"id": contact.pk},
        "data": {"booking_id": "B-100", "destination": "Cancún", **data},
        "idempotency_key": key,
    }
