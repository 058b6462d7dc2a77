"""Fixtures and helpers for the Evolution API tests: the fake server, a WhatsApp inbox on it
(connected: the phone scanned the QR code, the webhooks are registered), webhooks posted the
way the server posts them. Import the fixtures into a test module."""

import json
from urllib.parse import urlsplit

import pytest
from django.core.cache import cache
from django.test import Client

from inbox.actions.inboxes import do_create_inbox
from inbox.actions.linking import do_start_link
from inbox.models import Inbox
from omnichannel.channels import Channel
from tests.fakes import evolution

CONTACT = "+5511999999999"


@pytest.fixture
def evo_server():
    server = evolution.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def evo_inbox(tenant, evo_server):
    cache.clear()  # group infos, QR codes and the parts of sends are cached per inbox id
    inbox = make_evo_inbox(tenant, evo_server)
    do_start_link(inbox)
    evo_server.scan()
    return inbox


def make_evo_inbox(tenant, server, **credentials) -> Inbox:
    return do_create_inbox(
        tenant,
        kind=Channel.WHATSAPP,
        provider="evolution",
        name="WhatsApp (Evolution)",
        address="+5511988888888",
        credentials={
            "instance_url": server.base_url,
            "instance_name": server.instance,
            "api_key": server.api_key,
            "webhook_secret": f"secret-of-{tenant.pk}",
            **credentials,
        },
        settings={"contact_hourly_limit": 0},
    )


def post(server, payload: dict, *, url: str = "", headers: dict | None = None):
    """POST ``payload`` as the server does: JSON, to the URL registered with it, with the
    headers registered with it (``headers`` replaces them)."""
    target = urlsplit(url or server.webhook["url"])
    sent = server.webhook_headers() if headers is None else headers
    return Client().post(
        target.path,
        data=json.dumps(payload).encode(),
        content_type="application/json",
        headers=sent,
    )
