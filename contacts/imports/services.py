"""CSV imports: upload, start, run (resumable), cancel, recover, report.

Life of an import: :func:`check_upload` reads the upload (size, type, encoding, delimiter);
:func:`do_create_import` stores it as a draft ``ImportJob`` (status pending, no mapping);
:func:`do_start_import` checks the mapping and queues the Celery task; the task calls
:func:`run_import`, which imports the rows in batches.

Each batch is one transaction that writes its contacts *and* advances ``ImportJob.next_row``
and the counters, so a worker killed at any moment leaves the job exactly at the end of its
last committed batch; running it again continues from there and creates nothing twice. A
PostgreSQL advisory lock (held by the worker's session, released when it exits or dies) keeps
two workers off one job, and lets :func:`resume_stalled_imports` (beat, and worker start) see
which "running" jobs have lost their worker.
"""

import csv
import logging
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import IO, Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import (
    DatabaseError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    connection,
    transaction,
)
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone

from contacts import auditing
from contacts.attributes import definitions_for
from contacts.imports.mapping import MappingInvalid, check_mapping
from contacts.imports.rows import ParsedRow, RowError, RowParser, write_batch
from contacts.imports.sniff import (
    NotACsv,
    Sniffed,
    clean_headers,
    csv_error_message,
    head,
    is_blank,
    read_records,
    sniff,
)
from contacts.models import Contact, ContactEmail, ContactList, ContactPhone, ImportJob, JobStatus
from omnichannel.actions import ActionError
from omnichannel.collections_gc import fewer_collections
from omnichannel.events import EventType, publish
from omnichannel.models import AuditEvent, Tenant

logger = logging.getLogger(__name__)

BATCH_SIZE = 1000
MAX_STORED_ERRORS = 5000
ERRORS_SHOWN = 50  # on the job page; the report has them all
# Progress events: at most this often (plus the last one), however small the batches.
PROGRESS_INTERVAL_SECONDS = 0.5
# Queued jobs whose task may have been lost (broker restart) are queued again after this.
REQUEUE_PENDING_AFTER = timedelta(minutes=5)
# High half of the advisory lock key: "contact imports"; the low half is the job id.
LOCK_NAMESPACE = 0x1C0
IMPORTED = AuditEvent.Action.CONTACTS_IMPORTED
INTEGRITY_RETRIES = 3
TEMPLATE = "contacts/import_job.html"


class ImportRejected(ActionError):
    """An upload that cannot be imported; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message, code="too_large" if status == 413 else "not_csv")
        self.status = status


def max_upload_bytes() -> int:
    return int(settings.CONTACTS_IMPORT_MAX_BYTES)


def max_stored_errors() -> int:
    return int(getattr(settings, "CONTACTS_IMPORT_MAX_STORED_ERRORS", MAX_STORED_ERRORS))


# --- upload and start -----------------------------------------------------------------------


def check_upload(upload: UploadedFile) -> tuple[bytes, Sniffed]:
    """The upload's bytes and what they are, or :class:`ImportRejected` saying why not."""
    limit = max_upload_bytes()
    if upload.size is not None and upload.size > limit:
        raise ImportRejected(
            f"The file is {upload.size / 1_048_576:.1f} MB; imports take at most "
            f"{limit / 1_048_576:.0f} MB. Split it into several files.",
            status=413,
        )
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise ImportRejected(
            f"The file is larger than {limit / 1_048_576:.0f} MB; split it.", status=413
        )
    try:
        return data, sniff(data)
    except NotACsv as exc:
        raise ImportRejected(str(exc), status=400) from None


@transaction.atomic
def do_create_import(
    tenant: Tenant, *, filename: str, data: bytes, sniffed: Sniffed, acting_user=None
) -> ImportJob:
    """A draft import of the uploaded file, in the uploader's tenant."""
    job = ImportJob(
        tenant=tenant,
        created_by=acting_user if getattr(acting_user, "is_authenticated", False) else None,
        filename=(filename or "contacts.csv")[:255],
        encoding=sniffed.encoding,
        delimiter=sniffed.delimiter,
        status=JobStatus.PENDING,
    )
    # The stored name is ours: people's file names collide and may hold anything.
    job.file.save(f"{uuid.uuid4().hex}.csv", ContentFile(data), save=False)
    job.save()
    return job


