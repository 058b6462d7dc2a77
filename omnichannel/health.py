"""Liveness (/healthz: the process answers) and readiness (/readyz: its dependencies answer)."""

import time

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _check_database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"status": "ok"}


def _check_redis() -> dict:
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    finally:
        client.close()
    return {"status": "ok"}


def _check_worker() -> dict:
    from omnichannel.heartbeat import last_heartbeat

    heartbeat = last_heartbeat()
    if heartbeat is None:
        return {"status": "failing", "error": "No Celery worker heartbeat recorded."}
    age = time.time() - heartbeat["at"]
    if age > settings.WORKER_HEARTBEAT_MAX_AGE:
        return {
            "status": "failing",
            "error": f"Last Celery worker heartbeat was {age:.0f}s ago.",
            "age_seconds": round(age, 1),
        }
    return {"status": "ok", "age_seconds": round(age, 1), "hostname": heartbeat["hostname"]}


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    checks = {}
    for name, check in (
        ("database", _check_database),
        ("redis", _check_redis),
        ("celery_worker", _check_worker),
    ):
        try:
            checks[name] = check()
        except Exception as exc:
            checks[name] = {"status": "failing", "error": f"{type(exc).__name__}: {exc}"[:300]}
    ok = all(check["status"] == "ok" for check in checks.values())
    return JsonResponse(
        {"status": "ok" if ok else "failing", "checks": checks}, status=200 if ok else 503
    )
