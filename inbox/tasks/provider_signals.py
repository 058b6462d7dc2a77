"""Celery tasks that pass agents' typing and reading on to the contact's channel
(``inbox.actions.provider_signals``). Best effort: a provider that is down loses a typing
indicator, which is worth no retry; a read receipt is retried a few times."""

import logging

from celery import shared_task

from inbox.actions.provider_signals import thread_address
from inbox.models import Conversation
from inbox.providers import ProviderError, get_provider

__all__ = ["mark_read_task", "send_typing_task"]

logger = logging.getLogger(__name__)


def _conversation(conversation_id: int) -> Conversation | None:
    return (
        Conversation.objects.select_related("inbox__tenant", "contact")
        .filter(pk=conversation_id)
        .first()
    )


@shared_task
def send_typing_task(conversation_id: int, active: bool) -> bool:
    conversation = _conversation(conversation_id)
    if conversation is None or not conversation.inbox.is_active:
        return False
    try:
        get_provider(conversation.inbox).send_typing(thread_address(conversation), active)
    except ProviderError as exc:
        logger.info("Typing not passed on for conversation %s: %s", conversation_id, exc)
        return False
    return True


@shared_task(bind=True, max_retries=3)
def mark_read_task(self, conversation_id: int) -> bool:
    conversation = _conversation(conversation_id)
    if conversation is None or not conversation.inbox.is_active:
        return False
    try:
        get_provider(conversation.inbox).mark_read(thread_address(conversation))
    except ProviderError as exc:
        if exc.permanent or self.request.retries >= self.max_retries:
            logger.info("Read not passed on for conversation %s: %s", conversation_id, exc)
            return False
        raise self.retry(countdown=10 * 2**self.request.retries, exc=exc) from exc
    return True
