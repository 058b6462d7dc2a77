"""Liveness (/healthz: the process answers) and readiness (/readyz: its dependencies answer)."""

import logging
import time

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from omnichannel.logging import redact_text

logger = logging.getLogger(__name__)


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """The process answers. Touches neither the database nor Redis: restarting the web process
    would not fix them, so their failures belong to /readyz."""
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
        return {
            "status": "failing",
            "error": "No Celery worker heartbeat recorded: is a worker running?",
        }
    age = time.time() - heartbeat["at"]
    if age > settings.WORKER_HEARTBEAT_MAX_AGE:
        return {
            "status": "failing",
            "error": (
                f"Last Celery worker heartbeat was {age:.0f}s ago "
                f"(more than the {settings.WORKER_HEARTBEAT_MAX_AGE}s allowed): "
                "the workers are stopped or stuck."
            ),
            "age_seconds": round(age, 1),
        }
    return {"status": "ok", "age_seconds": round(age, 1), "hostname": heartbeat["hostname"]}


@never_cache
@require_safe
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
            error = redact_text(f"{type(exc).__name__}: {exc}")[:300]
            checks[name] = {"status": "failing", "error": error}
    for name, check in checks.items():
        if check["status"] != "ok":
            logger.warning("Readiness check %s is failing: %s", name, check["error"])
    ok = all(check["status"] == "ok" for check in checks.values())
    return JsonResponse(
        {"status": "ok" if ok else "failing", "checks": checks}, status=200 if ok else 503
    )
