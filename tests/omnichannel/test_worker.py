"""Celery workers record a heartbeat that /readyz reads: a real worker on the real Redis broker.

Two workers are exercised: celery's in-process test worker (a ``WorkController`` built from the
app's worker blueprint, so our ``HeartbeatStep`` runs in it), and the production command
``celery -A omnichannel worker`` as a subprocess.
"""

import json
import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from celery.contrib.testing.worker import start_worker
from django.db import connection

from omnichannel.celery import app
from omnichannel.heartbeat import HeartbeatStep, last_heartbeat
from tests.celery_broker import backlog, purge

BASE_DIR = Path(__file__).resolve().parents[2]
# A consumer that takes one message and dies before acknowledging it, as a killed worker does.
TAKES_ONE_AND_DIES = """
import os
from omnichannel.celery import app
with app.connection_for_read() as conn:
    assert conn.default_channel.basic_get("celery", no_ack=False) is not None
    os._exit(0)
"""


@pytest.fixture(autouse=True)
def private_cache(settings):
    """Heartbeats under a cache prefix of this test's own: the test Redis is shared."""
    caches = json.loads(json.dumps(settings.CACHES))
    caches["default"]["KEY_PREFIX"] += f"-{uuid.uuid4().hex[:12]}"
    settings.CACHES = caches
    return caches["default"]["KEY_PREFIX"]


def wait_for[T](probe: Callable[[], T], *, timeout: float = 15, what: str = "it") -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := probe():
            return result
        time.sleep(0.05)
    raise AssertionError(f"Waited {timeout}s for {what}.")


def test_it_adds_the_heartbeat_step_to_the_worker_blueprint():
    assert HeartbeatStep in app.steps["worker"]


# Celery's Django fixup closes the database sockets it finds when a worker (and its solo pool)
# starts, as a forked child must; in-process, those are this test's. So no test transaction, and
# the connection is closed beforehand: Django reconnects on the next query.
@pytest.mark.usefixtures("empty_celery_broker")
@pytest.mark.django_db(transaction=True)
def test_it_records_heartbeats_while_a_worker_runs_and_readyz_follows(client, settings):
    settings.WORKER_HEARTBEAT_SECONDS = 1
    before = client.get("/readyz")
    assert before.status_code == 503
    assert before.json()["checks"]["celery_worker"]["status"] == "failing"
    connection.close()
    root_level = logging.getLogger().level

    with start_worker(app, perform_ping_check=False, shutdown_timeout=15) as worker:
        assert any(isinstance(step, HeartbeatStep) for step in worker.blueprint.steps.values())
        first = wait_for(last_heartbeat, what="the first heartbeat")
        assert first["hostname"] == worker.hostname
        # Later beats come from the worker's timer, not only from start-up.
        wait_for(
            lambda: (beat := last_heartbeat()) and beat["at"] > first["at"],
            timeout=5,
            what="a second heartbeat",
        )

        response = client.get("/readyz")
        assert response.status_code == 200, response.json()
        body = response.json()
        assert body["status"] == "ok"
        assert {name: check["status"] for name, check in body["checks"].items()} == {
            "database": "ok",
            "redis": "ok",
            "celery_worker": "ok",
        }
        assert body["checks"]["celery_worker"]["hostname"] == worker.hostname
        assert body["checks"]["celery_worker"]["age_seconds"] < 2

    # Logging is still settings.LOGGING's: Celery added no handlers and changed no levels.
    assert logging.getLogger().level == root_level
    task_logger = logging.getLogger("celery.task")
    assert not [h for h in task_logger.handlers if not isinstance(h, logging.NullHandler)]
    assert task_logger.propagate

    # A stopped worker beats no more.
    stopped = last_heartbeat()
    time.sleep(1.5)
    assert last_heartbeat() == stopped


@pytest.mark.usefixtures("empty_celery_broker")
def test_it_records_heartbeats_from_the_production_worker_command(private_cache):
    """``celery -A omnichannel worker``, as docker-compose and `make run` start it."""
    hostname = f"heartbeat-{uuid.uuid4().hex[:8]}@test"
    env = {
        **os.environ,
        "CENTRO_CACHE_PREFIX": private_cache,
        "WORKER_HEARTBEAT_SECONDS": "1",
    }
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "celery", "-A", "omnichannel", "worker"),
            *("--pool", "solo", "--hostname", hostname, "--loglevel", "WARNING"),
            *("--without-mingle", "--without-gossip"),
        ],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        first = wait_for(last_heartbeat, timeout=30, what="the production worker's heartbeat")
        assert first["hostname"] == hostname
        wait_for(
            lambda: (beat := last_heartbeat()) and beat["at"] > first["at"],
            timeout=5,
            what="a second heartbeat",
        )
    except AssertionError:
        process.kill()
        print(process.communicate(timeout=10)[0])
        raise
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)  # warm shutdown
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_workers_start_on_an_empty_broker_whatever_earlier_tests_left_in_it(request):
    """What ``empty_celery_broker`` (used by every test that starts a worker) removes: tasks
    queued by tests that ran no worker, and a killed worker's unacknowledged message."""
    purge()
    app.send_task("tests.left_by_an_earlier_test", args=[1])
    app.send_task("tests.left_by_an_earlier_test", args=[2])
    subprocess.run([sys.executable, "-c", TAKES_ONE_AND_DIES], cwd=BASE_DIR, check=True, timeout=60)
    assert backlog() == {"queued": 1, "unacked": 1}

    request.getfixturevalue("empty_celery_broker")

    assert backlog() == {"queued": 0, "unacked": 0}
