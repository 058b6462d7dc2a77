"""A worker killed in the middle of an import: nothing half-written, resumed without duplicates.

The import runs in a real child process (``python -c``, the same test database) with batches
of 1,000 rows. This test holds an uncommitted contact with a phone number of the fourth batch,
so the child blocks inside that batch — three batches committed, the fourth half-written in
its open transaction — and is then killed with SIGKILL, as the kernel's OOM killer or a
``docker kill`` would. The beat sweep then finds the job "running" with no worker and resumes
it.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection, transaction

from contacts.attributes import definitions_for
from contacts.imports.mapping import auto_map
from contacts.imports.services import (
    _jobs_with_a_worker,
    check_upload,
    do_create_import,
    resume_stalled_imports,
)
from contacts.models import AttributeDefinition, Contact, ContactPhone, ImportJob, JobStatus
from tests.contacts.test_import_support import big_file, upload

pytestmark = pytest.mark.clock

REPO = Path(__file__).resolve().parents[2]
CHILD = """
import os, sys
sys.path.insert(0, os.getcwd())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omnichannel.settings")
import django
django.setup()
from django.db import connection
connection.settings_dict["NAME"] = os.environ["IMPORT_TEST_DATABASE"]
from contacts.imports.services import run_import
print(run_import(int(sys.argv[1]), batch_size=1000), flush=True)
"""
BATCH = 1000
WAIT_SECONDS = 60


def queued_job(tenant, data: bytes) -> ImportJob:
    """A job as do_start_import leaves it, without sending its task to the broker: the test
    runs the import itself, in a child process."""
    raw, sniffed = check_upload(upload(data))
    job = do_create_import(tenant, filename="big.csv", data=raw, sniffed=sniffed)
    ImportJob.objects.filter(pk=job.pk).update(
        mapping=auto_map(sniffed.headers, definitions_for(tenant)), on_existing="update"
    )
    return job


def wait_for(condition, what: str, child: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if child is not None and child.poll() is not None:
            output = child.stdout.read() if child.stdout else ""
            pytest.fail(f"the child exited ({child.returncode}) before {what}: {output}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def blocked_on_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0] > 0


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_import_is_resumed_without_duplicates(
    tenant, settings, tmp_path, eager_tasks
):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    AttributeDefinition.objects.create(
        tenant=tenant, key="plan", label="Plan", type="choice", choices=["basic", "Pro"]
    )
    data, expected = big_file(10_000, bad_every=33)
    good = set(expected["good_phones"])
    bad = expected["bad_rows"]
    job = queued_job(tenant, data)
    # A number from the fourth batch (data rows 3,001-4,000, file rows 3,002-4,001).
    trap_row = 3_500
    assert trap_row + 2 not in bad
    trap_number = expected["good_phones"][trap_row - sum(1 for r in bad if r < trap_row + 2)]

    env = {
        **os.environ,
        "IMPORT_TEST_DATABASE": connection.settings_dict["NAME"],
        "MEDIA_ROOT": settings.MEDIA_ROOT,
    }
    with transaction.atomic():
        holder = Contact.objects.create(tenant=tenant, phone=trap_number, name="in the way")
        ContactPhone.objects.create(
            tenant=tenant, contact=holder, number=trap_number, is_primary=True
        )
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(job.pk)],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            wait_for(
                lambda: (
                    ImportJob.objects.get(pk=job.pk).next_row == 3 * BATCH and blocked_on_a_lock()
                ),
                "three batches and a blocked fourth",
                child,
            )
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=10)
        finally:
            if child.poll() is None:
                child.kill()
        assert child.returncode == -signal.SIGKILL
        transaction.set_rollback(True)  # the contact in the way never existed

    # Killed: exactly three batches are in, the fourth left nothing behind.
    job.refresh_from_db()
    assert (job.status, job.next_row) == (JobStatus.RUNNING, 3 * BATCH)
    bad_so_far = sum(1 for r in bad if r < 3 * BATCH + 2)
    assert job.created_count == 3 * BATCH - bad_so_far
    assert job.error_count == bad_so_far
    assert Contact.objects.for_tenant(tenant).count() == job.created_count

    # The killed worker's session ends once its lock wait is over; then the job is free.
    wait_for(lambda: not _jobs_with_a_worker([job.pk]), "the dead worker's lock to go")
    assert resume_stalled_imports() == [job.pk]  # runs at once: tasks are eager here

    job.refresh_from_db()
    assert job.status == JobStatus.DONE
    phones = list(Contact.objects.for_tenant(tenant).values_list("phone", flat=True))
    assert len(phones) == len(set(phones)) == len(good)
    assert set(phones) == good
    assert ContactPhone.objects.for_tenant(tenant).count() == len(good)
    assert (job.created_count, job.updated_count, job.error_count) == (len(good), 0, len(bad))
    assert [e["row"] for e in job.errors] == sorted(bad)
    assert resume_stalled_imports() == []  # nothing left to resume


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_second_worker_on_the_same_job_stands_aside(tenant, settings, tmp_path):
    from contacts.imports.services import _job_lock, run_import

    settings.MEDIA_ROOT = str(tmp_path / "media")
    data, _ = big_file(10)
    job = queued_job(tenant, data)
    ImportJob.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING)
    with _job_lock(job.pk) as acquired:
        assert acquired
        child = subprocess.run(
            [sys.executable, "-c", CHILD, str(job.pk)],
            cwd=REPO,
            env={
                **os.environ,
                "IMPORT_TEST_DATABASE": connection.settings_dict["NAME"],
                "MEDIA_ROOT": settings.MEDIA_ROOT,
            },
            capture_output=True,
            text=True,
            timeout=WAIT_SECONDS,
        )
        assert child.stdout.strip().splitlines()[-1] == "busy", child.stderr
        assert resume_stalled_imports() == []  # "running" but someone holds it: not stalled
    assert run_import(job.pk) == "done"
    assert Contact.objects.for_tenant(tenant).count() == 10


@pytest.mark.django_db
def test_the_sweep_queues_again_only_jobs_nobody_works_on(
    tenant, settings, tmp_path, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    settings.MEDIA_ROOT = str(tmp_path / "media")
    data, _ = big_file(3)
    long_ago = timezone.now() - timedelta(minutes=30)
    jobs = {name: queued_job(tenant, data) for name in
            ("draft", "queued_now", "queued_long_ago", "running", "done")}  # fmt: skip
    ImportJob.objects.filter(pk=jobs["draft"].pk).update(mapping={}, created_at=long_ago)
    ImportJob.objects.filter(pk=jobs["queued_long_ago"].pk).update(created_at=long_ago)
    ImportJob.objects.filter(pk=jobs["running"].pk).update(status=JobStatus.RUNNING)
    ImportJob.objects.filter(pk=jobs["done"].pk).update(status=JobStatus.DONE, created_at=long_ago)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        resumed = resume_stalled_imports()
    assert resumed == [jobs["queued_long_ago"].pk, jobs["running"].pk]
    assert len(queued) == 2