def is_draft(job: ImportJob) -> bool:
    """Uploaded, waiting for its column mapping."""
    return job.status == JobStatus.PENDING and not job.mapping


def read_head(job: ImportJob) -> Sniffed:
    """The job's headers and first rows, read from the stored file."""
    with job.file.open("rb") as stored:
        return head(stored, job.encoding, job.delimiter)


@transaction.atomic
def do_start_import(
    job: ImportJob,
    *,
    mapping: Mapping[str, Any],
    on_existing: str,
    contact_list: ContactList | None = None,
    acting_user=None,
    acting_token=None,
    request: HttpRequest | None = None,
) -> ImportJob:
    """Check the mapping (:class:`MappingInvalid` per column) and queue the import."""
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if not is_draft(job):
        raise ActionError("This import has already been started.", code="conflict")
    if on_existing not in ImportJob.OnExisting.values:
        raise MappingInvalid({"on_existing": "expects update or skip"})
    if contact_list is not None and contact_list.tenant_id != job.tenant_id:
        raise ActionError("There is no such list.", code="not_found")
    headers = read_head(job).headers
    job.mapping = check_mapping(mapping, headers, definitions_for(job.tenant))
    job.on_existing = on_existing
    job.add_to_list = contact_list
    job.save(update_fields=["mapping", "on_existing", "add_to_list"])
    auditing.record(
        IMPORTED,
        tenant=job.tenant,
        acting_user=acting_user,
        acting_token=acting_token,
        target=job,
        request=request,
        data={
            "filename": job.filename,
            "on_existing": on_existing,
            "list": contact_list.name if contact_list else None,
        },
    )
    _enqueue(job.pk)
    return job


def _enqueue(job_id: int) -> None:
    from contacts.tasks.imports import import_contacts_task

    transaction.on_commit(lambda: import_contacts_task.delay(job_id))


@transaction.atomic
def do_cancel_import(job: ImportJob) -> ImportJob:
    """Stop after the batch in progress; what was imported stays."""
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if job.status not in (JobStatus.PENDING, JobStatus.RUNNING):
        raise ActionError("This import has already finished.", code="conflict")
    job.status = JobStatus.CANCELLED
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "finished_at"])
    auditing.record(
        AuditEvent.Action.CONTACTS_IMPORT_CANCELLED,
        tenant=job.tenant,
        target=job,
        data={"filename": job.filename},
    )
    _publish_progress(job)
    return job


# --- reading ----------------------------------------------------------------------------------


def imports_for_tenant(tenant: Tenant) -> QuerySet[ImportJob]:
    return (
        ImportJob.objects.for_tenant(tenant)
        .select_related("created_by", "add_to_list")
        .order_by("-created_at", "-id")
    )


@dataclass(frozen=True)
class Progress:
    processed: int
    total: int
    percent: int
    running: bool


