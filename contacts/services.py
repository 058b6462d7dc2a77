"""Contacts: create, update and delete them, with their phones, emails, attributes and labels.

Every write here is one transaction and checks everything before writing anything: invalid
input raises :class:`ContactInvalid`, whose ``errors`` map each field to what is wrong
(``first_name``, ``phones.1``, ``emails.0``, ``attributes.plan``), all at once.

Phones are E.164 (parsed with the tenant's default region, so national formats, ``whatsapp:``
prefixes and Mexico's ``+52 1`` all give the same number); a number belongs to one contact per
tenant; one of a contact's phones is primary and ``Contact.phone`` mirrors it (the inbox and
campaigns read that column). Emails likewise, lower-cased. Custom attribute values always go
through :func:`contacts.attributes.clean_attributes`.

``Contact.name`` is the display name: "first last" when either is known, else the name given
(what a channel told us, e.g. a WhatsApp profile name).
"""

import re
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from contacts import auditing, hooks
from contacts.actions import contact_for_email, contact_for_number, do_set_consent
from contacts.attributes import AttributeErrors, clean_attributes, definitions_for
from contacts.models import (
    PROFILE_FIELDS,
    Consent,
    Contact,
    ContactEmail,
    ContactLabel,
    ContactPhone,
)
from contacts.phones import InvalidPhone, normalize_phone
from contacts.search import clean_query, contact_match, phone_digits
from contacts.timezones import timezone_for_phone
from omnichannel.actions import ActionError
from omnichannel.models import Tenant

# The contact's own columns a person (form, API, import) may write.
CONTACT_FIELDS = ("first_name", "last_name", "name", *PROFILE_FIELDS, "external_ids")
LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
EXTERNAL_ID_KEY = re.compile(r"^[A-Za-z0-9_.:-]{1,40}$")
MAX_EXTERNAL_IDS = 20
MAX_PHONES = 20
MAX_EMAILS = 20


