"""A contact's inbox data: erased with the contact, exported with it, moved when it is merged.

Registered on ``contacts.hooks`` (``InboxConfig.ready``). On erasure the rows stay, so
conversation and message counts, delivery statistics and reports still add up; what they say
about the person goes:

- messages of the contact, agents, bots, campaigns and notifications: the body (text, HTML and
  subject) becomes "[erased]", provider error texts are dropped (codes stay), metadata is
  replaced by ``{"erased": true}`` plus the ids that tie a message to a campaign or a
  notification; timeline lines written by the system ("Closed by …", "merged into …") stay,
  with the person's names, numbers and addresses masked;
- email threads lose their subject, deliveries their recipient and error text;
- attachments are deleted, their files once the erasure commits;
- the webhook journal: every request that carried them (their messages and status callbacks,
  found by provider id, and any request whose raw body holds their number or email address,
  such as a callback for a message sent outside Centro) keeps its row but loses its body; a
  note that quoted them is masked;
- the API's Idempotency-Key mappings that lead to their messages are forgotten (Redis).
"""

from typing import Any

from django.db import transaction
from django.db.models import (
    BinaryField,
    Case,
    CharField,
    F,
    Func,
    Prefetch,
    Q,
    QuerySet,
    TextField,
    Value,
    When,
)
from django.db.models.functions import Cast, Concat

from contacts.models import Contact
from contacts.personal_data import ERASED, PersonalData
from inbox.actions.conversations import do_update_conversation
from inbox.models import Attachment, Conversation, Delivery, Message
from omnichannel.agent_notifications import do_forget_target_notifications
from omnichannel.api import forget_idempotency_keys
from omnichannel.models import WebhookEvent

# Message metadata that only links rows together (no personal data): kept on erasure.
LINK_KEYS = (
    "campaign_id",
    "campaign_recipient_id",
    "notification_id",
    "notification_rule_id",
    "api_token_id",
)
JOURNAL_EMPTIED = "Emptied by a GDPR erasure before it was processed."


def _iso(value) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _messages(contact: Contact) -> QuerySet[Message]:
    return Message.objects.filter(tenant_id=contact.tenant_id, conversation__contact=contact)


def _is_timeline_line() -> Q:
    """Lines the system writes into a conversation (status changes, merges): not a message."""
    return Q(sender_type=Message.SenderType.SYSTEM, is_private=True)


def _journal_text():
    """The journaled body as searchable text; binary (base64) bodies decoded first, their
    non-ASCII bytes as escapes (numbers and addresses are ASCII)."""
    decoded = Func(F("body"), Value("base64"), function="decode", output_field=BinaryField())
    return Case(
        When(
            body_encoding="base64",
            then=Func(decoded, Value("escape"), function="encode", output_field=TextField()),
        ),
        default=F("body"),
        output_field=TextField(),
    )


def journal_about(contact: Contact, personal: PersonalData) -> QuerySet[WebhookEvent]:
    """The tenant's journaled webhooks that carried the person: their messages and status
    callbacks by provider id, and any request whose body or note holds their number or address
    (inbound email and tracking webhooks have no provider id; a status callback for a message
    sent outside Centro matches nothing else)."""
    messages = _messages(contact)
    condition = Q(external_id__in=messages.exclude(external_id="").values("external_id")) | Q(
        external_id__in=Delivery.objects.filter(message__in=messages.values("pk"))
        .exclude(provider_message_id="")
        .values("provider_message_id")
    )
    for term in personal.search_terms():
        condition |= Q(text__icontains=term) | Q(error__icontains=term)
    return (
        WebhookEvent.objects.filter(tenant_id=contact.tenant_id)
        .annotate(text=_journal_text())
        .filter(condition)
    )


