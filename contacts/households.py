"""Household members of a contact, and the rule that protects what an agent confirmed.

An agent's additions and edits are confirmed (``confirmed_at``/``confirmed_by``); automated
sources (CSV import, AI enrichment, the API unless it says it speaks for an agent) go through
:func:`apply_automated_household`, which may add members and refresh members automation added
before, but never removes a member and never changes a confirmed one. Members are matched by
name, ignoring case, accents and spacing ("José  Pérez" is "jose perez").
"""

import datetime
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from contacts import auditing
from contacts.models import Contact, HouseholdMember
from contacts.services import ContactInvalid, check_editable

Relationship = HouseholdMember.Relationship
Source = HouseholdMember.Source


def folded_name(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name or "")
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(plain.casefold().split())


@dataclass
class HouseholdChanges:
    """What an automated update did: members added, refreshed, and left alone (confirmed)."""

    added: list[HouseholdMember] = field(default_factory=list)
    updated: list[HouseholdMember] = field(default_factory=list)
    protected: list[HouseholdMember] = field(default_factory=list)


def _date(value: Any, errors: dict[str, str], key: str) -> datetime.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime.datetime):
        parsed = value.date()
    elif isinstance(value, datetime.date):
        parsed = value
    else:
        try:
            parsed = datetime.date.fromisoformat(str(value).strip())
        except ValueError:
            errors[key] = f"“{value}” is not a date (use YYYY-MM-DD)"
            return None
    if parsed > timezone.localdate():
        errors[key] = "is in the future"
        return None
    return parsed


def _check_member(
    contact: Contact, values: Mapping[str, Any], errors: dict[str, str], prefix: str = ""
) -> dict[str, Any]:
    """The member's fields in stored form; problems go to ``errors`` under ``prefix``+field."""
    cleaned: dict[str, Any] = {}
    name = " ".join(str(values.get("name") or "").split())
    if not name:
        errors[f"{prefix}name"] = "is required"
    elif len(name) > 200:
        errors[f"{prefix}name"] = "is longer than 200 characters"
    cleaned["name"] = name
    relationship = str(values.get("relationship") or "").strip().lower()
    if relationship not in Relationship.values:
        errors[f"{prefix}relationship"] = (
            f"“{relationship}” is not a relationship ({', '.join(Relationship.values)})"
        )
    cleaned["relationship"] = relationship
    if "date_of_birth" in values:
        cleaned["date_of_birth"] = _date(
            values.get("date_of_birth"), errors, f"{prefix}date_of_birth"
        )
    member = values.get("member")
    if member is not None:
        if not isinstance(member, Contact) or member.tenant_id != contact.tenant_id:
            errors[f"{prefix}member"] = "no such contact"
        elif member.pk == contact.pk:
            errors[f"{prefix}member"] = "a contact is not their own household member"
        else:
            cleaned["member"] = member
    return cleaned


def _confirmation(acting_user) -> dict[str, Any]:
    return {
        "confirmed_at": timezone.now(),
        "confirmed_by": acting_user if getattr(acting_user, "is_authenticated", False) else None,
    }


@transaction.atomic
def do_add_household_member(
    contact: Contact,
    *,
    name: str,
    relationship: str,
    date_of_birth: Any = None,
    member: Contact | None = None,
    acting_user=None,
) -> HouseholdMember:
    """An agent adds a member: confirmed from the start."""
    check_editable(contact)
    errors: dict[str, str] = {}
    values = {"name": name, "relationship": relationship, "date_of_birth": date_of_birth}
    if member is not None:
        values["member"] = member
    cleaned = _check_member(contact, values, errors)
    if errors:
        raise ContactInvalid(errors)
    household_member = HouseholdMember.objects.create(
        tenant_id=contact.tenant_id,
        contact=contact,
        source=Source.MANUAL,
        **cleaned,
        **_confirmation(acting_user),
    )
    auditing.record(
        auditing.Action.HOUSEHOLD_MEMBER_ADDED,
        tenant=contact.tenant,
        acting_user=acting_user,
        target=contact,
        data={"member": household_member.pk, "fields": sorted(k for k, v in cleaned.items() if v)},
    )
    return household_member


# do_update_household_member(member=...) left out: the link to the member's contact stays.
KEEP_MEMBER: Any = object()


