"""Free-slot search at scale: 50 resources over 90 days with 20,000 existing appointments.

    .venv/bin/python bench/calendar_slots.py [--resources 50] [--days 90]
                                             [--appointments 20000] [--requests 50] [--keep]

Seeds a throw-away test database on the configured (or embedded) PostgreSQL: a tenant with
``--resources`` agents open Monday to Friday 09:00-17:00 in three time zones (New York, Madrid,
Mexico City), a 30-minute type with a 10-minute buffer, and ``--appointments`` confirmed
appointments spread over the next ``--days`` days on the hour (bulk inserts through the ORM: the
exclusion constraint checks every row as it goes in). A second tenant holds a quarter as many,
so tenant filters and the shared indexes are honest. Then it times requests through Django's
test client (auth, tenant, the search, serialisation) and prints p50/p95/p99 and queries per
request for:

- ``GET /api/v1/calendar/slots`` for one resource over the whole 90 days;
- the same for every resource of the type, one day and one week;
- ``GET /api/v1/appointments`` filtered by resource and a week (page of 100);
- a hold then its cancel through the API (the write path with its checks and constraint).

And the plan of the busy-time read (it must use the GiST index, not scan). Numbers, not a
pass/fail test.
"""

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import time
import zoneinfo
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

ZONES = ["America/New_York", "Europe/Madrid", "America/Mexico_City"]
HOURS = range(9, 17)  # appointments start on the hour, inside the 09:00-17:00 rules