def progress_of(job: ImportJob) -> Progress:
    processed = job.created_count + job.updated_count + job.skipped_count + job.error_count
    total = job.total_rows
    if job.status == JobStatus.DONE:
        percent = 100
    else:
        percent = min(99, processed * 100 // total) if total else 0
    running = job.status == JobStatus.RUNNING or (
        job.status == JobStatus.PENDING and bool(job.mapping)
    )
    return Progress(processed=processed, total=total, percent=percent, running=running)


def progress_payload(job: ImportJob) -> dict[str, Any]:
    progress = progress_of(job)
    return {
        "id": job.pk,
        "status": job.status,
        "processed": progress.processed,
        "total": progress.total,
        "percent": progress.percent,
        "created": job.created_count,
        "updated": job.updated_count,
        "skipped": job.skipped_count,
        "errors": job.error_count,
    }


def progress_context(job: ImportJob, *, oob: bool = False, viewer=None) -> dict[str, Any]:
    """What the job page's ``progress`` partial needs. Progress is pushed to the uploader
    only; anyone else looking at the job (``viewer``) has their page poll for it."""
    return {
        "job": job,
        "progress": progress_of(job),
        "shown_errors": job.errors[:ERRORS_SHOWN],
        "shown_warnings": job.warnings[:ERRORS_SHOWN],
        "oob": oob,
        "pushed": viewer is None or getattr(viewer, "pk", None) == job.created_by_id,
    }


def progress_html(job: ImportJob) -> str:
    """The progress piece of the job page, as an out-of-band swap for the websocket."""
    return render_to_string(f"{TEMPLATE}#progress", progress_context(job, oob=True))


def _publish_progress(job: ImportJob) -> None:
    if job.created_by_id is None:
        return
    publish(
        job.tenant,
        EventType.CONTACTS_IMPORT_PROGRESS,
        progress_payload(job),
        users=[job.created_by_id],
        render_html=lambda: progress_html(job),  # in the reader's time zone
    )


REPORT_HEADER = ["row", "column", "reason", "result"]
REFUSED = "row not imported"
LEFT_OUT = "imported without this cell"
# A cell starting with one of these is a formula to a spreadsheet (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _safe_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def report_rows(job: ImportJob) -> Iterator[list[Any]]:
    """The report's rows: one per problem (a row can have several), in row order, each saying
    whether its row was refused or imported without that cell."""
    yield REPORT_HEADER
    problems = [(e, REFUSED) for e in job.errors] + [(w, LEFT_OUT) for w in job.warnings]
    problems.sort(key=lambda problem: problem[0]["row"])
    for problem, result in problems:
        yield [problem["row"], _safe_cell(problem["column"]), _safe_cell(problem["reason"]), result]
    for listed, count, what in (
        (job.errors, job.error_count, "rows had errors"),
        (job.warnings, job.warning_count, "rows were imported without some of their cells"),
    ):
        listed_rows = len({e["row"] for e in listed})
        if count > listed_rows:
            yield [
                "",
                "",
                f"{count - listed_rows} more {what}; only the first {len(listed)} problems "
                "are listed.",
                "",
            ]


def write_report(job: ImportJob, out: IO[str]) -> None:
    writer = csv.writer(out)
    for row in report_rows(job):
        writer.writerow(row)


# --- running ----------------------------------------------------------------------------------


def _lock_key(job_id: int) -> int:
    return (LOCK_NAMESPACE << 32) | job_id


@contextmanager
def _job_lock(job_id: int) -> Iterator[bool]:
    """Hold the job's advisory lock for this database session, if nobody else does."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [_lock_key(job_id)])
        acquired = cursor.fetchone()[0]
    try:
        yield acquired
    finally:
        if acquired:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [_lock_key(job_id)])
            except DatabaseError:
                pass  # the session is gone, and its locks with it


def _jobs_with_a_worker(job_ids: list[int]) -> set[int]:
    if not job_ids:
        return set()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT objid::bigint FROM pg_locks
            WHERE locktype = 'advisory' AND granted AND classid = %s AND objsubid = 1
              AND objid::bigint = ANY(%s)
              AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
            """,
            [LOCK_NAMESPACE, job_ids],
        )
        return {row[0] for row in cursor.fetchall()}


def resume_stalled_imports(*, now=None) -> list[int]:
    """Queue again the imports nobody is working on: "running" ones whose worker is gone
    (no session holds their lock) and queued ones waiting longer than expected."""
    now = now or timezone.now()
    candidates = list(
        ImportJob.objects.filter(
            Q(status=JobStatus.RUNNING)
            | (Q(status=JobStatus.PENDING, created_at__lt=now - REQUEUE_PENDING_AFTER))
        )
        .exclude(mapping={})
        .order_by("id")
        .values_list("id", flat=True)[:500]
    )
    busy = _jobs_with_a_worker(candidates)
    stalled = [job_id for job_id in candidates if job_id not in busy]
    for job_id in stalled:
        logger.info("Resuming contact import %s", job_id)
        _enqueue(job_id)
    return stalled


def batch_size_setting() -> int:
    return int(getattr(settings, "CONTACTS_IMPORT_BATCH_SIZE", BATCH_SIZE))


