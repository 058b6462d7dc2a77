"""Celery tasks of lifecycle notifications (the logic is in notifications.sending)."""

from celery import shared_task

from notifications.sending import sweep_due_notifications

__all__ = ["send_due_notifications_task", "send_notifications_task"]


@shared_task
def send_due_notifications_task() -> dict:
    """Beat: send every due notification (leased claims, safe with several workers); rows whose
    worker died come back when their lease expires."""
    return sweep_due_notifications()


@shared_task(acks_late=True)
def send_notifications_task(notification_ids: list[int]) -> dict:
    """Send these notifications now (an event's immediate ones); beat catches any it misses."""
    return sweep_due_notifications(ids=notification_ids)
