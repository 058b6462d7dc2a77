"""Celery tasks behind the webhooks: status callbacks applied in batches, and inbound media
fetched, after the webhook answered.

Inbound messages are stored in the request (verify, journal, a few small writes) so Twilio
gets its TwiML at once. Status callbacks, two or three per message a campaign sends, are only
journaled there: the request schedules :func:`apply_status_batches_task` a moment later (once,
however many arrive meanwhile), which applies them a batch at a time; beat runs it too, in case
a trigger was lost. Media downloads, which can be slow and large, run here as well.
"""

import logging
import time

from celery import shared_task
from django.conf import settings
from django.core.cache import cache

from inbox.actions.receive import (
    AttachmentFetchError,
    do_fetch_attachment,
    do_mark_attachment_failed,
)
from inbox.actions.status_batches import BATCH_SIZE, do_apply_status_batch
from inbox.models import Attachment

__all__ = ["apply_status_batches_task", "fetch_attachment_task", "schedule_status_batch"]

logger = logging.getLogger(__name__)

# How long a scheduled run keeps others from being scheduled: a run lost on the way (a worker
# killed before it started) holds back the next trigger no longer than this; beat's run covers
# the gap.
SCHEDULED_TTL = 10


def _scheduled_key(source: str, kind: str) -> str:
    return f"inbox:status-batch-scheduled:{source}:{kind}"


# Per process and (source, kind): until when a run this process scheduled has not started yet
# (Celery never starts a task before its countdown), so a callback journaled meanwhile needs
# no Redis round trip to know that run will see it.
_not_started_before: dict[tuple[str, str], float] = {}


def schedule_status_batch(source: str, kind: str) -> None:
    """After a status callback was journaled: a batch run in STATUS_BATCH_DELAY_MS, unless one is
    scheduled and not started yet (it will see this callback). Never fails the request."""
    if time.monotonic() < _not_started_before.get((source, kind), 0.0):
        return
    delay = settings.STATUS_BATCH_DELAY_MS / 1000
    try:
        if cache.add(_scheduled_key(source, kind), 1, timeout=SCHEDULED_TTL):
            now = time.monotonic()
            apply_status_batches_task.apply_async((source, kind), countdown=delay)
            if not apply_status_batches_task.app.conf.task_always_eager:  # else it ran already
                _not_started_before[(source, kind)] = now + delay
    except Exception:
        # Redis or the broker is down: the callback stays journaled for beat's run.
        logger.exception("Could not schedule the %s %s batch; beat's run applies it.", source, kind)


def _batched_sources() -> list[tuple[str, str]]:
    from inbox.providers import provider_keys
    from inbox.webhooks.base import webhook_module

    return [
        (key, kind)
        for key in provider_keys()
        for kind in getattr(webhook_module(key), "BATCHED", {})
    ]


@shared_task(acks_late=True)
def apply_status_batches_task(source: str | None = None, kind: str | None = None) -> int:
    """Apply the journaled status callbacks of ``source`` (every batched source when None)
    until none is left; how many were claimed."""
    pairs = [(source, kind)] if source and kind else _batched_sources()
    total = 0
    for pair in pairs:
        # First, so a callback journaled from now on schedules a run of its own.
        cache.delete(_scheduled_key(*pair))
        while (claimed := do_apply_status_batch(*pair)) > 0:
            total += claimed
            if claimed < BATCH_SIZE:
                break
    return total


MEDIA_MAX_RETRIES = 5


def media_retry_delay(retries: int) -> int:
    """Seconds before retry number ``retries + 1``: 10 s, 20 s, 40 s… capped at 10 minutes."""
    return min(600, 10 * 2**retries)


@shared_task(bind=True, max_retries=MEDIA_MAX_RETRIES, acks_late=True)
def fetch_attachment_task(self, attachment_id: int) -> str:
    """Download attachment ``attachment_id`` into storage; retries timeouts, 429 and 5xx."""
    attachment = (
        Attachment.objects.select_related("message__inbox").filter(pk=attachment_id).first()
    )
    if attachment is None:
        logger.warning("Attachment %s no longer exists; nothing to fetch.", attachment_id)
        return "missing"
    try:
        attachment = do_fetch_attachment(attachment)
    except AttachmentFetchError as exc:
        if not exc.retryable:
            logger.info("Attachment %s not fetched: %s", attachment_id, exc.message)
            return Attachment.Status.FAILED
        if self.request.retries >= self.max_retries:
            do_mark_attachment_failed(
                attachment, f"{exc.message} Gave up after {self.request.retries + 1} attempts."
            )
            return Attachment.Status.FAILED
        raise self.retry(countdown=media_retry_delay(self.request.retries), exc=exc) from exc
    return attachment.status
