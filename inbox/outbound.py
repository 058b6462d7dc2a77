"""A stored message as the provider contract's :class:`OutboundMessage`: what the delivery
worker hands to ``provider.send``."""

from inbox.models import Message
from inbox.providers.base import OutboundFile, OutboundMessage, TemplateRef


def outbound_message(
    message: Message,
    *,
    recipient: str,
    thread_ref: str = "",
    client_ref: str = "",
    channel: str = "",
    contact=None,
) -> OutboundMessage:
    """``message`` addressed to ``recipient``: its text, its approved template or media, its
    stored files, and for email its subject and threading headers."""
    metadata = message.metadata or {}
    template = metadata.get("template")
    headers = dict(metadata.get("headers") or {})
    if message.email_message_id:
        headers["Message-ID"] = message.email_message_id
    if metadata.get("in_reply_to"):
        headers["In-Reply-To"] = metadata["in_reply_to"]
    if metadata.get("references"):
        headers["References"] = " ".join(metadata["references"])
    files = ()
    if message.pk is not None:
        files = tuple(
            OutboundFile(name=a.file.name, filename=a.filename, content_type=a.content_type)
            for a in message.attachments.all()
            if a.file
        )
    return OutboundMessage(
        recipient=recipient,
        body=message.body,
        body_html=message.body_html,
        subject=message.subject,
        headers=headers,
        cc=tuple(metadata.get("cc") or ()),
        bcc=tuple(metadata.get("bcc") or ()),
        media_urls=tuple(metadata.get("media_urls") or ()),
        files=files,
        template=TemplateRef(template["content_sid"], template.get("variables") or {})
        if template
        else None,
        thread_ref=thread_ref,
        client_ref=client_ref,
        channel=channel,
        contact_ids=contact_ids(contact),
        contact_name=(contact.name or "") if contact is not None else "",
    )


def contact_ids(contact) -> dict[str, str]:
    """The contact's ids in other systems, as text (what providers that keep contacts read)."""
    if contact is None:
        return {}
    return {
        str(system): str(value)
        for system, value in (contact.external_ids or {}).items()
        if isinstance(value, str | int) and not isinstance(value, bool)
    }
