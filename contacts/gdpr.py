"""GDPR: everything about a contact as JSON (right of access), and erasure.

Erasure removes the person and keeps the numbers: the contact row stays (``erased_at`` set,
personal fields blank, shown as "Contact 12"), as do its conversations, messages, deliveries
and consents, so message counts, reports and campaign statistics still add up. Removed:
phones, emails, attributes, external ids, household members (theirs, and entries in other
households that point at them), list memberships and labels; message bodies of the contact,
agents and bots become "[erased]", their metadata (profile name, numbers, template variables)
and provider error texts are dropped (error codes stay) and their attachments are deleted with
their files; delivery recipients are blanked; the webhook journal's copies of those messages
and of their status callbacks are emptied. Timeline lines written by the system (status
changes) carry no personal data and stay. Audit rows stay (they record who did what, which the
tenant must keep).
"""

from collections import defaultdict
from typing import Any

from django.db import transaction
from django.db.models import Prefetch
from django.http import HttpRequest
from django.utils import timezone

from contacts import auditing
from contacts.attributes import definitions_for
from contacts.models import (
    PROFILE_FIELDS,
    Consent,
    Contact,
    ContactEmail,
    ContactLabel,
    ContactPhone,
    HouseholdMember,
    ListMembership,
)

ERASED_BODY = "[erased]"
# Blanked on erasure; ``created_via``, dates and counters are not about the person.
PERSONAL_FIELDS = ("name", "first_name", "last_name", "phone", "email", *PROFILE_FIELDS)
CONTACT_EXPORT_FIELDS = (
    *PERSONAL_FIELDS,
    "external_ids",
    "created_via",
    "last_contacted_at",
    "created_at",
    "updated_at",
    "erased_at",
)


def _iso(value) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def export_contact(contact: Contact) -> dict[str, Any]:
    """Everything stored about ``contact``, JSON-ready. A fixed number of queries."""
    from inbox.models import Attachment, Conversation, Message

    definitions = definitions_for(contact.tenant)
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
    return {
        "exported_at": timezone.now().isoformat(),
        "contact": {
            "id": contact.pk,
            **{name: _iso(getattr(contact, name)) for name in CONTACT_EXPORT_FIELDS},
        },
        "phones": [
            {
                "number": p.number,
                "kind": p.kind,
                "primary": p.is_primary,
                "added_at": _iso(p.created_at),
            }
            for p in ContactPhone.objects.filter(contact=contact).order_by("-is_primary", "id")
        ],
        "emails": [
            {"email": e.email, "primary": e.is_primary, "added_at": _iso(e.created_at)}
            for e in ContactEmail.objects.filter(contact=contact).order_by("-is_primary", "id")
        ],
        "attributes": [
            {
                "key": key,
                "label": definitions[key].label if key in definitions else key,
                "value": value,
            }
            for key, value in sorted((contact.attributes or {}).items())
        ],
        "household": [
            {
                "name": m.name,
                "relationship": m.relationship,
                "date_of_birth": _iso(m.date_of_birth),
                "member_contact_id": m.member_id,
                "source": m.source,
                "confirmed_at": _iso(m.confirmed_at),
            }
            for m in HouseholdMember.objects.filter(contact=contact).order_by("id")
        ],
        "in_households_of": [
            {"contact_id": m.contact_id, "name": m.name, "relationship": m.relationship}
            for m in HouseholdMember.objects.filter(member=contact).order_by("id")
        ],
        "consents": [
            {
                "channel": c.channel,
                "sender": c.sender,
                "status": c.status,
                "source": c.source,
                "detail": c.detail,
                "changed_at": _iso(c.changed_at),
            }
            for c in Consent.objects.filter(contact=contact).order_by("channel", "sender")
        ],
        "lists": [
            {"id": m.contact_list_id, "name": m.contact_list.name, "added_at": _iso(m.added_at)}
            for m in ListMembership.objects.filter(contact=contact)
            .select_related("contact_list")
            .order_by("contact_list__name")
        ],
        "labels": [
            link.label.name
            for link in ContactLabel.objects.filter(contact=contact)
            .select_related("label")
            .order_by("label__name")
        ],
        "conversations": [_conversation_export(c) for c in conversations],
    }