class ContactInvalid(ActionError):
    """Input that cannot be saved; ``errors`` maps each field to what is wrong with it."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        details = "; ".join(f"{field}: {reason}" for field, reason in self.errors.items())
        super().__init__(f"Please correct: {details}", code="invalid")


def check_editable(contact: Contact) -> None:
    if contact.erased_at is not None:
        raise ActionError(
            "This contact's personal data was erased; it cannot be changed.", code="gone"
        )


# --- reading ---------------------------------------------------------------------------------


def find_contact_by_phone(tenant: Tenant, raw: str) -> Contact | None:
    """The tenant's contact owning ``raw`` (any format) as one of their phones, else None.

    Raises ``InvalidPhone`` for something that is not a phone number.
    """
    return contact_for_number(tenant, normalize_phone(raw, tenant.default_region))


def find_contact_by_email(tenant: Tenant, raw: str) -> Contact | None:
    address = (raw or "").strip().lower()
    return contact_for_email(tenant, address) if address else None


def contacts_matching(tenant: Tenant, q: str) -> QuerySet[Contact]:
    """The tenant's contacts whose name, email or phone (any of theirs) contains ``q``.

    Name matching ignores case and accents; a query that looks like a phone number matches
    phone digits ("5512 3456" finds +525512345678). Trigram indexes serve each branch.
    """
    contacts = Contact.objects.for_tenant(tenant)
    text = clean_query(q)
    if not text:
        return contacts
    match = contact_match(text)
    match |= Q(
        pk__in=ContactEmail.objects.for_tenant(tenant)
        .filter(email__contains=text.lower())
        .values("contact_id")
    )
    digits = phone_digits(text)
    if digits:
        match |= Q(
            pk__in=ContactPhone.objects.for_tenant(tenant)
            .filter(number__contains=digits)
            .values("contact_id")
        )
    return contacts.filter(match)


# --- checking input --------------------------------------------------------------------------


@dataclass(frozen=True)
class PhoneIn:
    number: str
    kind: str = ContactPhone.Kind.MOBILE
    primary: bool = False


@dataclass(frozen=True)
class EmailIn:
    email: str
    primary: bool = False


def _as_phone(item: Any) -> PhoneIn:
    if isinstance(item, PhoneIn):
        return item
    if isinstance(item, Mapping):
        return PhoneIn(
            number=str(item.get("number") or ""),
            kind=str(item.get("kind") or ContactPhone.Kind.MOBILE),
            primary=bool(item.get("primary") or item.get("is_primary")),
        )
    return PhoneIn(number=str(item or ""))


def _as_email(item: Any) -> EmailIn:
    if isinstance(item, EmailIn):
        return item
    if isinstance(item, Mapping):
        return EmailIn(
            email=str(item.get("email") or ""),
            primary=bool(item.get("primary") or item.get("is_primary")),
        )
    return EmailIn(email=str(item or ""))


def _text_field(name: str, value: Any, errors: dict[str, str]) -> str | None:
    if value is None:
        return ""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        errors[name] = "expects text"
        return None
    return " ".join(str(value).split())


def _check_field(name: str, text: str, errors: dict[str, str]) -> str | None:
    """Field-specific rules on already trimmed text; None after recording an error."""
    if not text:
        return text
    if name == "country":
        code = text.upper()
        if code not in phonenumbers.SUPPORTED_REGIONS:
            errors[name] = f"“{text}” is not a two-letter country code such as MX or US"
            return None
        return code
    if name == "timezone":
        if text not in zoneinfo.available_timezones():
            errors[name] = f"“{text}” is not a time zone such as America/Mexico_City"
            return None
        return text
    if name == "preferred_channel":
        from omnichannel.channels import Channel

        if text.lower() not in Channel.values:
            errors[name] = f"“{text}” is not a channel ({', '.join(Channel.values)})"
            return None
        return text.lower()
    if name == "language":
        if not LANGUAGE_TAG.match(text):
            errors[name] = f"“{text}” is not a language code such as es or en-US"
            return None
        return text
    if name == "inferred_gender":
        if text.lower() not in Contact.Gender.values:
            allowed = ", ".join(v for v in Contact.Gender.values if v)
            errors[name] = f"“{text}” is not one of {allowed} (or blank)"
            return None
        return text.lower()
    return text


def _check_external_ids(value: Any, errors: dict[str, str]) -> dict[str, str] | None:
    if value in (None, ""):
        return {}
    if not isinstance(value, Mapping):
        errors["external_ids"] = 'expects an object such as {"chatwoot": "123"}'
        return None
    if len(value) > MAX_EXTERNAL_IDS:
        errors["external_ids"] = f"holds at most {MAX_EXTERNAL_IDS} ids"
        return None
    cleaned = {}
    for key, item in value.items():
        if not EXTERNAL_ID_KEY.match(str(key)):
            errors[f"external_ids.{key}"] = "a system name is letters, digits and _ . : -"
            continue
        if item in (None, ""):
            continue
        if not isinstance(item, str | int) or isinstance(item, bool) or len(str(item)) > 100:
            errors[f"external_ids.{key}"] = "an id is text or a number, 100 characters at most"
            continue
        cleaned[str(key)] = str(item)
    return cleaned


def clean_contact_fields(fields: Mapping[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    """``fields`` checked and in their stored form; problems are added to ``errors``."""
    cleaned: dict[str, Any] = {}
    for name, value in fields.items():
        if name not in CONTACT_FIELDS:
            errors[name] = "is not a contact field"
            continue
        if name == "external_ids":
            ids = _check_external_ids(value, errors)
            if ids is not None:
                cleaned[name] = ids
            continue
        text = _text_field(name, value, errors)
        if text is None:
            continue
        checked = _check_field(name, text, errors)
        if checked is None:
            continue
        limit = Contact._meta.get_field(name).max_length
        if limit and len(checked) > limit:
            errors[name] = f"is longer than {limit} characters"
            continue
        cleaned[name] = checked
    return cleaned


def _clean_phones(tenant: Tenant, items: Iterable[Any], errors: dict[str, str]) -> list[PhoneIn]:
    phones: list[PhoneIn] = []
    seen: dict[str, int] = {}
    items = list(items)
    if len(items) > MAX_PHONES:
        errors["phones"] = f"a contact has at most {MAX_PHONES} phone numbers"
        return []
    for index, raw in enumerate(items):
        item = _as_phone(raw)
        if item.kind not in ContactPhone.Kind.values:
            errors[f"phones.{index}"] = (
                f"“{item.kind}” is not a kind of phone ({', '.join(ContactPhone.Kind.values)})"
            )
            continue
        try:
            e164 = normalize_phone(item.number, tenant.default_region)
        except InvalidPhone as exc:
            errors[f"phones.{index}"] = str(exc)
            continue
        if e164 in seen:  # the same number twice in another format: one row
            if item.primary:
                first = phones[seen[e164]]
                phones[seen[e164]] = PhoneIn(first.number, first.kind, True)
            continue
        seen[e164] = len(phones)
        phones.append(PhoneIn(e164, item.kind, item.primary))
    if sum(p.primary for p in phones) > 1:
        errors["phones"] = "only one phone number can be the primary one"
    return phones


def _clean_emails(items: Iterable[Any], errors: dict[str, str]) -> list[EmailIn]:
    emails: list[EmailIn] = []
    seen: dict[str, int] = {}
    items = list(items)
    if len(items) > MAX_EMAILS:
        errors["emails"] = f"a contact has at most {MAX_EMAILS} email addresses"
        return []
    for index, raw in enumerate(items):
        item = _as_email(raw)
        address = item.email.strip().lower()
        try:
            validate_email(address)
        except ValidationError:
            errors[f"emails.{index}"] = f"“{item.email}” is not an email address"
            continue
        if len(address) > ContactEmail._meta.get_field("email").max_length:
            errors[f"emails.{index}"] = "is too long"
            continue
        if address in seen:
            if item.primary:
                emails[seen[address]] = EmailIn(address, True)
            continue
        seen[address] = len(emails)
        emails.append(EmailIn(address, item.primary))
    if sum(e.primary for e in emails) > 1:
        errors["emails"] = "only one email address can be the primary one"
    return emails


def _owner_label(contact: Contact) -> str:
    return f"{contact} (contact {contact.pk})"


def _check_owners(
    tenant: Tenant,
    phones: Sequence[PhoneIn],
    emails: Sequence[EmailIn],
    *,
    contact_id: int | None,
    errors: dict[str, str],
) -> None:
    """Record an error for each phone or email that already belongs to another contact."""
    numbers = [p.number for p in phones]
    if numbers:
        owners = {
            row.number: row.contact
            for row in ContactPhone.objects.for_tenant(tenant)
            .filter(number__in=numbers)
            .exclude(contact_id=contact_id)
            .select_related("contact")
        }
        for contact in (
            Contact.objects.for_tenant(tenant).filter(phone__in=numbers).exclude(pk=contact_id)
        ):
            owners.setdefault(contact.phone, contact)
        for index, phone in enumerate(phones):
            if phone.number in owners:
                errors[f"phones.{index}"] = (
                    f"{phone.number} is already a number of {_owner_label(owners[phone.number])}"
                )
    addresses = [e.email for e in emails]
    if addresses:
        owners = {
            row.email: row.contact
            for row in ContactEmail.objects.for_tenant(tenant)
            .filter(email__in=addresses)
            .exclude(contact_id=contact_id)
            .select_related("contact")
        }
        for index, email in enumerate(emails):
            if email.email in owners:
                errors[f"emails.{index}"] = (
                    f"{email.email} is already an address of {_owner_label(owners[email.email])}"
                )


def _clean_attribute_values(
    tenant: Tenant,
    values: Mapping[str, Any],
    *,
    existing: Mapping[str, Any] | None,
    errors: dict[str, str],
) -> dict[str, Any] | None:
    try:
        return clean_attributes(definitions_for(tenant), values, existing=existing)
    except AttributeErrors as exc:
        errors.update({f"attributes.{key}": reason for key, reason in exc.errors.items()})
        return None


def display_name(first_name: str, last_name: str, fallback: str = "") -> str:
    full = " ".join(part for part in (first_name, last_name) if part)
    return (full or fallback or "")[:200]


# --- writing phones and emails -----------------------------------------------------------------


def _primary_first[T: (PhoneIn, EmailIn)](items: list[T]) -> list[T]:
    """The same items with exactly one primary (the flagged one, else the first), first."""
    if not items:
        return items
    index = next((i for i, item in enumerate(items) if item.primary), 0)
    ordered = [items[index], *items[:index], *items[index + 1 :]]
    return [replace(item, primary=i == 0) for i, item in enumerate(ordered)]


def adopt_mirror_rows(contact: Contact) -> None:
    """Give ``Contact.phone`` / ``.email`` their rows when they were written without them."""
    # A number or address already in a row (this contact's, or another's in legacy data) is
    # left alone: the unique row decides who owns it.
    if (
        contact.phone
        and not ContactPhone.objects.filter(
            tenant_id=contact.tenant_id, number=contact.phone
        ).exists()
    ):
        ContactPhone.objects.create(
            tenant_id=contact.tenant_id,
            contact=contact,
            number=contact.phone,
            is_primary=not ContactPhone.objects.filter(contact=contact, is_primary=True).exists(),
        )
    email = contact.email.lower()
    if email and not ContactEmail.objects.filter(tenant_id=contact.tenant_id, email=email).exists():
        ContactEmail.objects.create(
            tenant_id=contact.tenant_id,
            contact=contact,
            email=email,
            is_primary=not ContactEmail.objects.filter(contact=contact, is_primary=True).exists(),
        )


def _write_phones(contact: Contact, phones: list[PhoneIn]) -> None:
    phones = _primary_first(phones)
    rows = {row.number: row for row in ContactPhone.objects.filter(contact=contact)}
    wanted = {p.number for p in phones}
    ContactPhone.objects.filter(contact=contact).exclude(number__in=wanted).delete()
    # Clear first: the one-primary constraint is checked on every UPDATE.
    ContactPhone.objects.filter(contact=contact, is_primary=True).update(is_primary=False)
    for phone in phones:
        row = rows.get(phone.number)
        if row is None:
            ContactPhone.objects.create(
                tenant_id=contact.tenant_id,
                contact=contact,
                number=phone.number,
                kind=phone.kind,
                is_primary=phone.primary,
            )
        else:
            ContactPhone.objects.filter(pk=row.pk).update(kind=phone.kind, is_primary=phone.primary)
    contact.phone = phones[0].number if phones else ""


def _write_emails(contact: Contact, emails: list[EmailIn]) -> None:
    emails = _primary_first(emails)
    rows = {row.email: row for row in ContactEmail.objects.filter(contact=contact)}
    wanted = {e.email for e in emails}
    ContactEmail.objects.filter(contact=contact).exclude(email__in=wanted).delete()
    ContactEmail.objects.filter(contact=contact, is_primary=True).update(is_primary=False)
    for email in emails:
        row = rows.get(email.email)
        if row is None:
            ContactEmail.objects.create(
                tenant_id=contact.tenant_id,
                contact=contact,
                email=email.email,
                is_primary=email.primary,
            )
        else:
            ContactEmail.objects.filter(pk=row.pk).update(is_primary=email.primary)
    contact.email = emails[0].email if emails else ""


def _conflict(exc: IntegrityError) -> ContactInvalid:
    """A concurrent write took a number or address between the check and the write."""
    text = str(exc)
    if "contactemail" in text:
        return ContactInvalid({"emails": "an address was just given to another contact"})
    return ContactInvalid({"phones": "a number was just given to another contact"})


def current_phones(contact: Contact) -> list[PhoneIn]:
    return [
        PhoneIn(row.number, row.kind, row.is_primary)
        for row in ContactPhone.objects.filter(contact=contact).order_by("-is_primary", "id")
    ]


def current_emails(contact: Contact) -> list[EmailIn]:
    return [
        EmailIn(row.email, row.is_primary)
        for row in ContactEmail.objects.filter(contact=contact).order_by("-is_primary", "id")
    ]


# --- the actions ---------------------------------------------------------------------------------


@transaction.atomic
def do_create_contact(
    tenant: Tenant,
    *,
    fields: Mapping[str, Any] | None = None,
    phones: Iterable[Any] = (),
    emails: Iterable[Any] = (),
    attributes: Mapping[str, Any] | None = None,
    created_via: str = Contact.CreatedVia.MANUAL,
    acting_user=None,
    acting_token=None,
) -> Contact:
    """A new contact; ``phones``/``emails`` are numbers/addresses or ``{"number": ...,
    "kind": ..., "primary": true}`` / ``{"email": ..., "primary": true}`` (the first is primary
    unless one says so). Raises :class:`ContactInvalid`."""
    errors: dict[str, str] = {}
    cleaned = clean_contact_fields(fields or {}, errors)
    phone_list = _clean_phones(tenant, phones, errors)
    email_list = _clean_emails(emails, errors)
    attrs = _clean_attribute_values(tenant, attributes or {}, existing=None, errors=errors)
    if created_via not in Contact.CreatedVia.values:
        errors["created_via"] = f"“{created_via}” is not a way a contact is created"
    _check_owners(tenant, phone_list, email_list, contact_id=None, errors=errors)
    name = display_name(
        cleaned.get("first_name", ""), cleaned.get("last_name", ""), cleaned.get("name", "")
    )
    if not (name or phone_list or email_list) and not errors:
        errors["name"] = "give at least a name, a phone number or an email address"
    if errors:
        raise ContactInvalid(errors)
    cleaned["name"] = name
    phone_list, email_list = _primary_first(phone_list), _primary_first(email_list)
    contact = Contact(
        tenant=tenant,
        created_via=created_via,
        attributes=attrs or {},
        phone=phone_list[0].number if phone_list else "",
        email=email_list[0].email if email_list else "",
        **cleaned,
    )
    if not contact.timezone:
        contact.timezone = timezone_for_phone(contact.phone)
    try:
        with transaction.atomic():
            contact.save()
            ContactPhone.objects.bulk_create(
                ContactPhone(
                    tenant=tenant,
                    contact=contact,
                    number=p.number,
                    kind=p.kind,
                    is_primary=p.primary,
                )
                for p in phone_list
            )
            ContactEmail.objects.bulk_create(
                ContactEmail(tenant=tenant, contact=contact, email=e.email, is_primary=e.primary)
                for e in email_list
            )
    except IntegrityError as exc:
        raise _conflict(exc) from exc
    given = {name for name, value in cleaned.items() if value}
    given |= {name for name, rows in (("phones", phone_list), ("emails", email_list)) if rows}
    if attrs:
        given.add("attributes")
    auditing.record(
        auditing.CONTACT_CREATED,
        tenant=tenant,
        acting_user=acting_user,
        acting_token=acting_token,
        target=contact,
        data={"created_via": created_via, "fields": sorted(given)},
    )
    return contact


def _locked(contact: Contact) -> Contact:
    locked = Contact.objects.select_for_update().get(pk=contact.pk, tenant_id=contact.tenant_id)
    check_editable(locked)
    return locked


@transaction.atomic
def do_update_contact(
    contact: Contact,
    *,
    fields: Mapping[str, Any] | None = None,
    phones: Iterable[Any] | None = None,
    emails: Iterable[Any] | None = None,
    attributes: Mapping[str, Any] | None = None,
    acting_user=None,
    acting_token=None,
) -> Contact:
    """Change what is given: ``fields`` (only those keys), the full list of ``phones`` or
    ``emails`` (None leaves them), ``attributes`` on top of the stored ones (an empty value
    removes one). Raises :class:`ContactInvalid`; an erased contact cannot be changed."""
    contact = _locked(contact)
    tenant = contact.tenant
    errors: dict[str, str] = {}
    cleaned = clean_contact_fields(fields or {}, errors)
    phone_list = _clean_phones(tenant, phones, errors) if phones is not None else None
    email_list = _clean_emails(emails, errors) if emails is not None else None
    attrs = None
    if attributes is not None:
        attrs = _clean_attribute_values(
            tenant, attributes, existing=contact.attributes, errors=errors
        )
    _check_owners(tenant, phone_list or [], email_list or [], contact_id=contact.pk, errors=errors)
    if errors:
        raise ContactInvalid(errors)

    before = auditing.snapshot(contact, [*cleaned, "name", "timezone", "phone", "email"])
    before_attributes = dict(contact.attributes or {})
    before_phones = current_phones(contact) if phone_list is not None else None
    before_emails = current_emails(contact) if email_list is not None else None
    for name, value in cleaned.items():
        setattr(contact, name, value)
    contact.name = display_name(contact.first_name, contact.last_name, contact.name)
    if attrs is not None:
        contact.attributes = attrs
    adopt_mirror_rows(contact)
    try:
        with transaction.atomic():
            if phone_list is not None:
                _write_phones(contact, phone_list)
            if email_list is not None:
                _write_emails(contact, email_list)
            if not contact.timezone:
                contact.timezone = timezone_for_phone(contact.phone)
            contact.save()
    except IntegrityError as exc:
        raise _conflict(exc) from exc
    changed = set(auditing.changed_fields(contact, before))
    if before_phones is not None and current_phones(contact) != before_phones:
        changed.add("phones")
    if before_emails is not None and current_emails(contact) != before_emails:
        changed.add("emails")
    after_attributes = contact.attributes or {}
    attribute_keys = sorted(
        key
        for key in set(before_attributes) | set(after_attributes)
        if before_attributes.get(key) != after_attributes.get(key)
    )
    if attribute_keys:
        changed.add("attributes")
    if changed:
        auditing.record(
            auditing.CONTACT_CHANGED,
            tenant=tenant,
            acting_user=acting_user,
            acting_token=acting_token,
            target=contact,
            data={
                "changed": sorted(changed),
                **({"attributes": attribute_keys} if attribute_keys else {}),
            },
        )
    return contact


def do_set_attributes(
    contact: Contact, values: Mapping[str, Any], *, acting_user=None, acting_token=None
) -> Contact:
    """Custom attribute values on top of the stored ones; :class:`ContactInvalid` per field."""
    return do_update_contact(
        contact, attributes=values, acting_user=acting_user, acting_token=acting_token
    )


def do_add_phone(
    contact: Contact, number: str, *, kind: str = ContactPhone.Kind.MOBILE, primary: bool = False
) -> Contact:
    """Add a number (a number the contact already has only changes its kind/primary)."""
    with transaction.atomic():
        contact = _locked(contact)
        adopt_mirror_rows(contact)
        phones = current_phones(contact)
        if primary:
            phones = [PhoneIn(p.number, p.kind, False) for p in phones]
        # The new one goes first so that a repeated number takes the new kind.
        errors: dict[str, str] = {}
        new = _clean_phones(contact.tenant, [PhoneIn(number, kind, primary)], errors)
        if errors:
            raise ContactInvalid({"phone": next(iter(errors.values()))})
        others = [p for p in phones if p.number != new[0].number]
        kept = [p for p in phones if p.number == new[0].number]
        merged = PhoneIn(new[0].number, kind, primary or bool(kept and kept[0].primary))
        return do_update_contact(contact, phones=[*others, merged])


def do_remove_phone(contact: Contact, phone: ContactPhone) -> Contact:
    """Remove one of the contact's numbers; the next one becomes primary when it was."""
    with transaction.atomic():
        contact = _locked(contact)
        adopt_mirror_rows(contact)
        phones = [p for p in current_phones(contact) if p.number != phone.number]
        return do_update_contact(contact, phones=phones)


