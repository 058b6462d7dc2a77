"""/healthz (the process answers) and /readyz (database, Redis and a Celery worker answer).

Failures are real: Redis is a closed port, the database a closed port (configuration only).
The in-process worker run lives in test_worker.py.
"""

import json
import socket
import time
import uuid

import pytest
from django.db import connection

from omnichannel.heartbeat import HEARTBEAT_KEY, last_heartbeat, record_heartbeat


@pytest.fixture(autouse=True)
def private_cache(settings):
    """Heartbeats under a cache prefix of this test's own: the test Redis is shared."""
    caches = json.loads(json.dumps(settings.CACHES))
    caches["default"]["KEY_PREFIX"] += f"-{uuid.uuid4().hex[:12]}"
    settings.CACHES = caches


@pytest.fixture
def closed_port() -> int:
    """A local TCP port nothing listens on (connections to it are refused at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def database_down(transactional_db, closed_port):
    """The default connection pointed at a closed port (no test transaction to break).

    Restored here rather than with monkeypatch, whose undo may run after the database teardown.
    """
    saved = {key: connection.settings_dict[key] for key in ("HOST", "PORT")}
    connection.close()
    connection.settings_dict.update(HOST="127.0.0.1", PORT=str(closed_port))
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.update(saved)


@pytest.fixture
def redis_down(settings, closed_port):
    url = f"redis://127.0.0.1:{closed_port}/0"
    settings.REDIS_URL = url
    settings.CACHES = {
        **settings.CACHES,
        "default": {**settings.CACHES["default"], "LOCATION": url},
    }


def statuses(body: dict) -> dict[str, str]:
    return {name: check["status"] for name, check in body["checks"].items()}


@pytest.mark.django_db
def test_it_answers_healthz_without_touching_anything(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_it_answers_healthz_while_database_and_redis_are_down(client, database_down, redis_down):
    assert client.get("/healthz").status_code == 200
    assert client.head("/healthz").status_code == 200


@pytest.mark.django_db
def test_it_fails_readyz_with_503_when_no_worker_heartbeat(client):
    assert last_heartbeat() is None
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "failing"
    assert statuses(body) == {"database": "ok", "redis": "ok", "celery_worker": "failing"}
    assert "No Celery worker heartbeat" in body["checks"]["celery_worker"]["error"]
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_it_answers_readyz_ok_with_a_fresh_heartbeat(client):
    record_heartbeat("worker1@host")
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert statuses(body) == {"database": "ok", "redis": "ok", "celery_worker": "ok"}
    assert body["checks"]["celery_worker"]["hostname"] == "worker1@host"
    assert client.head("/readyz").status_code == 200


@pytest.mark.django_db
def test_it_fails_readyz_when_the_heartbeat_is_too_old(client, settings):
    from django.core.cache import cache

    settings.WORKER_HEARTBEAT_MAX_AGE = 60
    cache.set(HEARTBEAT_KEY, {"at": time.time() - 3600, "hostname": "worker1@host"})
    response = client.get("/readyz")
    assert response.status_code == 503
    worker = response.json()["checks"]["celery_worker"]
    assert worker["status"] == "failing"
    assert worker["age_seconds"] >= 3600
    assert (
        "Last Celery worker heartbeat was 3600s ago (more than the 60s allowed)"
        in (worker["error"])
    )


@pytest.mark.django_db
def test_it_fails_readyz_when_redis_is_down(client, redis_down):
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "failing"
    assert statuses(body) == {"database": "ok", "redis": "failing", "celery_worker": "failing"}
    assert body["checks"]["redis"]["error"].startswith("ConnectionError")


def test_it_fails_readyz_when_the_database_is_down(client, database_down):
    record_heartbeat("worker1@host")
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert statuses(body) == {"database": "failing", "redis": "ok", "celery_worker": "ok"}
    assert body["checks"]["database"]["error"].startswith("OperationalError")


def test_it_refuses_writes_to_health_endpoints(client):
    assert client.post("/healthz").status_code == 405
    assert client.post("/readyz").status_code == 405