def run_import(job_id: int, *, batch_size: int | None = None) -> str:
    """Import (or continue importing) the job's rows; what happened, as a word.

    Database outages propagate (the job stays "running" and is resumed later); any other
    failure ends the job as failed with a message for the person who uploaded it.
    """
    with _job_lock(job_id) as acquired:
        if not acquired:
            return "busy"
        job = (
            ImportJob.objects.select_related("tenant", "add_to_list")
            .filter(pk=job_id, status__in=[JobStatus.PENDING, JobStatus.RUNNING])
            .exclude(mapping={})
            .first()
        )
        if job is None:
            return "nothing to do"
        try:
            with fewer_collections():
                return _Run(job, batch_size or batch_size_setting()).run()
        except (OperationalError, InterfaceError):
            raise
        except _Stop as stop:
            _fail(job, stop.message)
            return "failed"
        except Exception:
            logger.exception("Contact import %s failed", job_id)
            _fail(job, "The import stopped because of an error on our side. Rows imported so "
                  "far are kept; please contact support.")  # fmt: skip
            return "failed"


# The tables an import grows, and how often (in batches) their statistics are checked.
GROWN_TABLES = tuple(m._meta.db_table for m in (Contact, ContactPhone, ContactEmail))
STATISTICS_EVERY = 10


def refresh_statistics_if_grown() -> list[str]:
    """ANALYZE the contact tables that changed by more than their size since their last analysis.

    The batch lookups are only fast on the (tenant, number/email) unique indexes; with the
    statistics of a much smaller table (a fresh tenant importing 100,000 rows) PostgreSQL scans
    the tenant's rows instead, and each batch gets slower than the one before. Autovacuum would
    notice within minutes; an import should not have to wait for it.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT s.relname FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
            WHERE s.relname = ANY(%s)
              AND s.n_mod_since_analyze > greatest(1000, c.reltuples)
            """,
            [list(GROWN_TABLES)],
        )
        grown = [row[0] for row in cursor.fetchall()]
        for table in grown:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")
    return grown


def _with_room(stored: list[dict], new: list[RowError]) -> list[dict]:
    """``stored`` plus as many of ``new`` as fit under the stored-problems cap."""
    room = max_stored_errors() - len(stored)
    return stored + [e.as_dict() for e in new[: max(room, 0)]] if new and room > 0 else stored