def do_make_primary_phone(contact: Contact, phone: ContactPhone) -> Contact:
    with transaction.atomic():
        contact = _locked(contact)
        adopt_mirror_rows(contact)
        phones = [
            PhoneIn(p.number, p.kind, p.number == phone.number) for p in current_phones(contact)
        ]
        return do_update_contact(contact, phones=phones)


def do_add_email(contact: Contact, email: str, *, primary: bool = False) -> Contact:
    with transaction.atomic():
        contact = _locked(contact)
        adopt_mirror_rows(contact)
        errors: dict[str, str] = {}
        new = _clean_emails([EmailIn(email, primary)], errors)
        if errors:
            raise ContactInvalid({"email": next(iter(errors.values()))})
        emails = current_emails(contact)
        if primary:
            emails = [EmailIn(e.email, False) for e in emails]
        others = [e for e in emails if e.email != new[0].email]
        kept = [e for e in emails if e.email == new[0].email]
        merged = EmailIn(new[0].email, primary or bool(kept and kept[0].primary))
        return do_update_contact(contact, emails=[*others, merged])


def do_remove_email(contact: Contact, email: ContactEmail) -> Contact:
    with transaction.atomic():
        contact = _locked(contact)
        adopt_mirror_rows(contact)
        emails = [e for e in current_emails(contact) if e.email != email.email]
        return do_update_contact(contact, emails=emails)


