"""Celery tasks behind the webhooks: fetching inbound media after the webhook answered.

Webhooks themselves are processed in the request (verify, journal, a few small writes) so
Twilio gets its TwiML at once; only media downloads, which can be slow and large, run here.
"""

import logging

from celery import shared_task

from inbox.actions.receive import (
    AttachmentFetchError,
    do_fetch_attachment,
    do_mark_attachment_failed,
)
from inbox.models import Attachment

__all__ = ["fetch_attachment_task"]

logger = logging.getLogger(__name__)

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
