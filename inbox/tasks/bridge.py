"""Celery task that pushes a Centro status change to the helpdesk a conversation is bridged
with (``inbox.actions.bridge``): retried with backoff while the helpdesk is unreachable or
answers 5xx/429, dropped (and logged) when it refuses for good."""

import logging

from celery import shared_task

from inbox.actions.bridge import do_push_status
from inbox.providers import ProviderError

__all__ = ["push_status_task"]

logger = logging.getLogger(__name__)


@shared_task(bind=True, max_retries=5)
def push_status_task(self, conversation_id: int) -> str:
    try:
        return do_push_status(conversation_id)
    except ProviderError as exc:
        if exc.permanent or self.request.retries >= self.max_retries:
            logger.warning("The status of conversation %s was not pushed: %s", conversation_id, exc)
            return f"Not pushed: {exc}"
        raise self.retry(
            countdown=exc.retry_after or 15 * 2**self.request.retries, exc=exc
        ) from exc
