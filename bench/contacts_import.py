"""CSV contact import throughput, next to a plain COPY of the same file as the ceiling.

    .venv/bin/python bench/contacts_import.py [--rows 100000] [--batch-size 1000]
                                              [--update-pass] [--keep]

Generates a realistic CSV (Spanish headers; Mexican mobiles in every format people type them,
``+52 1``, ``whatsapp:`` and national; US numbers in national format; emails on two rows in
three; a city and a ``plan`` choice attribute; 1 % bad rows) and imports it into a throw-away
test database on the configured (or embedded) PostgreSQL through the real code path: the
upload checks, the stored file, and the Celery task function called synchronously
(``import_contacts_task``: parse, validate, blocklist, dedupe, bulk writes, one transaction
per batch with the job's progress). It prints rows per second.

Then it COPYs the same bytes into a scratch table of text columns (no parsing of phones, no
indexes, no constraints): the ceiling of getting those rows into PostgreSQL at all, and the
ratio. With ``--update-pass`` it imports the file a second time, when every row matches an
existing contact (the update path).
"""

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omnichannel.settings")
os.environ.setdefault("CENTRO_TESTING", "true")
os.environ.setdefault("ALLOWED_HOSTS", "testserver")

import django

django.setup()

from django.core.files.uploadedfile import SimpleUploadedFile  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import override_settings, setup_test_environment  # noqa: E402

FIRST = ["Ana", "José", "María", "Lucía", "Andrés", "Sofía", "Martín", "Valentina",
         "Ramón", "Inés", "John", "Emily", "Michael", "Sarah", "David", "Olivia", "Chloé",
         "Zoë"]  # fmt: skip
LAST = ["García", "Rodríguez", "Martínez", "Hernández", "López", "González", "Pérez",
        "Sánchez", "Núñez", "Smith", "Johnson", "Williams", "Brown", "O'Brien"]  # fmt: skip
CITIES = ["Ciudad de México", "Guadalajara", "Monterrey", "Mérida", "Puebla", "Austin", "Miami"]
HEADER = ["Nombre", "Apellido", "Teléfono", "Correo", "Ciudad", "Plan"]
SCRATCH_COLUMNS = ["nombre", "apellido", "telefono", "correo", "ciudad", "plan"]


def generate(rows: int, seed: int = 42) -> bytes:
    import csv
    import io

    rng = random.Random(seed)  # noqa: S311 - reproducible data, not secrets
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    for n in range(rows):
        if n % 2:
            national = f"55{n:08d}"
            formats = [f"+52 1 {national}", f"+52{national}", f"whatsapp:+52{national}",
                       f"+52 ({national[:2]}) {national[2:6]}-{national[6:]}"]  # fmt: skip
            phone = rng.choice(formats)
        else:
            phone = f"(212) {200 + n // 10000}-{n % 10000:04d}"
        email = f"cliente{n}@example.com" if n % 3 else ""
        plan = rng.choice(["basic", "Pro", ""])
        if n % 100 == 99:  # 1 % of rows are broken in some way
            phone, email = rng.choice([("12", email), (phone, "no-es-correo"), ("", "")])
        writer.writerow(
            [rng.choice(FIRST), rng.choice(LAST), phone, email, rng.choice(CITIES), plan]
        )
    return out.getvalue().encode("utf-8")


def import_once(tenant, data: bytes, *, on_existing: str, batch_size: int) -> tuple[float, object]:
    from contacts.attributes import definitions_for
    from contacts.imports import services
    from contacts.imports.mapping import auto_map, check_mapping
    from contacts.models import ImportJob
    from contacts.tasks.imports import import_contacts_task

    started = time.perf_counter()
    raw, sniffed = services.check_upload(SimpleUploadedFile("bench.csv", data))
    job = services.do_create_import(tenant, filename="bench.csv", data=raw, sniffed=sniffed)
    definitions = definitions_for(tenant)
    mapping = check_mapping(auto_map(sniffed.headers, definitions), sniffed.headers, definitions)
    # What do_start_import stores, minus sending the task to a broker: we run it right here.
    ImportJob.objects.filter(pk=job.pk).update(mapping=mapping, on_existing=on_existing)
    with override_settings(CONTACTS_IMPORT_BATCH_SIZE=batch_size):
        outcome = import_contacts_task(job.pk)  # the task function, synchronously
    elapsed = time.perf_counter() - started
    job.refresh_from_db()
    assert outcome == "done", (outcome, job.failure)
    return elapsed, job


