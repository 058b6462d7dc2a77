"""Agents' typing and reading, passed on to the contact's channel where the provider can show
them (``send_typing``, ``mark_read``: iMessage can, SMS cannot). The provider call happens in a
Celery task after commit; an agent's page never waits for it.

Typing is passed on at most once per :data:`TYPING_RELAY_SECONDS` per conversation (the browser
signals every few seconds while the agent types); a conversation is marked read once per new
inbound message, and only where the inbox's ``mark_read`` setting (on by default) allows.
"""

from django.core.cache import cache
from django.db import transaction

from inbox.models import Conversation
from inbox.providers import get_provider
from inbox.providers.base import supports

TYPING_RELAY_SECONDS = 5


def thread_address(conversation: Conversation) -> str:
    """How the provider addresses the conversation: its thread handle, else the contact."""
    return conversation.external_thread_id or conversation.contact.phone or ""


def do_relay_agent_typing(conversation: Conversation, *, active: bool) -> bool:
    """Queue the typing indicator for the contact; whether it was queued."""
    if not supports(get_provider(conversation.inbox), "send_typing"):
        return False
    key = f"inbox:typing-relay:{conversation.pk}"
    if active and not cache.add(key, 1, TYPING_RELAY_SECONDS):
        return False
    if not active:
        cache.delete(key)
    from inbox.tasks.provider_signals import send_typing_task

    transaction.on_commit(lambda: send_typing_task.delay(conversation.pk, active))
    return True


def do_relay_read(conversation: Conversation) -> bool:
    """Queue "read" for the contact's chat when it has news since it was last marked read."""
    inbox = conversation.inbox
    if conversation.last_inbound_at is None or not inbox.settings.get("mark_read", True):
        return False
    if not supports(get_provider(inbox), "mark_read"):
        return False
    key = f"inbox:read-relay:{conversation.pk}:{conversation.last_inbound_at.timestamp()}"
    if not cache.add(key, 1, 7 * 24 * 3600):
        return False
    from inbox.tasks.provider_signals import mark_read_task

    transaction.on_commit(lambda: mark_read_task.delay(conversation.pk))
    return True