class _Stop(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _fail(job: ImportJob, message: str) -> None:
    ImportJob.objects.filter(pk=job.pk, status__in=[JobStatus.PENDING, JobStatus.RUNNING]).update(
        status=JobStatus.FAILED, failure=message, finished_at=timezone.now()
    )
    job.refresh_from_db()
    _publish_progress(job)


@dataclass(slots=True)
class _Batch:
    """Data records ``start`` to ``end`` (blank ones counted), parsed; ``last`` ends the file."""

    start: int
    end: int
    parsed: list[ParsedRow]
    errors: list[RowError]
    last: bool


class _Run:
    """One worker's pass over a job, from ``next_row`` to the end."""

    def __init__(self, job: ImportJob, batch_size: int) -> None:
        self.job = job
        self.contact_list = job.add_to_list
        self.batch_size = max(1, batch_size)
        self.batches = 0
        self.last_published = 0.0

    def _records(self, stored: IO[bytes]) -> Iterator[tuple[int, list[str]]]:
        """(spreadsheet row number, cells) of every record; the header is the first."""
        number = 0
        try:
            for record in read_records(stored, self.job.encoding, self.job.delimiter):
                number += 1
                yield number, record
        except csv.Error as exc:
            raise _Stop(csv_error_message(number + 1, exc)) from None

    def _data_records(self, stored: IO[bytes]) -> tuple[list[str], Iterator[tuple[int, list]]]:
        records = self._records(stored)
        for _number, record in records:
            if not is_blank(record):
                return clean_headers(record), records
        raise _Stop("The file has no header row.")

    def _count_rows(self) -> int:
        with self.job.file.open("rb") as stored:
            _, records = self._data_records(stored)
            return sum(1 for _, record in records if not is_blank(record))

    def _begin(self) -> None:
        """Running from now on; the first start also counts the rows (for the progress bar)."""
        job = self.job
        if job.started_at is None:
            total = self._count_rows()
            ImportJob.objects.filter(
                pk=job.pk,
                status__in=[JobStatus.PENDING, JobStatus.RUNNING],
                started_at__isnull=True,
            ).update(status=JobStatus.RUNNING, started_at=timezone.now(), total_rows=total)
            job.refresh_from_db()

    def run(self) -> str:
        self._begin()
        job = self.job
        if job.status != JobStatus.RUNNING:
            return job.status
        definitions = definitions_for(job.tenant)
        with job.file.open("rb") as stored:
            headers, records = self._data_records(stored)
            try:
                check_mapping(job.mapping, headers, definitions)
            except MappingInvalid as exc:
                raise _Stop(
                    "The column mapping no longer fits (a custom attribute was changed or "
                    f"removed): {exc.message}"
                ) from None
            parser = RowParser(
                region=job.tenant.default_region,
                headers=headers,
                mapping=job.mapping,
                definitions=definitions,
            )
            for batch in self._batches(records, parser, job.next_row):
                # The last batch always comes, and ends the job.
                state = self._commit(batch, parser)
                if state != "ok":
                    break
                self.batches += 1
                if self.batches % STATISTICS_EVERY == 1:
                    refresh_statistics_if_grown()
            return state

    def _batches(
        self, records: Iterator[tuple[int, list]], parser: RowParser, skip: int
    ) -> Iterator["_Batch"]:
        """The rows after the first ``skip`` parsed, a batch at a time; no queries."""
        index = 0  # data records seen, blank ones included: next_row counts these
        start = skip
        parsed: list[ParsedRow] = []
        errors: list[RowError] = []
        for number, record in records:
            if index < skip:
                index += 1
                continue
            # A full batch is written once the next record shows it is not the last one,
            # so that the last batch also finishes the job (no empty final transaction).
            if index - start >= self.batch_size:
                yield _Batch(start, index, parsed, errors, last=False)
                start, parsed, errors = index, [], []
            index += 1
            if not is_blank(record):
                outcome = parser.parse(number, record)
                if isinstance(outcome, ParsedRow):
                    parsed.append(outcome)
                else:
                    errors.extend(outcome)
        yield _Batch(start, index, parsed, errors, last=True)

    def _commit(self, batch: "_Batch", parser: RowParser) -> str:
        for attempt in range(INTEGRITY_RETRIES):
            try:
                with transaction.atomic():
                    return self._commit_once(batch, parser)
            except IntegrityError:
                # Someone else wrote one of these numbers or emails between our lookup and our
                # insert: the batch rolled back whole; its next lookup finds their contact.
                if attempt == INTEGRITY_RETRIES - 1:
                    raise
                logger.info("Contact import %s: batch at %s retried", self.job.pk, batch.start)
        return "failed"  # not reached

    def _commit_once(self, batch: "_Batch", parser: RowParser) -> str:
        last = batch.last
        job = ImportJob.objects.select_for_update().select_related("tenant").get(pk=self.job.pk)
        if job.status != JobStatus.RUNNING:
            return job.status  # cancelled meanwhile
        if job.next_row != batch.start:
            return "superseded"  # another worker got further; it carries on
        result = write_batch(
            tenant=job.tenant,
            rows=batch.parsed,
            update_existing=job.on_existing == ImportJob.OnExisting.UPDATE,
            import_started_at=job.started_at,
            definitions=parser.definitions,
            attribute_columns=parser.attribute_columns,
            contact_list=self.contact_list,
        )
        result.fail(batch.errors)
        result.errors.sort(key=lambda e: e.row)
        job.next_row = batch.end
        job.created_count += result.created
        job.updated_count += result.updated
        job.skipped_count += result.skipped
        job.error_count += len(result.error_rows)
        job.warning_count += len(result.warning_rows)
        job.errors = _with_room(job.errors, result.errors)
        job.warnings = _with_room(job.warnings, sorted(result.warnings, key=lambda w: w.row))
        fields = ["next_row", "created_count", "updated_count", "skipped_count", "error_count",
                  "errors", "warning_count", "warnings"]  # fmt: skip
        if last:
            job.status = JobStatus.DONE
            job.finished_at = timezone.now()
            fields += ["status", "finished_at"]
        job.save(update_fields=fields)
        self.job = job
        now = time.monotonic()
        if last or now - self.last_published >= PROGRESS_INTERVAL_SECONDS:
            self.last_published = now
            _publish_progress(job)
        return "done" if last else "ok"
