"""Per-request cost of the platform layers: API token auth, tenant middleware, the shell.

Runs against a throw-away test database on the configured (or embedded) PostgreSQL and prints
latency percentiles and queries per request. Run with `make bench` or
`.venv/bin/python bench/request_overhead.py [requests]`.
"""

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omnichannel.settings")
os.environ.setdefault("CENTRO_TESTING", "true")
os.environ.setdefault("ALLOWED_HOSTS", "testserver")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402


def measure(label: str, call, requests: int) -> None:
    call()  # warm up caches and connections
    timings = []
    with CaptureQueriesContext(connection) as queries:
        for _ in range(requests):
            started = time.perf_counter()
            response = call()
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.status_code
    timings.sort()
    p95 = timings[int(len(timings) * 0.95) - 1]
    print(
        f"{label:<28} n={requests:<5} p50={statistics.median(timings):6.2f} ms  "
        f"p95={p95:6.2f} ms  queries/request={len(queries) / requests:.1f}"
    )


def main() -> None:
    requests = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        from omnichannel.actions import do_create_api_token, do_create_tenant, get_or_create_user
        from omnichannel.models import Membership, Role

        tenant, membership = do_create_tenant(name="Bench", owner_email="bench@example.test")
        for n in range(50):
            user, _ = get_or_create_user(f"agent{n}@example.test")
            Membership.objects.create(
                tenant=tenant, user=user, role=Role.objects.get(tenant=tenant, builtin="agent")
            )
        _, raw = do_create_api_token(
            tenant, name="bench", role=Role.objects.get(tenant=tenant, builtin="owner")
        )
        api = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
        browser = Client()
        browser.force_login(membership.user)
        measure("GET /healthz", lambda: browser.get("/healthz"), requests)
        measure("GET /api/v1/me", lambda: api.get("/api/v1/me"), requests)
        measure("GET /inbox/ (shell)", lambda: browser.get("/inbox/"), requests)
        measure("GET /settings/members/ (50)", lambda: browser.get("/settings/members/"), requests)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
