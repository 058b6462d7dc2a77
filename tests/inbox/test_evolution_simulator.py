"""The Evolution simulator as the demo runs it (posting webhooks) against the running server:
connecting shows a QR code the "phone" scans a moment later, and a reply goes sent →
delivered → read through its echo and acks, stored once."""

import json
import time

import pytest
from django.core.cache import cache
from django.test import override_settings

from inbox.actions.linking import do_start_link
from inbox.actions.send import do_send_message
from inbox.models import InboxHealth, Message
from tests.fakes import evolution
from tests.inbox.bluebubbles_helpers import deliver_all
from tests.inbox.evolution_helpers import CONTACT, make_evo_inbox

pytestmark = pytest.mark.django_db(transaction=True)


def eventually(check, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, "the simulator's webhooks never arrived"
        time.sleep(0.2)
    return found


@pytest.fixture
def sim():
    server = evolution.start(webhooks=True, scan_after=0.3)
    yield server
    server.shutdown()
    server.server_close()


def test_the_demo_instance_pairs_and_a_reply_is_read(live_server, tenant, sim):
    cache.clear()
    inbox = make_evo_inbox(tenant, sim)
    with override_settings(PUBLIC_BASE_URL=live_server.url):
        link = do_start_link(inbox)
    assert link.qr_image.startswith("data:image/png;base64,")

    eventually(lambda: InboxHealth.objects.filter(inbox=inbox, connection_state="open").exists())

    message = deliver_all(do_send_message(tenant, inbox=inbox, to=CONTACT, body="Olá!"))
    eventually(lambda: Message.objects.filter(pk=message.pk, status="read").exists())
    assert Message.objects.filter(inbox=inbox, direction="out").count() == 1
    delivery = message.deliveries.get()
    assert delivery.delivered_at is not None and delivery.read_at is not None


def test_simulate_inbound_plays_a_whatsapp_customer_on_the_evolution_inbox(
    live_server, tenant, evo_server
):
    from io import StringIO

    from django.core.management import call_command

    cache.clear()
    inbox = make_evo_inbox(tenant, evo_server)
    out = StringIO()
    with override_settings(PUBLIC_BASE_URL=live_server.url):
        call_command(
            "simulate_inbound",
            "--inbox",
            str(inbox.pk),
            "--from",
            CONTACT,
            "--body",
            "Oi! Tem vaga em março?",
            "--profile-name",
            "Ana",
            stdout=out,
        )
    printed = json.loads(out.getvalue())
    assert printed["status_code"] == 200
    message = Message.objects.get(inbox=inbox, external_id=printed["message_sid"])
    assert (message.body, message.conversation.contact.name) == ("Oi! Tem vaga em março?", "Ana")
