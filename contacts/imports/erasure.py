"""The person in stored CSV imports (GDPR): the rows that named them, exported and erased.

An import keeps the uploaded file (to resume, and for its report) with every row as it came.
A row is theirs when one of its cells is one of their numbers (in any format the import reads,
with the tenant's region) or email addresses: how the import itself matched contacts. Erasing
blanks every cell of those rows and stores the file again without them; the rows stay (blank)
so row numbers, counts and the error report still line up. Error entries of those rows lose
their reason, and their numbers and addresses are masked in the job's other texts. The old
file is deleted once the erasure commits.
"""

import csv
import io
import uuid
from collections.abc import Iterator
from typing import Any

from django.core.files.base import ContentFile
from django.db import transaction

from contacts.imports.sniff import clean_headers, is_blank, read_records
from contacts.models import Contact, ImportJob
from contacts.personal_data import ERASED, PersonalData
from contacts.phones import InvalidPhone, normalize_phone

# A cell with fewer digits is no phone number; with more, none the import would accept.
MIN_PHONE_DIGITS, MAX_PHONE_DIGITS = 7, 17


def _is_theirs(cell: str, personal: PersonalData) -> bool:
    text = cell.strip()
    if "@" in text:
        return text.lower() in personal.emails
    digits = sum(ch.isdigit() for ch in text)
    if not MIN_PHONE_DIGITS <= digits <= MAX_PHONE_DIGITS:
        return False
    try:
        return normalize_phone(text, personal.region) in personal.phones
    except InvalidPhone:
        return False


def _records(job: ImportJob) -> list[list[str]] | None:
    """Every record of the job's stored file (the header first), or None without a readable
    file."""
    if not job.file:
        return None
    try:
        with job.file.open("rb") as stored:
            return list(read_records(stored, job.encoding or "utf-8", job.delimiter or ","))
    except (OSError, csv.Error, LookupError):
        return None


def _their_rows(records: list[list[str]], personal: PersonalData) -> Iterator[tuple[int, list]]:
    """(spreadsheet row number, cells) of the records naming them; the header is row 1."""
    for number, record in enumerate(records, start=1):
        if number > 1 and any(_is_theirs(cell, personal) for cell in record):
            yield number, record


def _csv_bytes(job: ImportJob, records: list[list[str]]) -> bytes:
    out = io.StringIO(newline="")
    csv.writer(out, delimiter=job.delimiter or ",", lineterminator="\r\n").writerows(records)
    return out.getvalue().encode(job.encoding or "utf-8", errors="replace")


@transaction.atomic
def erase_import_rows(contact: Contact, personal: PersonalData) -> dict[str, int]:
    """Blank the rows naming the person in the tenant's stored imports; mask the jobs' texts."""
    rows_erased = 0
    old_files: list[str] = []
    for job in ImportJob.objects.select_for_update().filter(tenant_id=contact.tenant_id):
        records = _records(job)
        theirs = dict(_their_rows(records, personal)) if records else {}
        changed = []
        if theirs:
            kept = [[""] * len(r) if n in theirs else r for n, r in enumerate(records, start=1)]
            old_files.append(job.file.name)
            # A rolled-back erasure leaves this new file unused: it holds less than the old one.
            job.file.save(f"{uuid.uuid4().hex}.csv", ContentFile(_csv_bytes(job, kept)), False)
            rows_erased += len(theirs)
            changed.append("file")
        # Other rows' problems and the job's texts are other people's too: a first name alone
        # there may be someone else's, so only numbers and addresses are masked.
        for name in ("errors", "warnings"):
            problems = getattr(job, name) or []
            masked = [
                {**problem, "reason": ERASED}
                if isinstance(problem, dict) and problem.get("row") in theirs
                else personal.mask_json(problem, names=False)
                for problem in problems
            ]
            if masked != problems:
                setattr(job, name, masked)
                changed.append(name)
        texts = {
            "filename": personal.mask(job.filename, names=False),
            "failure": personal.mask(job.failure, names=False),
        }
        for name, value in texts.items():
            if value != getattr(job, name):
                setattr(job, name, value)
                changed.append(name)
        if changed:
            job.save(update_fields=changed)
    if old_files:
        storage = ImportJob._meta.get_field("file").storage
        transaction.on_commit(lambda: [storage.delete(name) for name in old_files])
    return {"import_rows_erased": rows_erased}


def export_import_rows(contact: Contact, personal: PersonalData) -> dict[str, Any]:
    """The rows of the tenant's stored imports that named them, by import. One query, and one
    read of each stored file."""
    found = []
    for job in ImportJob.objects.filter(tenant_id=contact.tenant_id).order_by("created_at", "id"):
        records = _records(job)
        if not records:
            continue
        rows = list(_their_rows(records, personal))
        if not rows:
            continue
        header = next((r for r in records if not is_blank(r)), [])
        headers = clean_headers(header)
        found.append(
            {
                "import_id": job.pk,
                "filename": job.filename,
                "created_at": job.created_at.isoformat(),
                "rows": [
                    {
                        "row": number,
                        "values": {
                            (headers[i] if i < len(headers) else f"Column {i + 1}"): cell
                            for i, cell in enumerate(record)
                        },
                    }
                    for number, record in rows
                ],
            }
        )
    return {"imports": found}
