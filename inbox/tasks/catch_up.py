"""Celery tasks that check the servers Centro polls and catch up on what they recorded
(``inbox.actions.catch_up``): one task per inbox, fanned out by the beat every minute and by
every worker's start."""

import logging

from celery import shared_task

from inbox.actions.catch_up import do_check_and_catch_up, inboxes_to_poll
from inbox.models import Inbox

__all__ = ["catch_up_inbox_task", "catch_up_inboxes_task", "catch_up_on_worker_start"]

logger = logging.getLogger(__name__)


@shared_task
def catch_up_inbox_task(inbox_id: int) -> str:
    inbox = (
        Inbox.objects.select_related("tenant")
        .filter(pk=inbox_id, is_active=True, tenant__is_active=True)
        .first()
    )
    if inbox is None:
        return f"Inbox {inbox_id} is gone or off."
    outcome = do_check_and_catch_up(inbox)
    logger.info("%s", outcome)
    return outcome


@shared_task
def catch_up_inboxes_task() -> int:
    """Beat: one catch-up task per polled inbox; how many were queued."""
    inbox_ids = inboxes_to_poll()
    for inbox_id in inbox_ids:
        catch_up_inbox_task.delay(inbox_id)
    return len(inbox_ids)


def catch_up_on_worker_start(sender=None, **kwargs) -> None:
    """``worker_ready``: whatever arrived while no worker ran is caught up at once, not at the
    beat's next tick (and without a beat at all)."""
    queued = catch_up_inboxes_task()
    logger.info("Worker ready: catch-up queued for %s inboxes.", queued)
