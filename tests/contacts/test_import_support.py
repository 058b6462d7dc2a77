"""Shared helpers of the CSV import tests (no tests here): files, jobs, running them."""

import csv
import io
import random
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from contacts.imports.services import (
    check_upload,
    do_create_import,
    do_start_import,
    run_import,
)
from contacts.models import ImportJob

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "contacts"


@pytest.fixture
def media_root(settings, tmp_path):
    """Uploaded files go to a throw-away directory."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return Path(settings.MEDIA_ROOT)


def csv_bytes(rows: list[list[str]], *, delimiter: str = ",", encoding: str = "utf-8") -> bytes:
    out = io.StringIO(newline="")
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode(encoding)


def upload(data: bytes, name: str = "contacts.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="text/csv")


def start_import(
    tenant,
    data: bytes,
    *,
    mapping: dict | None = None,
    on_existing: str = "update",
    user=None,
    contact_list=None,
) -> ImportJob:
    """A queued import of ``data`` (the mapping guessed from the headers when not given)."""
    from contacts.attributes import definitions_for
    from contacts.imports.mapping import auto_map

    raw, sniffed = check_upload(upload(data))
    job = do_create_import(
        tenant, filename="contacts.csv", data=raw, sniffed=sniffed, acting_user=user
    )
    if mapping is None:
        mapping = auto_map(sniffed.headers, definitions_for(tenant))
    return do_start_import(
        job, mapping=mapping, on_existing=on_existing, contact_list=contact_list, acting_user=user
    )


def import_now(tenant, data: bytes, **kwargs) -> ImportJob:
    batch_size = kwargs.pop("batch_size", 1000)
    job = start_import(tenant, data, **kwargs)
    assert run_import(job.pk, batch_size=batch_size) == "done"
    job.refresh_from_db()
    return job


FIRST = ["Ana", "José", "María", "Lucía", "Andrés", "John", "Emily", "Zoë", "Ramón", "Inés"]
LAST = ["García", "Núñez", "Pérez", "Smith", "O'Brien", "López", "Brown", "Martínez"]
BAD_KINDS = ("phone", "email", "missing", "attribute")


def big_file(rows: int, *, bad_every: int = 0, seed: int = 7, start: int = 0) -> tuple[bytes, dict]:
    """A realistic file of ``rows`` people (Mexican mobiles in every format, US numbers,
    emails, a city and a ``plan`` attribute); every ``bad_every``-th row is broken in one of
    four ways: two refuse the row (a bad phone and no email; neither), two leave a cell out (a
    bad email beside a good phone; an unknown plan). Returns the bytes and what a correct
    import must give."""
    rng = random.Random(seed)
    header = ["Nombre", "Apellido", "Teléfono", "Correo", "Ciudad", "Plan"]
    lines = [header]
    good_phones, bad_rows, warned_rows = [], {}, {}
    for n in range(start, start + rows):
        row_number = n - start + 2
        if n % 2:
            national = f"55{n:08d}"
            formats = [f"+52 1 {national}", f"+52{national}", f"whatsapp:+52{national}",
                       f"+52 ({national[:2]}) {national[2:6]}-{national[6:]}"]  # fmt: skip
            phone, e164 = rng.choice(formats), f"+52{national}"
        else:
            exchange, line = 200 + n // 10000, f"{n % 10000:04d}"
            phone, e164 = f"(212) {exchange}-{line}", f"+1212{exchange}{line}"
        email = f"person{n}@example.com" if n % 3 else ""
        plan = rng.choice(["basic", "Pro", ""])
        kind = ""
        if bad_every and n % bad_every == bad_every - 1:
            kind = BAD_KINDS[(n // bad_every) % len(BAD_KINDS)]
            if kind == "phone":
                phone, email = "12", ""
            elif kind == "email":
                email = "not-an-email"
            elif kind == "missing":
                phone, email = "", ""
            else:
                plan = "platinum"
        if kind in ("phone", "missing"):
            bad_rows[row_number] = kind
        else:
            good_phones.append(e164)
            if kind:
                warned_rows[row_number] = kind
        lines.append([rng.choice(FIRST), rng.choice(LAST), phone, email, "CDMX", plan])
    expected = {"good_phones": good_phones, "bad_rows": bad_rows, "warned_rows": warned_rows}
    return csv_bytes(lines), expected
