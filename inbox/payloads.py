"""The JSON shapes of inbox realtime events, one per event type, whoever publishes them."""

from datetime import datetime

from inbox.models import Conversation, Delivery, Message


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def message_payload(message: Message) -> dict:
    """``message.created``."""
    metadata = message.metadata or {}
    return {
        "id": message.pk,
        "conversation_id": message.conversation_id,
        "inbox_id": message.inbox_id,
        "direction": message.direction,
        "sender_type": message.sender_type,
        "author_id": message.author_id,
        "body": message.body,
        "is_private": message.is_private,
        "status": message.status,
        "error_code": message.error_code,
        "error_message": message.error_message,
        "external_id": message.external_id,
        "media_urls": list(metadata.get("media_urls", [])),
        "template": metadata.get("template"),
        "created_at": _iso(message.created_at),
    }


def message_status_payload(message: Message, delivery: Delivery | None = None) -> dict:
    """``message.status_updated``: the message's status and, when known, its delivery's."""
    return {
        "message_id": message.pk,
        "conversation_id": message.conversation_id,
        "status": message.status,
        "error_code": message.error_code,
        "error_message": message.error_message,
        "delivery_id": delivery.pk if delivery else None,
        "delivery_status": delivery.status if delivery else None,
    }


def conversation_payload(conversation: Conversation, *, changed: tuple | list = ()) -> dict:
    """``conversation.updated``; ``changed`` names the fields an action changed."""
    return {
        "id": conversation.pk,
        "inbox_id": conversation.inbox_id,
        "contact_id": conversation.contact_id,
        "status": conversation.status,
        "snoozed_until": _iso(conversation.snoozed_until),
        "assignee_id": conversation.assignee_id,
        "team_id": conversation.team_id,
        "priority": conversation.priority,
        "last_message_at": _iso(conversation.last_message_at),
        "last_inbound_at": _iso(conversation.last_inbound_at),
        "first_response_at": _iso(conversation.first_response_at),
        "changed": sorted(set(changed)),
    }
