"""Celery tasks of the calendar (the logic is in calendar_app.actions)."""

from celery import shared_task

from calendar_app.actions import do_release_expired_holds

__all__ = ["release_expired_holds_task"]


@shared_task
def release_expired_holds_task() -> int:
    """Beat: holds nobody confirmed in time free their slots (how many were released)."""
    return do_release_expired_holds()
