"""Inbox fixtures shared by the inbox, webhook and API tests."""

import pytest

from contacts.models import Contact
from inbox.models import Channel
from tests.fakes.twilio import make_twilio_inbox, simulator


@pytest.fixture
def fake_twilio():
    """The running Twilio simulator, emptied (requests, scripts, accounts) for this test."""
    sim = simulator()
    sim.reset()
    sim.callbacks = False
    yield sim
    sim.reset()


@pytest.fixture
def twilio_inbox(db, fake_twilio):
    """Factory: ``twilio_inbox(tenant, kind="whatsapp", messaging_service_sid="MG…")``."""

    def make(tenant, **kwargs):
        return make_twilio_inbox(tenant, sim=fake_twilio, **kwargs)

    return make


@pytest.fixture
def sms_inbox(tenant, twilio_inbox):
    return twilio_inbox(tenant, kind=Channel.SMS)


@pytest.fixture
def whatsapp_inbox(tenant, twilio_inbox):
    return twilio_inbox(tenant, kind=Channel.WHATSAPP)


@pytest.fixture
def contact(tenant):
    return Contact.objects.create(tenant=tenant, name="Ana García", phone="+14155550111")
