"""Fixtures that plug Parrot in for a test: its fake server and an inbox on it. Import them
into a test module (``from tests.providers.parrot.fixtures import parrot, parrot_server``)."""

import pytest

from inbox.actions.inboxes import do_create_inbox
from inbox.providers import register, unregister
from tests.providers.parrot import simulator

PASSWORD = "parrot-secret"
PATH = "tests.providers.parrot.provider.ParrotProvider"


@pytest.fixture
def parrot_server():
    server = simulator.start(PASSWORD)
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def parrot(tenant, parrot_server):
    """An iMessage inbox on Parrot; the registration is all it takes."""
    register("parrot", PATH)
    inbox = do_create_inbox(
        tenant,
        kind="imessage",
        provider="parrot",
        address="+14155550100",
        credentials={"server_url": parrot_server.base_url, "password": PASSWORD},
    )
    yield inbox
    unregister("parrot")
