"""The worker that applies batched status callbacks, killed with SIGKILL mid-batch: nothing of
its batch stays half-applied, and the next worker applies every status, none backwards.

The workers are child Python processes running the real task (``apply_status_batches_task``)
on the test database; the callbacks come in as signed Twilio webhooks through the real URLs.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.db import connection, transaction
from django.test import Client

from inbox.models import Delivery
from inbox.tasks.webhooks import apply_status_batches_task
from omnichannel.models import WebhookEvent
from tests.inbox.webhook_helpers import make_outbound, signed_twilio_request

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

REPO = Path(__file__).resolve().parents[2]
WAIT_SECONDS = 60
CHILD = """
import os, sys, time
sys.path.insert(0, os.getcwd())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omnichannel.settings")
import django
django.setup()
from django.db import connection
connection.settings_dict["NAME"] = os.environ["STATUS_TEST_DATABASE"]
from inbox.tasks.webhooks import apply_status_batches_task

print("pid", connection.cursor().connection.info.backend_pid, flush=True)
while True:
    print("applied", apply_status_batches_task("twilio", "status"), flush=True)
    time.sleep(0.1)
"""
DELIVERIES = 30
# Each delivery's callbacks: a first wave already applied, a second one the killed worker was
# applying, and where the forward-only rule leaves the delivery.
SCRIPTS = [
    (["sent"], ["delivered"], "delivered"),
    (["delivered"], ["sent", "sending"], "delivered"),  # late callbacks never move it back
    (["undelivered_30003"], ["delivered"], "undelivered"),  # the first terminal status stays
    ([], ["sending", "sent"], "sent"),
]


def start_worker() -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD],
        cwd=REPO,
        env={**os.environ, "STATUS_TEST_DATABASE": connection.settings_dict["NAME"]},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def output(child: subprocess.Popen) -> str:
    if child.poll() is None:
        child.kill()
    return (child.stdout.read() if child.stdout else "")[-3000:]


def backend_pid(child: subprocess.Popen) -> int:
    line = child.stdout.readline()
    assert line.startswith("pid "), line + output(child)
    return int(line.split()[1])


def wait_for(condition, what: str, child: subprocess.Popen) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if child.poll() is not None:
            pytest.fail(f"the worker exited ({child.returncode}) before {what}: {output(child)}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}: {output(child)}")
        time.sleep(0.05)


def waiting_on_a_lock(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid])
        row = cursor.fetchone()
    return row is not None and row[0] == "Lock"


def snapshot(deliveries: list[Delivery]) -> list[tuple]:
    rows = Delivery.objects.filter(pk__in=[d.pk for d in deliveries]).order_by("pk")
    return list(rows.values_list("status", "message__status", "error_code"))


def post_callbacks(client: Client, inbox, sid: str, statuses: list[str]) -> None:
    for status in statuses:
        path, params, headers = signed_twilio_request(
            inbox, f"status_{status}", MessageSid=sid, SmsSid=sid
        )
        response = client.post(
            path,
            data=urlencode(params),
            content_type="application/x-www-form-urlencoded",
            headers=headers,
        )
        assert response.status_code == 204, response.content


def test_a_worker_killed_mid_batch_loses_no_status_and_moves_none_back(sms_inbox):
    client = Client()
    deliveries, expected = [], []
    for n in range(DELIVERIES):
        sid = f"SM{n:032x}"
        deliveries.append(make_outbound(sms_inbox, to=f"+1415555{n:04d}", sid=sid, status="queued"))
        first_wave, second_wave, final = SCRIPTS[n % len(SCRIPTS)]
        post_callbacks(client, sms_inbox, sid, first_wave)
        expected.append((sid, second_wave, final))
    apply_status_batches_task("twilio", "status")  # the first wave, applied by a worker
    journaled = WebhookEvent.objects.filter(kind="status", state="pending")
    assert not journaled.exists()
    for sid, second_wave, _final in expected:
        post_callbacks(client, sms_inbox, sid, second_wave)
    assert journaled.count() == sum(len(wave) for _, wave, _ in expected)
    before = snapshot(deliveries)
    assert before.count(("queued", "queued", "")) == DELIVERIES // len(SCRIPTS)

    # A delivery in the middle of the batch is held: the worker's one UPDATE waits for it.
    held = deliveries[DELIVERIES // 2]
    first = start_worker()
    try:
        with transaction.atomic():
            Delivery.objects.select_for_update().get(pk=held.pk)
            pid = backend_pid(first)
            wait_for(lambda: waiting_on_a_lock(pid), "the batch to reach the held row", first)
            first.send_signal(signal.SIGKILL)
            first.wait(10)
            assert first.returncode == -signal.SIGKILL
        assert snapshot(deliveries) == before, "a killed batch left statuses behind"
        assert journaled.count() == sum(len(wave) for _, wave, _ in expected)
    finally:
        output(first)

    second = start_worker()
    try:
        backend_pid(second)
        wait_for(lambda: not journaled.exists(), "every callback to be applied", second)
    finally:
        output(second)

    assert set(WebhookEvent.objects.values_list("state", flat=True)) == {"processed"}
    for delivery, (sid, _wave, final) in zip(deliveries, expected, strict=True):
        delivery.refresh_from_db()
        delivery.message.refresh_from_db()
        assert (delivery.provider_message_id, delivery.status) == (sid, final)
        assert delivery.message.status == final
        assert (delivery.error_code == "30003") == (final == "undelivered")
        assert delivery.sent_at is not None or final == "undelivered"
