"""Celery tasks of bulk operations (see contacts.bulk): run one, and resume stuck ones."""

import logging

from celery import shared_task

from contacts.bulk import (
    MORE,
    SLICE_BATCHES,
    bulk_operations_to_resume,
    mark_failed,
    run_bulk_operation,
)

__all__ = ["recover_bulk_operations_task", "run_bulk_operation_task"]

logger = logging.getLogger(__name__)

MAX_RETRIES = 5


@shared_task(bind=True, acks_late=True, max_retries=MAX_RETRIES)
def run_bulk_operation_task(self, operation_id: int) -> str:
    """Run up to SLICE_BATCHES batches, then queue the rest. A failing batch is rolled back
    and retried with backoff; after MAX_RETRIES the operation stops as failed."""
    try:
        outcome = run_bulk_operation(operation_id, max_batches=SLICE_BATCHES)
    except Exception as exc:
        retries = self.request.retries or 0
        if retries >= MAX_RETRIES:
            logger.exception("Bulk operation %s failed; giving up", operation_id)
            mark_failed(
                operation_id,
                "A batch kept failing; the batches before it are applied. "
                "Start a new operation for the rest.",
            )
            return "failed"
        raise self.retry(exc=exc, countdown=min(300, 5 * 2**retries)) from exc
    if outcome == MORE:
        run_bulk_operation_task.delay(operation_id)
    return outcome


@shared_task
def recover_bulk_operations_task() -> int:
    """Beat: queue again the operations whose worker died (see bulk_operations_to_resume)."""
    operation_ids = bulk_operations_to_resume()
    for operation_id in operation_ids:
        logger.warning("Resuming bulk operation %s: no worker holds it", operation_id)
        run_bulk_operation_task.delay(operation_id)
    return len(operation_ids)
