"""Fixtures and helpers for the BlueBubbles tests: the fake server, an iMessage inbox on it,
webhooks posted the way the server posts them. Import the fixtures into a test module."""

import json

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from inbox.actions.inboxes import do_create_inbox
from inbox.models import Inbox, Message
from inbox.tasks.delivery import deliver_message_task
from omnichannel.channels import Channel
from tests.fakes import bluebubbles

CONTACT = "+14155550111"


@pytest.fixture
def bb_server():
    server = bluebubbles.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def bb_inbox(tenant, bb_server):
    cache.clear()  # availability answers and server info are cached per inbox id
    return make_bb_inbox(tenant, bb_server)


def make_bb_inbox(tenant, server, **credentials) -> Inbox:
    return do_create_inbox(
        tenant,
        kind=Channel.IMESSAGE,
        provider="bluebubbles",
        name="iMessage",
        address="+14155550100",
        credentials={"server_url": server.base_url, "password": server.password, **credentials},
        settings={"contact_hourly_limit": 0},
    )


def post(inbox: Inbox, payload: dict, *, token: str | None = None, query: str = ""):
    """POST ``payload`` as the server does: JSON, no signature, the token in the path."""
    path = reverse("webhooks:receive", args=["bluebubbles", token or inbox.webhook_token, "events"])
    return Client().post(
        path + query, data=json.dumps(payload).encode(), content_type="application/json"
    )


def deliver_all(message: Message) -> Message:
    """Run every delivery the message has queued (a fallback queues one on commit, which the
    test's transaction never reaches)."""
    while queued := message.deliveries.filter(status=Message.Status.QUEUED).first():
        deliver_message_task.apply(args=[queued.pk])
    message.refresh_from_db()
    return message
