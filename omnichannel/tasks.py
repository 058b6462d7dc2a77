"""The core's Celery tasks."""

from datetime import timedelta

from celery import shared_task

from omnichannel.webhooks import journal

__all__ = ["replay_pending_webhooks_task"]


@shared_task
def replay_pending_webhooks_task() -> int:
    """Beat: journaled webhooks still pending after half a minute (deferred status callbacks,
    or requests a crash interrupted) are processed again."""
    return journal.replay_pending(older_than=timedelta(seconds=30))
