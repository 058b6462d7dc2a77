import pytest


def test_it_answers_healthz_without_touching_anything(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_it_fails_readyz_with_503_when_no_worker_heartbeat(client):
    from django.core.cache import cache

    from omnichannel.heartbeat import HEARTBEAT_KEY

    cache.delete(HEARTBEAT_KEY)
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["redis"]["status"] == "ok"
    assert body["checks"]["celery_worker"]["status"] == "failing"
