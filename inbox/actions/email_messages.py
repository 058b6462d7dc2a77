"""Per-message choices an agent makes on an email: showing its remote images."""

from django.db import transaction

from inbox.models import Message
from omnichannel import events


@transaction.atomic
def do_allow_remote_images(message: Message, *, acting_user=None) -> Message:
    """Show this email's remote images from now on (for every agent); idempotent. Open pages
    re-render the message (``message.updated``)."""
    locked = Message.objects.select_for_update().only("id", "metadata").get(pk=message.pk)
    metadata = dict(locked.metadata or {})
    if not metadata.get("images_allowed"):
        metadata["images_allowed"] = True
        if acting_user is not None:
            metadata["images_allowed_by"] = acting_user.pk
        Message.objects.filter(pk=message.pk).update(metadata=metadata)
        events.publish(
            message.tenant,
            events.EventType.MESSAGE_UPDATED,
            {"id": message.pk, "conversation_id": message.conversation_id},
        )
    message.metadata = metadata
    return message
