"""Nothing lost while we are down: BlueBubbles never retries a webhook, so every start of a
worker and a beat task read the server's message query route from the last message seen.
Catching up goes the webhooks' way (keyed on the message GUID), so the two never store a
message twice."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection

from inbox.actions.catch_up import OVERLAP, claim_catch_up, inboxes_to_poll
from inbox.actions.send import do_send_message
from inbox.models import Conversation, Delivery, Inbox, InboxHealth, Message
from inbox.tasks.catch_up import catch_up_inbox_task
from omnichannel.models import Tenant, WebhookEvent
from tests.fakes import bluebubbles
from tests.fakes.bluebubbles import message_data
from tests.inbox.bluebubbles_helpers import CONTACT, deliver_all, make_bb_inbox, post

pytestmark = pytest.mark.django_db


def wait_for[T](probe: Callable[[], T], *, timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := probe():
            return result
        time.sleep(0.1)
    raise AssertionError(f"Waited {timeout}s for {what}.")


@contextmanager
def production_worker() -> Iterator[subprocess.Popen]:
    """``celery -A omnichannel worker``, as `make run` starts it, on this test's database."""
    database = urlsplit(os.environ["DATABASE_URL"])._replace(
        path="/" + connection.settings_dict["NAME"]
    )
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "celery", "-A", "omnichannel", "worker"),
            *("--pool", "solo", "--loglevel", "WARNING", "--without-mingle", "--without-gossip"),
        ],
        cwd=settings.BASE_DIR,
        env={**os.environ, "DATABASE_URL": urlunsplit(database)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield process
    except AssertionError:
        process.kill()
        print(process.communicate(timeout=10)[0])
        raise
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)  # warm shutdown
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def received(inbox: Inbox) -> list[str]:
    return list(
        Message.objects.filter(inbox=inbox, direction=Message.Direction.INBOUND)
        .order_by("created_at", "id")
        .values_list("body", flat=True)
    )


def catch_up(inbox: Inbox) -> str:
    return catch_up_inbox_task.apply(args=[inbox.pk]).get()


def server_time(data: dict) -> datetime:
    return datetime.fromtimestamp(data["dateCreated"] / 1000, tz=UTC)


@pytest.mark.usefixtures("empty_celery_broker")
@pytest.mark.django_db(transaction=True)
def test_messages_sent_while_the_app_was_stopped_appear_once_after_it_starts(tenant, bb_server):
    cache.clear()
    inbox = make_bb_inbox(tenant, bb_server)
    # The app is stopped: five messages reach the Mac, and the webhooks the server posts for
    # them reach nobody (BlueBubbles does not retry them).
    unanswered = [
        bb_server.record(message_data(text=f"Message {n} while you were down", address=CONTACT))
        for n in range(1, 6)
    ]

    with production_worker():
        wait_for(
            lambda: len(received(inbox)) == 5,
            timeout=90,
            what="the worker's start to catch up the five messages",
        )
        wait_for(
            lambda: InboxHealth.objects.filter(inbox=inbox, last_heard_at__isnull=False).exists(),
            timeout=10,
            what="the check to be recorded",
        )

    assert received(inbox) == [f"Message {n} while you were down" for n in range(1, 6)]
    assert Conversation.objects.filter(inbox=inbox).count() == 1
    health = InboxHealth.objects.get(inbox=inbox)
    assert health.caught_up_to == server_time(unanswered[-1]["data"])
    assert health.tenant == tenant

    # One of the lost webhooks turns up late after all: nothing changes.
    late = post(inbox, unanswered[2])

    assert late.status_code == 200
    assert received(inbox) == [f"Message {n} while you were down" for n in range(1, 6)]
    note = WebhookEvent.objects.get(inbox=inbox).error
    assert note.startswith(f"Duplicate {unanswered[2]['data']['guid']}: already stored")


def test_catching_up_and_webhooks_store_each_message_once_whatever_the_order(bb_inbox, bb_server):
    webhooks = [
        bb_server.record(message_data(text=text, address=CONTACT))
        for text in ("First", "Second", "Third")
    ]
    post(bb_inbox, webhooks[0])  # this one's webhook made it

    catch_up(bb_inbox)
    catch_up(bb_inbox)  # the next beat reads the overlap again
    post(bb_inbox, webhooks[1])  # a late webhook

    assert received(bb_inbox) == ["First", "Second", "Third"]
    assert Message.objects.filter(inbox=bb_inbox).count() == 3


