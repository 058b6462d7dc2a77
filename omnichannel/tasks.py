"""The core's Celery tasks."""

from datetime import timedelta

from celery import shared_task

from omnichannel.agent_notifications import do_send_notification_digests
from omnichannel.webhooks import journal

__all__ = ["replay_pending_webhooks_task", "send_notification_digests_task"]


@shared_task
def replay_pending_webhooks_task() -> int:
    """Beat: journaled webhooks still pending after half a minute (deferred status callbacks,
    or requests a crash interrupted) are processed again."""
    return journal.replay_pending(older_than=timedelta(seconds=30))


@shared_task
def send_notification_digests_task() -> int:
    """Beat: the email digests of unread agent notifications that are due (hourly, daily)."""
    return do_send_notification_digests()