def _learn(personal: PersonalData, messages: QuerySet[Message]) -> None:
    """What the channels told us about them: profile and display names, their addresses."""
    inbound = messages.filter(direction=Message.Direction.INBOUND)
    for metadata in inbound.values_list("metadata", flat=True):
        if not isinstance(metadata, dict) or metadata.get("other_sender"):
            continue
        personal.add(
            names=[metadata.get("profile_name"), metadata.get("from_name")],
            emails=[metadata.get("from")],
        )
    recipients = list(
        Delivery.objects.filter(message__in=messages.values("pk"))
        .exclude(recipient="")
        .values_list("recipient", flat=True)
        .distinct()
    )
    personal.add(phones=recipients, emails=recipients)


@transaction.atomic
def erase_inbox_data(contact: Contact, personal: PersonalData) -> dict[str, int]:
    """Erase the person from the inbox's tables (see the module docstring); the counts."""
    messages = _messages(contact)
    _learn(personal, messages)
    message_ids = list(messages.values_list("pk", flat=True))

    done = (WebhookEvent.State.PROCESSED, WebhookEvent.State.INVALID)
    journal = [
        # One still waiting (a deferred callback) can no longer be processed: closed as invalid.
        WebhookEvent(pk=pk, body="", body_encoding="", state=state, error=personal.mask(error))
        if state in done
        else WebhookEvent(
            pk=pk,
            body="",
            body_encoding="",
            state=WebhookEvent.State.INVALID,
            error=JOURNAL_EMPTIED,
        )
        for pk, state, error in journal_about(contact, personal).values_list("pk", "state", "error")
    ]
    WebhookEvent.objects.bulk_update(
        journal, ["body", "body_encoding", "state", "error"], batch_size=500
    )

    attachments = Attachment.objects.filter(message_id__in=message_ids)
    files = [name for name in attachments.exclude(file="").values_list("file", flat=True)]
    storage = Attachment._meta.get_field("file").storage
    attachments_deleted, _ = attachments.delete()

    content = messages.exclude(_is_timeline_line())
    links = {
        pk: {key: metadata[key] for key in LINK_KEYS if key in metadata}
        for pk, metadata in content.filter(metadata__has_any_keys=LINK_KEYS).values_list(
            "pk", "metadata"
        )
    }
    redacted = content.update(
        body=ERASED,
        body_html="",
        subject=Case(When(subject="", then=Value("")), default=Value(ERASED)),
        # Provider error texts quote the number ("The 'To' number +1… is not valid"); codes stay.
        error_message="",
        metadata={"erased": True},
    )
    Message.objects.bulk_update(
        [Message(pk=pk, metadata={"erased": True, **kept}) for pk, kept in links.items()],
        ["metadata"],
        batch_size=500,
    )
    lines = []
    for line in messages.filter(_is_timeline_line()).only("body", "metadata"):
        body, metadata = personal.mask(line.body), personal.mask_json(line.metadata)
        if (body, metadata) != (line.body, line.metadata):
            line.body, line.metadata = body, metadata
            lines.append(line)
    Message.objects.bulk_update(lines, ["body", "metadata"], batch_size=500)

    Delivery.objects.filter(message_id__in=message_ids).update(recipient="", error_message="")
    # Agents' notifications about the person's conversations quote their name and words.
    do_forget_target_notifications(
        contact.tenant_id,
        "conversation",
        list(Conversation.objects.filter(contact=contact).values_list("pk", flat=True)),
    )
    # Threads stay apart: one active thread per contact, inbox and subject (a constraint).
    Conversation.objects.filter(tenant_id=contact.tenant_id, contact=contact).exclude(
        subject=""
    ).update(
        subject=Concat(
            Value("[erased #"), Cast("pk", CharField()), Value("]"), output_field=CharField()
        )
    )

    tenant_id = contact.tenant_id

    def after_commit() -> None:
        # Files and the cache are not transactional: only once the erasure is committed.
        for name in files:
            storage.delete(name)
        forget_idempotency_keys(tenant_id, "inbox", message_ids)

    transaction.on_commit(after_commit)
    return {
        "messages_redacted": redacted,
        "attachments_deleted": attachments_deleted,
        "journal_entries_emptied": len(journal),
    }


