"""Registries through which other apps act on what happens in the inbox.

The inbox knows nothing of campaigns or notifications; each of them registers, in its
``AppConfig.ready()``, what it does when:

- ``on_message_received``: ``hook(message)`` for each newly stored inbound message (never for
  a duplicate, a blocklisted sender or an unknown one nobody stores). Called inside the
  receive transaction, after the message, its attachments and its conversation's times are
  written and before the realtime events are built: what a hook writes (a campaign reply's
  attribution) commits with the message or not at all, and a repeated webhook, which stores
  nothing, never calls it twice.
- ``on_delivery_failed``: ``hook(delivery)`` when a Delivery becomes failed or undelivered:
  a failed send (an agent's or a notification's message, a stalled one settled, a campaign's
  recorded in bulk) or a provider's status callback or email tracking event. Called inside the
  transaction that marks it, once, by whoever moved it (the moves are conditional UPDATEs), so
  a fallback a hook queues exists exactly when the failure does.
- ``conversation_panels``: ``hook(request, conversation) -> ConversationPanel | None``: a
  section the app adds to the conversation page's contact panel (the calendar's appointments
  and booking), or None to add nothing for this member. Called on every render of the
  conversation's detail: keep it to one or two queries, load anything else on demand.

Hooks run in the caller's transaction: keep them to quick database work and schedule anything
slow or external with ``transaction.on_commit``. An exception rolls the whole event back (the
webhook journal keeps the request to replay).
"""

from collections.abc import Callable
from typing import TYPE_CHECKING

from contacts.hooks import ContactPanel

if TYPE_CHECKING:
    from django.http import HttpRequest

    from inbox.models import Conversation, Delivery, Message

# A section of a conversation's contact panel is the contact page's kind of section: its
# ``template`` is rendered with the page's context plus ``panel`` (``keeps_contact`` is the
# contact page's business only).
ConversationPanel = ContactPanel

MessageHook = Callable[["Message"], object]
DeliveryHook = Callable[["Delivery"], object]
ConversationPanelHook = Callable[["HttpRequest", "Conversation"], ConversationPanel | None]

on_message_received: list[MessageHook] = []
on_delivery_failed: list[DeliveryHook] = []
conversation_panels: list[ConversationPanelHook] = []


def register_message_received(hook: MessageHook) -> MessageHook:
    """Call ``hook`` for every newly stored inbound message (once, however often this runs)."""
    if hook not in on_message_received:
        on_message_received.append(hook)
    return hook


def register_delivery_failed(hook: DeliveryHook) -> DeliveryHook:
    """Call ``hook`` for every Delivery that fails (once, however often this runs)."""
    if hook not in on_delivery_failed:
        on_delivery_failed.append(hook)
    return hook


def register_conversation_panel(hook: ConversationPanelHook) -> ConversationPanelHook:
    """Show ``hook``'s section in every conversation's contact panel (once, however often
    this runs)."""
    if hook not in conversation_panels:
        conversation_panels.append(hook)
    return hook


def panels_for_conversation(
    request: "HttpRequest", conversation: "Conversation"
) -> list[ConversationPanel]:
    """The registered apps' sections for ``conversation``'s contact panel, in order."""
    panels = (hook(request, conversation) for hook in conversation_panels)
    return [panel for panel in panels if panel is not None]


def message_received(message: "Message") -> None:
    for hook in on_message_received:
        hook(message)


def delivery_failed(delivery: "Delivery") -> None:
    for hook in on_delivery_failed:
        hook(delivery)
