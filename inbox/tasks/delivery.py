"""Celery tasks that deliver outbound messages (see inbox.actions.send)."""

import random
from datetime import timedelta

from celery import shared_task
from django.conf import settings

from inbox.actions.send import RetryDelivery, attempt_delivery, do_settle_stalled_deliveries

__all__ = [
    "deliver_message_task",
    "fall_back_undelivered_task",
    "retry_countdown",
    "settle_stalled_deliveries_task",
]

BASE_DELAY_SECONDS = 5
MAX_DELAY_SECONDS = 600


def retry_countdown(retries: int, retry_after: float | None = None) -> float:
    """Exponential backoff with jitter (5 s, 10 s, 20 s … capped), never before Retry-After."""
    ceiling = min(MAX_DELAY_SECONDS, BASE_DELAY_SECONDS * 2**retries)
    delay = random.uniform(ceiling / 2, ceiling)  # noqa: S311  (jitter, not crypto)
    return max(delay, float(retry_after or 0))


@shared_task(bind=True, acks_late=True, max_retries=None)
def deliver_message_task(self, delivery_id: int) -> None:
    """Hand one Delivery to its provider; retry retryable failures, then give up (failed)."""
    max_retries = settings.DELIVERY_MAX_RETRIES
    retries = self.request.retries or 0
    try:
        attempt_delivery(delivery_id, final_attempt=retries >= max_retries)
    except RetryDelivery as exc:
        raise self.retry(
            countdown=retry_countdown(retries, exc.retry_after), max_retries=max_retries
        ) from exc


@shared_task
def settle_stalled_deliveries_task() -> int:
    """Beat: deliveries stuck in "sending" past the limit are settled (see the action)."""
    return do_settle_stalled_deliveries(
        older_than=timedelta(seconds=settings.DELIVERY_STALLED_AFTER_SECONDS)
    )


@shared_task
def fall_back_undelivered_task() -> int:
    """Beat: sends never delivered within their inbox's ``fallback_after_minutes`` go out on
    its fallback inbox (see the action)."""
    from inbox.actions.fallback import do_fall_back_undelivered

    return do_fall_back_undelivered()