def export_inbox_data(contact: Contact, personal: PersonalData) -> dict[str, Any]:
    """The contact's conversations with every message and attachment, and the webhook
    requests that carried them. A fixed number of queries."""
    conversations = (
        Conversation.objects.filter(contact=contact, tenant_id=contact.tenant_id)
        .select_related("inbox")
        .prefetch_related(
            Prefetch(
                "messages",
                queryset=Message.objects.order_by("created_at", "id").prefetch_related(
                    Prefetch("attachments", queryset=Attachment.objects.order_by("id"))
                ),
            )
        )
        .order_by("created_at", "id")
    )
    journal = journal_about(contact, personal).order_by("received_at", "id")
    return {
        "conversations": [_conversation_export(c) for c in conversations],
        "webhook_journal": [
            {
                "id": event.pk,
                "provider": event.provider,
                "kind": event.kind,
                "received_at": _iso(event.received_at),
                "state": event.state,
                "content_type": event.content_type,
                "body_encoding": event.body_encoding,
                "body": event.body,
            }
            for event in journal
        ],
    }


def _conversation_export(conversation: Conversation) -> dict[str, Any]:
    inbox = conversation.inbox
    return {
        "id": conversation.pk,
        "inbox": {"name": inbox.name, "channel": inbox.kind, "address": inbox.address},
        "status": conversation.status,
        "subject": conversation.subject,
        "created_at": _iso(conversation.created_at),
        "last_message_at": _iso(conversation.last_message_at),
        "messages": [
            {
                "id": m.pk,
                "direction": m.direction,
                "sender_type": m.sender_type,
                "private_note": m.is_private,
                "subject": m.subject,
                "body": m.body,
                "status": m.status,
                "created_at": _iso(m.created_at),
                "attachments": [
                    {
                        "filename": a.filename,
                        "content_type": a.content_type,
                        "size": a.size,
                        "status": a.status,
                    }
                    for a in m.attachments.all()
                ],
            }
            for m in conversation.messages.all()
        ],
    }


# --- merge --------------------------------------------------------------------------------------


def merge_inbox_data(
    winner: Contact, loser: Contact, *, acting_user=None, acting_token=None
) -> dict[str, Any]:
    """The loser's conversations move to the winner (a contact merge). The database allows one
    active conversation per contact and inbox, so when both have one in the same inbox the
    loser's is closed (with the inbox's usual "Closed by" line and a note saying why) and
    moved; its messages stay in it, in order, and the winner's active conversation is where new
    messages land. Moving messages between conversations would rewrite history that agents,
    read states and reports already point at."""
    active = Conversation.ACTIVE
    winner_active = dict(
        Conversation.objects.filter(contact=winner, status__in=active).values_list("inbox_id", "pk")
    )
    closed = []
    for conversation in Conversation.objects.filter(
        contact=loser, status__in=active, inbox_id__in=list(winner_active)
    ).order_by("pk"):
        conversation = do_update_conversation(
            conversation,
            status=Conversation.Status.CLOSED,
            acting_user=acting_user,
            acting_token=acting_token,
            side_effect=True,  # part of the merge, whose permission was checked
        )
        continued = winner_active[conversation.inbox_id]
        Message.objects.create(
            tenant_id=conversation.tenant_id,
            conversation=conversation,
            inbox_id=conversation.inbox_id,
            direction=Message.Direction.OUTBOUND,
            sender_type=Message.SenderType.SYSTEM,
            author=acting_user if getattr(acting_user, "is_authenticated", False) else None,
            body=(
                f"Closed because this contact was merged into {winner}, who already has an "
                f"active conversation in this inbox (conversation {continued}); it continues "
                "there."
            ),
            is_private=True,
            status=Message.Status.SENT,
            metadata={"event": "contact_merged", "continued_in": continued},
        )
        closed.append(conversation.pk)
    moved = Conversation.objects.filter(contact=loser).update(contact=winner)
    return {"conversations": moved, "closed_conversations": closed}
