"""Fixtures and helpers for the Chatwoot tests: one fake Chatwoot server for the session
(emptied for each test), and a Chatwoot inbox connected to it. Import the fixtures into a
test module."""

import pytest

from inbox.actions.inboxes import do_create_inbox
from inbox.models import Inbox
from omnichannel.channels import Channel
from tests.fakes import chatwoot


@pytest.fixture(scope="session")
def _cw_session_server():
    server = chatwoot.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def cw_server(_cw_session_server):
    """The fake Chatwoot, emptied, posting no webhooks (a test that wants them sets them)."""
    _cw_session_server.reset()
    _cw_session_server.configure_webhook("", "")
    yield _cw_session_server
    _cw_session_server.configure_webhook("", "")


@pytest.fixture
def cw_inbox(tenant, cw_server):
    return make_cw_inbox(tenant, cw_server)


def make_cw_inbox(tenant, server, *, name: str = "Chatwoot", **credentials) -> Inbox:
    return do_create_inbox(
        tenant,
        kind=Channel.CHATWOOT,
        provider="chatwoot",
        name=name,
        address="",
        credentials={
            "api_url": server.base_url,
            "api_access_token": server.token,
            "account_id": str(chatwoot.ACCOUNT_ID),
            "inbox_id": str(chatwoot.INBOX_ID),
            "webhook_secret": f"cw-secret-of-{tenant.pk}",
            "notify": True,
            **credentials,
        },
        settings={"contact_hourly_limit": 0},
    )


def api_calls(server) -> list[tuple[str, str]]:
    """(method, path) of every Application API request the server got."""
    return [(m, p) for m, p, _ in server.requests if not p.startswith("/_simulator")]