def test_messages_sent_from_the_mac_and_status_changes_are_caught_up(tenant, bb_inbox, bb_server):
    post(bb_inbox, bb_server.record(message_data(text="Hi", address=CONTACT)))
    conversation = Conversation.objects.get(inbox=bb_inbox)
    ours = deliver_all(do_send_message(tenant, conversation=conversation, body="Hello from us"))
    delivery = Delivery.objects.get(message=ours)
    assert delivery.status == Message.Status.SENT
    # While we were down: the contact read our message, and the shop typed one on the Mac.
    bb_server.sent[-1].update(
        isDelivered=True, dateDelivered=bb_server.sent[-1]["dateCreated"] + 1000
    )
    bb_server.sent[-1]["dateRead"] = bb_server.sent[-1]["dateCreated"] + 2000
    bb_server.record(message_data(text="Typed on the Mac", address=CONTACT, is_from_me=True))

    catch_up(bb_inbox)
    catch_up(bb_inbox)

    delivery.refresh_from_db()
    ours.refresh_from_db()
    assert (delivery.status, ours.status) == (Message.Status.READ, Message.Status.READ)
    from_mac = Message.objects.get(inbox=bb_inbox, metadata__from_device=True)
    assert (from_mac.direction, from_mac.body) == ("out", "Typed on the Mac")
    assert from_mac.conversation_id == conversation.pk
    assert Message.objects.filter(inbox=bb_inbox).count() == 3


def test_it_reads_page_after_page_and_keeps_the_latest_time_seen(bb_inbox, bb_server):
    for n in range(120):
        bb_server.record(message_data(text=f"Bulk {n}", address=CONTACT, dateCreated=1_800_000 + n))
    # dateCreated is in the server's milliseconds: these are long before the inbox existed,
    # so the last message seen is put just before them.
    InboxHealth.objects.create(
        tenant=bb_inbox.tenant, inbox=bb_inbox, caught_up_to=datetime.fromtimestamp(1_799, tz=UTC)
    )

    catch_up(bb_inbox)

    assert len(received(bb_inbox)) == 120
    queries = [body for method, path, body in bb_server.requests if path == "/api/v1/message/query"]
    assert [query["offset"] for query in queries] == [0, 100]
    assert {query["sort"] for query in queries} == {"ASC"}
    health = InboxHealth.objects.get(inbox=bb_inbox)
    assert health.caught_up_to == datetime.fromtimestamp(1_800.119, tz=UTC)
    # The next run starts a little before the last message seen.
    catch_up(bb_inbox)
    assert bb_server.requests[-1][2]["after"] == 1_800_119 - OVERLAP.total_seconds() * 1000
    assert len(received(bb_inbox)) == 120


def test_an_unreadable_record_is_skipped_and_the_rest_is_stored(bb_inbox, bb_server):
    bb_server.record(message_data(text="No handle", address=CONTACT, handle=None))
    bb_server.record(message_data(text="Fine", address=CONTACT))

    catch_up(bb_inbox)

    assert received(bb_inbox) == ["Fine"]


def test_a_second_run_for_the_same_inbox_waits_for_the_first(bb_inbox, bb_server):
    bb_server.record(message_data(text="Hello", address=CONTACT))

    with claim_catch_up(bb_inbox) as claimed:
        assert claimed
        assert catch_up(bb_inbox) == f"Inbox {bb_inbox.pk} is being caught up already."
        assert bb_server.requests == []

    catch_up(bb_inbox)
    assert received(bb_inbox) == ["Hello"]


def test_each_tenant_catches_up_from_its_own_server_into_its_own_inbox(
    tenant, other_tenant, bb_inbox, bb_server
):
    other_server = bluebubbles.start()
    try:
        theirs = make_bb_inbox(other_tenant, other_server)
        bb_server.record(message_data(text="For Acme", address=CONTACT))
        other_server.record(message_data(text="For the other tenant", address=CONTACT))

        catch_up(bb_inbox)
        catch_up(theirs)
    finally:
        other_server.shutdown()
        other_server.server_close()

    assert received(bb_inbox) == ["For Acme"]
    assert received(theirs) == ["For the other tenant"]
    mine = Message.objects.get(inbox=bb_inbox)
    assert (mine.tenant, mine.conversation.contact.tenant) == (tenant, tenant)
    assert InboxHealth.objects.get(inbox=theirs).tenant == other_tenant


def test_the_beat_polls_active_bluebubbles_inboxes_of_active_tenants(
    tenant, other_tenant, bb_inbox, bb_server, sms_inbox
):
    Inbox.objects.filter(pk=make_bb_inbox(other_tenant, bb_server).pk).update(is_active=False)
    closed = make_bb_inbox(
        Tenant.objects.create(name="Closed", slug="closed", is_active=False), bb_server
    )

    assert inboxes_to_poll() == [bb_inbox.pk]
    assert closed.pk not in inboxes_to_poll()
    schedule = settings.CELERY_BEAT_SCHEDULE["catch-up-inboxes"]
    assert schedule["task"] == "inbox.tasks.catch_up.catch_up_inboxes_task"