@transaction.atomic
def do_update_household_member(
    household_member: HouseholdMember,
    *,
    name: str,
    relationship: str,
    date_of_birth: Any = None,
    member: Any = KEEP_MEMBER,
    acting_user=None,
) -> HouseholdMember:
    """An agent edits a member, which confirms it. ``member`` links the entry to the member's
    own contact (of the same tenant, not the contact itself), None unlinks it; left out, the
    link stays as it is."""
    check_editable(household_member.contact)
    errors: dict[str, str] = {}
    values = {"name": name, "relationship": relationship, "date_of_birth": date_of_birth}
    if member is not KEEP_MEMBER and member is not None:
        values["member"] = member
    cleaned = _check_member(household_member.contact, values, errors)
    if errors:
        raise ContactInvalid(errors)
    if member is None:
        cleaned["member"] = None
    before = auditing.snapshot(household_member, [*cleaned, "confirmed_at"])
    for key, value in {**cleaned, **_confirmation(acting_user)}.items():
        setattr(household_member, key, value)
    household_member.save()
    changed = [
        "confirmed" if name == "confirmed_at" else name
        for name in auditing.changed_fields(household_member, before)
        if name != "confirmed_at" or before["confirmed_at"] is None
    ]
    if changed:
        auditing.record(
            auditing.Action.HOUSEHOLD_MEMBER_CHANGED,
            tenant=household_member.contact.tenant,
            acting_user=acting_user,
            target=household_member.contact,
            data={"member": household_member.pk, "changed": sorted(changed)},
        )
    return household_member


@transaction.atomic
def do_confirm_household_member(
    household_member: HouseholdMember, *, acting_user=None
) -> HouseholdMember:
    if household_member.confirmed_at is None:
        for key, value in _confirmation(acting_user).items():
            setattr(household_member, key, value)
        household_member.save(update_fields=["confirmed_at", "confirmed_by"])
        auditing.record(
            auditing.Action.HOUSEHOLD_MEMBER_CHANGED,
            tenant=household_member.contact.tenant,
            acting_user=acting_user,
            target=household_member.contact,
            data={"member": household_member.pk, "changed": ["confirmed"]},
        )
    return household_member


@transaction.atomic
def do_remove_household_member(household_member: HouseholdMember, *, acting_user=None) -> None:
    """Only people remove members (automation never does)."""
    auditing.record(
        auditing.Action.HOUSEHOLD_MEMBER_REMOVED,
        tenant=household_member.contact.tenant,
        acting_user=acting_user,
        target=household_member.contact,
        data={"member": household_member.pk},
    )
    household_member.delete()


@transaction.atomic
def apply_automated_household(
    contact: Contact, members: Iterable[Mapping[str, Any]], *, source: str
) -> HouseholdChanges:
    """Members from an automated ``source`` (import, ai, api): new names are added
    (unconfirmed), names already there and unconfirmed are refreshed, confirmed members are
    never changed, and nobody is removed. Raises :class:`ContactInvalid` (``household.N.field``)
    before writing anything when an entry is unusable."""
    if source == Source.MANUAL or source not in Source.values:
        raise ValueError(f"{source!r} is not an automated household source")
    # Serialise automated updates of one contact so two runs cannot add the same name twice.
    contact = Contact.objects.select_for_update().get(pk=contact.pk, tenant_id=contact.tenant_id)
    check_editable(contact)
    errors: dict[str, str] = {}
    incoming = [
        _check_member(contact, values, errors, prefix=f"household.{index}.")
        for index, values in enumerate(members)
    ]
    if errors:
        raise ContactInvalid(errors)

    existing = {folded_name(m.name): m for m in HouseholdMember.objects.filter(contact=contact)}
    changes = HouseholdChanges()
    for values in incoming:
        key = folded_name(values["name"])
        current = existing.get(key)
        if current is None:
            created = HouseholdMember.objects.create(
                tenant_id=contact.tenant_id, contact=contact, source=source, **values
            )
            existing[key] = created
            changes.added.append(created)
            continue
        if current.is_confirmed:
            changes.protected.append(current)
            continue
        dirty = [
            name
            for name, value in values.items()
            if name != "name" and value is not None and getattr(current, name) != value
        ]
        if dirty:
            for name in dirty:
                setattr(current, name, values[name])
            current.source = source
            current.save(update_fields=[*dirty, "source"])
            changes.updated.append(current)
    return changes