def percentile(sorted_values: list[float], fraction: float) -> float:
    index = max(0, min(len(sorted_values) - 1, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


def measure(label: str, call, requests: int, rows: list) -> None:
    call()  # warm up caches and connections
    timings = []
    with CaptureQueriesContext(connection) as queries:
        for i in range(requests):
            started = time.perf_counter()
            response = call(i)
            timings.append((time.perf_counter() - started) * 1000)
            status = getattr(response, "status_code", 200)
            assert status in (200, 201), (label, status, response.content[:500])
    timings.sort()
    row = (
        label,
        requests,
        statistics.median(timings),
        percentile(timings, 0.95),
        percentile(timings, 0.99),
        len(queries) / requests,
    )
    rows.append(row)
    print(
        f"  {label:<52} p50={row[2]:7.2f} ms  p95={row[3]:7.2f}  p99={row[4]:7.2f}  "
        f"queries={row[5]:.1f}",
        flush=True,
    )


def seed_tenant(tenant, rng, *, resources: int, days: int, appointments: int, start: dt.date):
    from calendar_app.actions import do_save_appointment_type, do_save_resource
    from calendar_app.availability import blocked_range
    from calendar_app.models import Appointment, AppointmentResource
    from contacts.models import Contact

    weekly = [(day, dt.time(9), dt.time(17)) for day in range(5)]
    agents = [
        do_save_resource(
            tenant, name=f"Agent {n:02d}", timezone_name=ZONES[n % len(ZONES)], weekly=weekly
        )
        for n in range(resources)
    ]
    kind = do_save_appointment_type(
        tenant,
        name="Consultation",
        duration_minutes=30,
        buffer_after_minutes=10,
        min_notice_minutes=60,
        horizon_days=days + 1,
        resources=agents,
    )
    contacts = Contact.objects.bulk_create(
        [Contact(tenant=tenant, name=f"Client {n}", timezone=ZONES[n % 3]) for n in range(500)]
    )
    # Every (agent, working day, hour) once at most: no overlaps, as the constraint demands.
    cells = []
    for agent in agents:
        zone = zoneinfo.ZoneInfo(agent.timezone)
        for offset in range(days):
            day = start + dt.timedelta(days=offset)
            if day.weekday() < 5:
                for hour in HOURS:
                    cells.append((agent, dt.datetime.combine(day, dt.time(hour), zone)))
    chosen = rng.sample(cells, min(appointments, len(cells)))
    made = Appointment.objects.bulk_create(
        [
            Appointment(
                tenant=tenant,
                contact=rng.choice(contacts),
                appointment_type=kind,
                start_at=moment,
                end_at=moment + dt.timedelta(minutes=30),
                state="confirmed",
            )
            for _, moment in chosen
        ],
        batch_size=2000,
    )
    AppointmentResource.objects.bulk_create(
        [
            AppointmentResource(
                tenant=tenant,
                appointment=appointment,
                resource=agent,
                during=blocked_range(kind, moment),
                state="confirmed",
            )
            for appointment, (agent, moment) in zip(made, chosen, strict=True)
        ],
        batch_size=2000,
    )
    return agents, kind, contacts


def run(args) -> None:
    from django.db.backends.postgresql.psycopg_any import DateTimeTZRange

    from calendar_app.models import AppointmentResource
    from omnichannel.actions import do_create_api_token, do_create_tenant
    from omnichannel.models import Role

    rng = random.Random(42)  # noqa: S311 - reproducible data, not secrets
    tenant, _ = do_create_tenant(name="Bench", owner_email="bench@example.test")
    other, _ = do_create_tenant(name="Other", owner_email="other@example.test")
    tomorrow = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)
    started = time.perf_counter()
    agents, kind, contacts = seed_tenant(
        tenant, rng, resources=args.resources, days=args.days,
        appointments=args.appointments, start=tomorrow,
    )  # fmt: skip
    seed_tenant(
        other, rng, resources=max(1, args.resources // 4), days=args.days,
        appointments=args.appointments // 4, start=tomorrow,
    )  # fmt: skip
    with connection.cursor() as cursor:
        for table in ("calendar_app_appointment", "calendar_app_appointmentresource"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    total = AppointmentResource.objects.filter(tenant=tenant).count()
    print(
        f"Seeded {total:,} appointments on {len(agents)} resources over {args.days} days (and "
        f"{args.appointments // 4:,} in a second tenant) in {time.perf_counter() - started:.1f} s.",
        flush=True,
    )
    _, raw = do_create_api_token(
        tenant, name="bench", role=Role.objects.get(tenant=tenant, builtin="owner")
    )
    api = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    first = dt.datetime.combine(tomorrow, dt.time(0), dt.UTC)
    whole = {"from": first.isoformat(), "to": (first + dt.timedelta(days=args.days)).isoformat()}
    one_day = {"from": first.isoformat(), "to": (first + dt.timedelta(days=1)).isoformat()}
    week = {"from": first.isoformat(), "to": (first + dt.timedelta(days=7)).isoformat()}
    probe = api.get("/api/v1/calendar/slots", {"type": kind.pk, "resource": agents[0].pk, **whole})
    found = len(probe.json()["slots"])
    print(f"One resource, {args.days} days: {found} free slots.", flush=True)
    n = args.requests
    rows: list = []
    print(f"Timing {n} requests each:", flush=True)

    def slots_of(i: int = 0, params=whole, **extra):
        return api.get("/api/v1/calendar/slots", {"type": kind.pk, **params, **extra})

    measure(
        f"slots, one resource, {args.days} days",
        lambda i=0: slots_of(i, resource=agents[i % len(agents)].pk),
        n,
        rows,
    )
    measure(f"slots, all {len(agents)} resources, 1 day", lambda i=0: slots_of(i, one_day), n, rows)
    measure(f"slots, all {len(agents)} resources, 7 days", lambda i=0: slots_of(i, week), n, rows)
    measure(
        "appointments list, one resource, 7 days",
        lambda i=0: api.get(
            "/api/v1/appointments", {"resource": agents[i % len(agents)].pk, **week}
        ),
        n,
        rows,
    )

    def hold_and_cancel(i: int = 0):
        agent = agents[i % len(agents)]
        free = slots_of(i, week, resource=agent.pk).json()["slots"]
        body = {
            "type_id": kind.pk,
            "resource_ids": [agent.pk],
            "contact_id": contacts[i % len(contacts)].pk,
            "start": free[len(free) // 2]["start"],
        }
        held = api.post("/api/v1/appointments", body, content_type="application/json")
        assert held.status_code == 201, held.content[:300]
        return api.post(f"/api/v1/appointments/{held.json()['id']}/cancel")

    measure("slots (7 days) + hold + cancel, one resource", hold_and_cancel, n, rows)

    print()
    print(
        f"| {'request':<52} | {'n':>4} | {'p50 ms':>7} | {'p95 ms':>7} | {'p99 ms':>7} | queries |"
    )
    print(f"|{'-' * 54}|{'-' * 6}|{'-' * 9}|{'-' * 9}|{'-' * 9}|---------|")
    for label, count, p50, p95, p99, queries in rows:
        print(
            f"| {label:<52} | {count:>4} | {p50:7.2f} | {p95:7.2f} | {p99:7.2f} | {queries:7.1f} |"
        )

    busy = (
        AppointmentResource.objects.filter(
            resource_id=agents[0].pk,
            state__in=["hold", "confirmed"],
            during__overlap=DateTimeTZRange(first, first + dt.timedelta(days=args.days)),
        )
        .exclude(state="hold", hold_expires_at__lte=first)
        .values_list("resource_id", "during")
    )
    print("\nPlan of the busy-time read (one resource, the whole range):")
    print(busy.explain(analyze=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--resources", type=int, default=50)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--appointments", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--keep", action="store_true", help="keep the test database")
    args = parser.parse_args()
    if args.days > 93:
        parser.error("--days is at most 93 (one slot search covers at most 93 days)")

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        run(args)
    finally:
        if args.keep:
            print(f"Kept database {connection.settings_dict['NAME']}.")
        else:
            connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
