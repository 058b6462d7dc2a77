"""Fixtures and helpers for the Chatwoot tests: one fake Chatwoot server for the session
(emptied for each test), a Chatwoot inbox connected to it, and webhooks signed and posted the
way Chatwoot posts them (the §2.5 payloads in tests/fixtures/chatwoot/). Import the fixtures
into a test module."""

import json
import time
import uuid

import pytest
from django.test import Client
from django.urls import reverse

from inbox.actions.inboxes import do_create_inbox
from inbox.models import Inbox
from omnichannel.channels import Channel
from tests.fakes import chatwoot
from tests.fakes.chatwoot import fixture, signature

KEY = "chatwoot"


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


def make_chatwoot_inbox(
    tenant,
    *,
    secret: str = "",
    api_url: str = "http://127.0.0.1:9",
    token: str = "",
    **settings,
) -> Inbox:
    """A Chatwoot inbox of ``tenant`` (account 1, inbox 5) with ``settings`` (mirror,
    create_contacts, allow_unsigned…), its API at ``api_url`` (nowhere by default)."""
    inbox = Inbox(
        tenant=tenant,
        name="Chatwoot",
        kind=Channel.CHATWOOT,
        provider=KEY,
        address=f"chatwoot-{tenant.slug}",
        settings=settings,
    )
    inbox.set_credentials(
        {
            "api_url": api_url,
            "api_access_token": token or f"token-of-{tenant.slug}",
            "account_id": "1",
            "inbox_id": "5",
            "webhook_secret": secret or f"secret-of-{tenant.slug}",
        }
    )
    inbox.save()
    return inbox


def post(
    inbox: Inbox,
    payload: dict | str,
    *,
    secret: str | None = None,
    timestamp: int | None = None,
    delivery: str | None = None,
    signed: bool = True,
    token: str | None = None,
):
    """POST ``payload`` (a dict, or a fixture's name) as Chatwoot does: JSON, signed with the
    inbox's webhook secret (or ``secret``) at ``timestamp`` (default now), a fresh delivery
    uuid (or ``delivery``), to the inbox's URL (or the one of ``token``)."""
    if isinstance(payload, str):
        payload = fixture(payload)
    body = json.dumps(payload).encode()
    headers = {"X-Chatwoot-Delivery": delivery or str(uuid.uuid4())}
    if signed:
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        key = inbox.get_credentials()["webhook_secret"] if secret is None else secret
        headers["X-Chatwoot-Timestamp"] = stamp
        headers["X-Chatwoot-Signature"] = signature(key, stamp, body)
    path = reverse("webhooks:receive", args=[KEY, token or inbox.webhook_token, "events"])
    return Client().post(path, data=body, content_type="application/json", headers=headers)