def _conversation_export(conversation) -> dict[str, Any]:
    inbox = conversation.inbox
    return {
        "id": conversation.pk,
        "inbox": {"name": inbox.name, "channel": inbox.kind, "address": inbox.address},
        "status": conversation.status,
        "created_at": _iso(conversation.created_at),
        "last_message_at": _iso(conversation.last_message_at),
        "messages": [
            {
                "id": m.pk,
                "direction": m.direction,
                "sender_type": m.sender_type,
                "private_note": m.is_private,
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


@transaction.atomic
def do_export_contact(
    contact: Contact,
    *,
    acting_user=None,
    acting_token=None,
    request: HttpRequest | None = None,
) -> dict[str, Any]:
    """:func:`export_contact`, recorded in the audit trail."""
    data = export_contact(contact)
    auditing.record(
        auditing.EXPORTED,
        tenant=contact.tenant,
        acting_user=acting_user,
        acting_token=acting_token,
        target=contact,
        request=request,
        data={"what": "contact", "contact_id": contact.pk, "format": "json"},
    )
    return data


@transaction.atomic
def do_erase_contact(
    contact: Contact,
    *,
    acting_user=None,
    acting_token=None,
    request: HttpRequest | None = None,
) -> Contact:
    """Erase the contact's personal data (see the module docstring). Erasing an erased
    contact changes nothing and records nothing."""
    from inbox.models import Attachment, Delivery, Message, WebhookEvent

    contact = Contact.objects.select_for_update().get(pk=contact.pk, tenant_id=contact.tenant_id)
    if contact.erased_at is not None:
        return contact

    messages = Message.objects.filter(
        tenant_id=contact.tenant_id, conversation__contact=contact
    ).exclude(sender_type=Message.SenderType.SYSTEM)
    message_ids = list(messages.values_list("pk", flat=True))
    inbound_keys = list(messages.exclude(external_id="").values_list("inbox_id", "external_id"))
    deliveries = Delivery.objects.filter(message_id__in=message_ids)
    status_keys = list(
        deliveries.exclude(provider_message_id="").values_list("inbox_id", "provider_message_id")
    )

    attachments = Attachment.objects.filter(message_id__in=message_ids)
    files = [a.file.name for a in attachments.exclude(file="")]
    storage = Attachment._meta.get_field("file").storage
    attachment_count = attachments.count()
    attachments.delete()
    # Provider error texts quote the number ("The 'To' number +1… is not valid"); codes stay.
    redacted = Message.objects.filter(pk__in=message_ids).update(
        body=ERASED_BODY, body_html="", metadata={"erased": True}, error_message=""
    )
    deliveries.update(recipient="", error_message="")
    journal_keys: dict[int, set[str]] = defaultdict(set)
    for inbox_id, external_id in [*inbound_keys, *status_keys]:
        journal_keys[inbox_id].add(external_id)
    journal_rows = 0
    for inbox_id, external_ids in journal_keys.items():
        journal_rows += WebhookEvent.objects.filter(
            tenant_id=contact.tenant_id, inbox_id=inbox_id, external_id__in=external_ids
        ).update(body="")

    ContactPhone.objects.filter(contact=contact).delete()
    ContactEmail.objects.filter(contact=contact).delete()
    HouseholdMember.objects.filter(contact=contact).delete()
    HouseholdMember.objects.filter(member=contact).delete()
    ListMembership.objects.filter(contact=contact).delete()
    ContactLabel.objects.filter(contact=contact).delete()

    for name in PERSONAL_FIELDS:
        setattr(contact, name, "")
    contact.attributes = {}
    contact.external_ids = {}
    contact.erased_at = timezone.now()
    contact.save()

    auditing.record(
        auditing.CONTACT_ERASED,
        tenant=contact.tenant,
        acting_user=acting_user,
        acting_token=acting_token,
        target=contact,
        request=request,
        data={
            "messages_redacted": redacted,
            "attachments_deleted": attachment_count,
            "journal_entries_emptied": journal_rows,
        },
    )
    # Files are not transactional: remove them only once the erasure is committed.
    transaction.on_commit(lambda: [storage.delete(name) for name in files])
    return contact