def do_make_primary_email(contact: Contact, email: ContactEmail) -> Contact:
    with transaction.atomic():
        contact = _locked(contact)
        adopt_mirror_rows(contact)
        emails = [EmailIn(e.email, e.email == email.email) for e in current_emails(contact)]
        return do_update_contact(contact, emails=emails)


@transaction.atomic
def do_delete_contact(
    contact: Contact,
    *,
    acting_user=None,
    acting_token=None,
    request: HttpRequest | None = None,
) -> None:
    """Delete a contact that has no conversations; one that has is erased instead (GDPR),
    which keeps the conversations and message counts."""
    contact = Contact.objects.select_for_update().get(pk=contact.pk, tenant_id=contact.tenant_id)
    if contact.conversations.exists():
        raise ActionError(
            f"{contact} has conversations, which are kept: erase the contact's personal data "
            "instead of deleting it.",
            code="conflict",
        )
    auditing.record(
        auditing.CONTACT_DELETED,
        tenant=contact.tenant,
        acting_user=acting_user,
        acting_token=acting_token,
        target=contact,
        request=request,
    )
    contact.delete()


# --- labels and consent ------------------------------------------------------------------------


@transaction.atomic
def do_label_contact(contact: Contact, label) -> bool:
    """Put a tenant label on the contact; False when it was already there."""
    if label.tenant_id != contact.tenant_id:
        raise ActionError("No label found.", code="not_found")
    _, created = ContactLabel.objects.get_or_create(
        contact=contact, label=label, defaults={"tenant_id": contact.tenant_id}
    )
    if created:
        auditing.record(
            auditing.CONTACT_CHANGED,
            tenant=contact.tenant,
            target=contact,
            data={"changed": ["labels"], "added": label.name},
        )
    return created


