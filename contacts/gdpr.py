"""GDPR: everything about a contact as JSON (right of access), and erasure.

Erasure removes the person and keeps the numbers: the contact row stays (``erased_at`` set,
personal fields blank, shown as "Contact 12"), as do its conversations, messages, deliveries,
consents, campaign recipients, lifecycle events and notifications, so message counts, reports
and campaign statistics still add up; what those rows say about the person goes. Here, in
``contacts``: phones, emails, attributes, external ids, household members (theirs, and entries
in other households that point at them), list memberships and labels are removed; consent
notes, the rows of stored CSV imports that named them (``contacts.imports.erasure``) and audit
entries about them are masked (the action, who did it and when stay: the tenant must keep
that record). The apps above contacts erase their own rows through ``contacts.hooks``, in the
same transaction: the inbox (messages, deliveries, attachments, the webhook journal, the API's
Idempotency-Key mappings), campaigns (recipients) and notifications (events, notifications).
Files are deleted once the erasure commits. The export gathers the same places.
"""

from typing import Any

from django.db import transaction
from django.db.models import Q, TextField
from django.db.models.functions import Cast
from django.http import HttpRequest
from django.utils import timezone

from contacts import auditing, hooks
from contacts.attributes import definitions_for
from contacts.imports.erasure import erase_import_rows, export_import_rows
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
from contacts.personal_data import PersonalData
from omnichannel.models import AuditEvent

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
CONTACT_TARGET = Contact._meta.label


def _iso(value) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def export_contact(contact: Contact) -> dict[str, Any]:
    """Everything stored about ``contact``, JSON-ready. A fixed number of queries."""
    definitions = definitions_for(contact.tenant)
    personal = PersonalData.of(contact)
    data = {
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
    }
    # The apps above contacts add their sections (conversations, campaign messages, ...).
    for hook in hooks.on_export:
        data.update(hook(contact, personal))
    data.update(export_import_rows(contact, personal))
    data["audit"] = [
        {
            "id": event.pk,
            "action": event.action,
            "action_label": event.action_label,
            "target": {"type": event.target_type, "id": event.target_id},
            "target_repr": event.target_repr,
            "data": event.data,
            "created_at": _iso(event.created_at),
        }
        for event in _audit_about(
            contact, personal, {str(contact.pk), *_merged_into(contact)}
        ).order_by("created_at", "id")
    ]
    return data


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


def _merged_into(contact: Contact) -> set[str]:
    """Ids of the contacts merged into ``contact`` (and into those, and so on): the audit
    entries about them are about this person too."""
    found: set[str] = set()
    todo = {str(contact.pk)}
    while todo:
        merged = AuditEvent.objects.filter(
            tenant_id=contact.tenant_id,
            action=AuditEvent.Action.CONTACT_MERGED,
            target_type=CONTACT_TARGET,
            target_id__in=todo,
        ).values_list("data__merged_contact_id", flat=True)
        todo = {str(pk) for pk in merged if pk is not None} - found
        found |= todo
    return found


def _audit_about(contact: Contact, personal: PersonalData, ids: set[str]):
    """The tenant's audit entries about the person: those whose target is their contact or a
    duplicate merged into it (``ids``), that name their contact id, or whose text holds their
    number or email address."""
    condition = Q(target_type=CONTACT_TARGET, target_id__in=ids) | Q(data__contact_id=contact.pk)
    for term in personal.search_terms():
        condition |= Q(data_text__icontains=term) | Q(target_repr__icontains=term)
    return (
        AuditEvent.objects.filter(tenant_id=contact.tenant_id)
        .annotate(data_text=Cast("data", TextField()))
        .filter(condition)
    )


def _mask_audit(contact: Contact, personal: PersonalData) -> int:
    """The entries stay (what was done, by whom, when); what they say about the person goes."""
    ids = {str(contact.pk), *_merged_into(contact)}
    changed = []
    for event in _audit_about(contact, personal, ids):
        data = personal.mask_json(event.data)
        target_repr = personal.mask(event.target_repr)
        if event.target_type == CONTACT_TARGET and event.target_id in ids:
            target_repr = f"Contact {event.target_id}"
            if event.action == AuditEvent.Action.CONTACT_MERGED and isinstance(data, dict):
                # The duplicate's label was whatever it was called: a name, a number.
                data["merged_contact"] = f"Contact {data.get('merged_contact_id')}"
        if (data, target_repr) != (event.data, event.target_repr):
            event.data, event.target_repr = data, target_repr
            changed.append(event)
    AuditEvent.objects.bulk_update(changed, ["data", "target_repr"], batch_size=500)
    return len(changed)


@transaction.atomic
def do_erase_contact(
    contact: Contact,
    *,
    acting_user=None,
    acting_token=None,
    request: HttpRequest | None = None,
) -> Contact:
    """Erase the contact's personal data everywhere (see the module docstring). Erasing an
    erased contact changes nothing and records nothing."""
    contact = Contact.objects.select_for_update().get(pk=contact.pk, tenant_id=contact.tenant_id)
    if contact.erased_at is not None:
        return contact

    personal = PersonalData.of(contact)
    report: dict[str, int] = {}
    for hook in hooks.on_erase:
        report.update(hook(contact, personal) or {})
    report.update(erase_import_rows(contact, personal))
    notes = [
        Consent(pk=pk, detail=personal.mask(detail))
        for pk, detail in Consent.objects.filter(contact=contact).values_list("pk", "detail")
        if personal.mentions(detail)
    ]
    Consent.objects.bulk_update(notes, ["detail"])

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

    # Last: the hooks may have taught ``personal`` more names (a WhatsApp profile name).
    report["audit_entries_masked"] = _mask_audit(contact, personal)
    auditing.record(
        auditing.CONTACT_ERASED,
        tenant=contact.tenant,
        acting_user=acting_user,
        acting_token=acting_token,
        target=contact,
        request=request,
        data=report,
    )
    return contact
