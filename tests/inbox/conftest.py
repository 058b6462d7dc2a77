"""Inbox fixtures shared by the inbox, webhook and API tests."""

import pytest

from contacts.models import Contact
from omnichannel.channels import Channel
from tests.fakes.twilio import make_twilio_inbox, simulator
from tests.inbox.bluebubbles_helpers import bb_inbox, bb_server  # noqa: F401  (fixtures)
from tests.inbox.chatwoot_helpers import chatwoot_registered, fake_chatwoot  # noqa: F401
from tests.inbox.evolution_helpers import evo_inbox, evo_server  # noqa: F401  (fixtures)


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


# --- email ----------------------------------------------------------------------------------

WEBHOOK_SECRET = "anymail-user:anymail-pass"
MAILGUN_SIGNING_KEY = "key-mailgun-signing-0123456789"


def make_email_inbox(tenant, *, esp: str = "test", address: str = "support@acme.test", **creds):
    from inbox.models import Inbox

    inbox = Inbox(
        tenant=tenant,
        name=f"Email {address}",
        kind=Channel.EMAIL,
        provider="anymail",
        address=address,
        settings={"contact_hourly_limit": 0},
    )
    inbox.set_credentials(
        {"esp": esp, "webhook_secret": WEBHOOK_SECRET, **creds},
    )
    inbox.save()
    return inbox


@pytest.fixture
def email_inbox(tenant):
    """An email inbox of ``tenant`` on anymail's test backend (django.core.mail.outbox)."""
    return make_email_inbox(tenant)


@pytest.fixture
def smtp_server():
    from tests.fakes.smtp import SmtpServer

    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def fake_postmark():
    from tests.fakes.postmark import FakePostmark

    server = FakePostmark().start()
    yield server
    server.stop()
