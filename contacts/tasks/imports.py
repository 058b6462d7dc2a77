"""Celery tasks of the CSV import (see contacts.imports.services)."""

from celery import shared_task, signals

from contacts.imports.services import resume_stalled_imports, run_import

__all__ = ["import_contacts_task", "resume_stalled_imports_task"]


@shared_task(acks_late=True)
def import_contacts_task(job_id: int) -> str:
    """Import a job's rows from where it stands; safe to run twice (see run_import)."""
    return run_import(job_id)


@shared_task
def resume_stalled_imports_task() -> int:
    """Beat: imports whose worker died (or whose task was lost) are queued again."""
    return len(resume_stalled_imports())


@signals.worker_ready.connect(weak=False, dispatch_uid="contacts.resume_imports_on_start")
def _resume_on_worker_start(**kwargs) -> None:
    # A worker killed mid-import comes back here first: pick its job up without waiting for beat.
    resume_stalled_imports_task.delay()