@transaction.atomic
def do_unlabel_contact(contact: Contact, label) -> bool:
    deleted, _ = ContactLabel.objects.filter(contact=contact, label=label).delete()
    if deleted:
        auditing.record(
            auditing.CONTACT_CHANGED,
            tenant=contact.tenant,
            target=contact,
            data={"changed": ["labels"], "removed": label.name},
        )
    return bool(deleted)


@transaction.atomic
def do_change_consent(
    contact: Contact,
    *,
    channel: str,
    sender: str,
    status: str,
    source: str = Consent.Source.MANUAL,
    detail: str = "",
    acting_user=None,
    acting_token=None,
    request: HttpRequest | None = None,
) -> Consent:
    """An agent or API client records an opt-in or opt-out for one of the tenant's senders."""
    check_editable(contact)
    if status not in Consent.Status.values:
        allowed = ", ".join(Consent.Status.values)
        raise ActionError(f"“{status}” is not a consent status ({allowed}).")
    if source not in Consent.Source.values:
        raise ActionError(f"“{source}” is not a consent source.")
    if (channel, sender) not in {(s.channel, s.address) for s in hooks.senders(contact.tenant)}:
        raise ActionError(f"There is no {channel} inbox sending from {sender} in this tenant.")
    return do_set_consent(
        contact,
        channel=channel,
        sender=sender,
        status=status,
        source=source,
        detail=detail,
        acting_user=acting_user,
        acting_token=acting_token,
        request=request,
    )