def copy_ceiling(data: bytes) -> float:
    started = time.perf_counter()
    with connection.cursor() as django_cursor:
        cursor = django_cursor.cursor
        columns = ", ".join(f"{c} text" for c in SCRATCH_COLUMNS)
        cursor.execute(f"CREATE TEMP TABLE import_ceiling ({columns})")
        sql = (
            f"COPY import_ceiling ({', '.join(SCRATCH_COLUMNS)}) "
            "FROM STDIN WITH (FORMAT csv, HEADER true, ENCODING 'UTF8')"
        )
        with cursor.copy(sql) as copy:
            view = memoryview(data)
            for offset in range(0, len(data), 1 << 20):
                copy.write(view[offset : offset + (1 << 20)])
        elapsed = time.perf_counter() - started
        cursor.execute("SELECT count(*) FROM import_ceiling")
        copied = cursor.fetchone()[0]
        cursor.execute("DROP TABLE import_ceiling")
    return elapsed, copied


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--update-pass", action="store_true", help="import the file twice")
    parser.add_argument("--keep", action="store_true", help="keep the test database")
    args = parser.parse_args()

    setup_test_environment()
    media = tempfile.mkdtemp(prefix="centro-bench-media-")
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        with override_settings(MEDIA_ROOT=media):
            run(args)
    finally:
        shutil.rmtree(media, ignore_errors=True)
        if args.keep:
            print(f"Kept database {connection.settings_dict['NAME']}.")
        else:
            connection.creation.destroy_test_db(old_name, verbosity=0)


def run(args) -> None:
    from contacts.models import AttributeDefinition, Contact
    from omnichannel.actions import do_create_tenant

    tenant, _ = do_create_tenant(name="Bench", owner_email="bench@example.test")
    AttributeDefinition.objects.create(
        tenant=tenant, key="plan", label="Plan", type="choice", choices=["basic", "Pro"]
    )
    data = generate(args.rows)
    print(f"Generated {args.rows:,} rows ({len(data) / 1_048_576:.1f} MB).", flush=True)

    results = []
    elapsed, job = import_once(tenant, data, on_existing="update", batch_size=args.batch_size)
    assert Contact.objects.for_tenant(tenant).count() == job.created_count
    results.append(("import (new contacts)", args.rows, elapsed, job))
    if args.update_pass:
        elapsed, again = import_once(tenant, data, on_existing="update", batch_size=args.batch_size)
        results.append(("import again (every row updates)", args.rows, elapsed, again))
    copy_elapsed, copied = copy_ceiling(data)
    assert copied == args.rows, copied
    copy_rate = args.rows / copy_elapsed

    print()
    print(f"| {'path':<34} | {'rows':>7} | {'seconds':>7} | {'rows/s':>8} | {'vs COPY':>7} |")
    print(f"|{'-' * 36}|{'-' * 9}|{'-' * 9}|{'-' * 10}|{'-' * 9}|")
    for label, rows, seconds, result in results:
        rate = rows / seconds
        print(
            f"| {label:<34} | {rows:>7,} | {seconds:>7.2f} | {rate:>8,.0f} | "
            f"{copy_rate / rate:>6.1f}x |"
        )
        print(
            f"|   created {result.created_count:,}, updated {result.updated_count:,}, "
            f"errors {result.error_count:,} (batch {args.batch_size})"
        )
    print(
        f"| {'COPY into a scratch table':<34} | {args.rows:>7,} | {copy_elapsed:>7.2f} | "
        f"{copy_rate:>8,.0f} | {1:>6.1f}x |"
    )


if __name__ == "__main__":
    main()
