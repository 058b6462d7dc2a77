"""Email threads: which conversation an email belongs to, and the headers a reply needs.

An email thread is a conversation with a subject. Inbound mail is threaded by its headers
first (``In-Reply-To`` / ``References`` naming a message of this inbox), whoever sent it: a
colleague the customer copied answers in the customer's thread, as in Front or Chatwoot. By
subject and contact second (an active conversation of the contact whose subject matches once "Re:",
"Fwd:", "RV:"… are removed), and starts a new thread otherwise. Replies we send name the
thread's latest message in ``In-Reply-To`` and carry its ``References`` chain.
"""

import re

from django.db import IntegrityError, transaction

from contacts.actions import get_or_create_contact_by_email
from contacts.models import Contact
from inbox.actions.conversations import get_or_open_active_conversation
from inbox.models import Conversation, Inbox, Message
from inbox.providers.base import MessageReceived

# Reply and forward prefixes in English, Spanish, German, French… ("Re:", "RE[2]:", "Fwd:",
# "RV:", "Rif:", "AW:", "TR:"), repeated any number of times.
_PREFIX = re.compile(
    r"^\s*((re|fw|fwd|rv|reenv|aw|wg|tr|rif|sv|vs|antw)(\[\d+\])?\s*:\s*)+", re.IGNORECASE
)
NO_SUBJECT = "(no subject)"
MAX_REFERENCES = 20
MESSAGE_ID = re.compile(r"<[^<>\s]+>")


def thread_subject(subject: str) -> str:
    """The subject without reply/forward prefixes and runs of white space."""
    return " ".join(_PREFIX.sub("", subject or "").split())[:500]


def reply_subject(subject: str) -> str:
    base = thread_subject(subject) or NO_SUBJECT
    return f"Re: {base}"[:500]


def message_ids(value: str) -> list[str]:
    """The ``<id>`` tokens of an In-Reply-To / References header value, in order."""
    return MESSAGE_ID.findall(value or "")


def conversation_for_headers(inbox: Inbox, ids: list[str]) -> Conversation | None:
    """The conversation of the newest of our messages named by ``ids`` (one indexed query)."""
    if not ids:
        return None
    found = (
        Message.objects.filter(inbox=inbox, email_message_id__in=ids[-MAX_REFERENCES * 2 :])
        .select_related("conversation")
        .order_by("-created_at", "-id")
        .first()
    )
    return found.conversation if found is not None else None


def get_or_open_email_conversation(
    inbox: Inbox,
    contact: Contact | None,
    subject: str,
    *,
    headers_match: Conversation | None = None,
) -> Conversation:
    """The thread for an email from/to ``contact`` about ``subject`` (locked), opened when new.

    ``headers_match`` (found by In-Reply-To/References in this inbox) wins whatever the
    sender, and is reopened when it was closed: someone answered in that thread. Otherwise an
    active thread of ``contact`` with the same subject; otherwise a new conversation.
    ``contact`` may be None only with a ``headers_match``.
    """
    if headers_match is not None and headers_match.inbox_id == inbox.pk:
        conversation = Conversation.objects.select_for_update().get(pk=headers_match.pk)
        if conversation.status not in Conversation.ACTIVE:
            try:
                with transaction.atomic():
                    Conversation.objects.filter(pk=conversation.pk).update(
                        status=Conversation.Status.OPEN, snoozed_until=None
                    )
                conversation.refresh_from_db()
            except IntegrityError:
                pass  # the contact has another active thread like it; the message joins this one
        return conversation
    if contact is None:
        raise ValueError("An email thread without matching headers needs a contact.")
    return get_or_open_active_conversation(inbox, contact, subject=thread_subject(subject))


def thread_inbound(
    inbox: Inbox, event: MessageReceived
) -> tuple[Contact | None, Conversation] | None:
    """The email channel's threading of a received email: ``(the sender's contact, the
    thread)``, None when neither the headers nor the sender place it (a stranger, and the inbox
    does not create contacts). A stranger answering in a known thread gets no contact of their
    own (None): the email joins the thread's."""
    # Only this inbox's Message-IDs are looked up, so another tenant's never match.
    headers_match = conversation_for_headers(inbox, [*event.references, *event.in_reply_to])
    contact, _ = get_or_create_contact_by_email(
        inbox.tenant,
        email=event.sender,
        name=event.profile_name,
        create=headers_match is None and bool(inbox.settings.get("auto_create_contacts", True)),
    )
    if contact is None and headers_match is None:
        return None
    conversation = get_or_open_email_conversation(
        inbox, contact, event.subject, headers_match=headers_match
    )
    return contact, conversation


def reply_headers(conversation: Conversation) -> tuple[str, str, list[str]]:
    """``(subject of the thread's last email, In-Reply-To, References)`` for a reply in it."""
    last = (
        Message.objects.filter(conversation=conversation)
        .exclude(email_message_id="")
        .only("subject", "email_message_id", "metadata")
        .order_by("-created_at", "-id")
        .first()
    )
    if last is None:
        return conversation.subject, "", []
    references = [r for r in (last.metadata or {}).get("references", []) if isinstance(r, str)]
    if not references and (last.metadata or {}).get("in_reply_to"):
        references = [last.metadata["in_reply_to"]]
    chain = [*references, last.email_message_id][-MAX_REFERENCES:]
    return last.subject or conversation.subject, last.email_message_id, chain
