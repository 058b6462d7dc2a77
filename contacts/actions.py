"""Contact writes the inbox needs: find-or-create by phone, and consent per channel and sender.

The rest of the contact's life (edits, merge, erase) is in ``contacts.services`` and its
sibling modules.
"""

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from contacts import auditing, hooks
from contacts.blocklist import blocked_phones, is_blocked, normalize_email
from contacts.models import Consent, Contact, ContactEmail, ContactPhone
from contacts.phones import normalize_phone
from contacts.timezones import timezone_for_phone
from omnichannel.models import Tenant


def contact_for_number(tenant: Tenant, e164: str) -> Contact | None:
    """The tenant's contact with ``e164`` among their phones (primary or not)."""
    row = (
        ContactPhone.objects.for_tenant(tenant)
        .filter(number=e164)
        .select_related("contact")
        .first()
    )
    if row is not None:
        return row.contact
    # Contacts written straight to Contact.phone, without their ContactPhone row.
    return Contact.objects.for_tenant(tenant).filter(phone=e164).first()


def get_or_create_contact_by_phone(
    tenant: Tenant,
    *,
    phone: str,
    name: str = "",
    create: bool = True,
    created_via: str = Contact.CreatedVia.INBOUND,
) -> tuple[Contact | None, bool]:
    """The tenant's contact for ``phone`` (any format, any of their numbers), created when
    missing and allowed; ``(None, False)`` when not allowed or the number is blocklisted.

    A new contact gets its primary ContactPhone, ``created_via`` and the time zone the number
    suggests. Two concurrent creations of one number are settled by the unique constraints.
    Raises ``InvalidPhone`` for something that is not a phone number.
    """
    e164 = normalize_phone(phone, tenant.default_region)
    contact = contact_for_number(tenant, e164)
    if contact is not None or not create:
        return contact, False
    if blocked_phones(tenant, [e164]):
        return None, False
    try:
        with transaction.atomic():
            contact = Contact.objects.create(
                tenant=tenant,
                phone=e164,
                name=name.strip()[:200],
                created_via=created_via,
                timezone=timezone_for_phone(e164),
            )
            ContactPhone.objects.create(
                tenant=tenant, contact=contact, number=e164, is_primary=True
            )
            return contact, True
    except IntegrityError:
        return contact_for_number(tenant, e164), False


class InvalidEmail(ValueError):
    """Not an email address; the message says so."""


def clean_email(raw: str) -> str:
    """``raw`` lower-cased and stripped, or :class:`InvalidEmail`."""
    address = normalize_email(raw)
    try:
        validate_email(address)
    except ValidationError as exc:
        raise InvalidEmail(f"“{(raw or '')[:100]}” is not an email address.") from exc
    return address


def contact_for_email(tenant: Tenant, address: str) -> Contact | None:
    """The tenant's contact with ``address`` (lower-case) among their emails."""
    row = (
        ContactEmail.objects.for_tenant(tenant)
        .filter(email=address)
        .select_related("contact")
        .first()
    )
    if row is not None:
        return row.contact
    return Contact.objects.for_tenant(tenant).filter(email__iexact=address).first()


def get_or_create_contact_by_email(
    tenant: Tenant,
    *,
    email: str,
    name: str = "",
    create: bool = True,
    created_via: str = Contact.CreatedVia.INBOUND,
) -> tuple[Contact | None, bool]:
    """The tenant's contact for ``email`` (any case), created when missing and allowed;
    ``(None, False)`` when not allowed or the address is blocklisted. Raises
    :class:`InvalidEmail` for something that is not an email address."""
    address = clean_email(email)
    contact = contact_for_email(tenant, address)
    if contact is not None or not create:
        return contact, False
    if is_blocked(tenant, email=address):
        return None, False
    try:
        with transaction.atomic():
            contact = Contact.objects.create(
                tenant=tenant, email=address, name=name.strip()[:200], created_via=created_via
            )
            ContactEmail.objects.create(
                tenant=tenant, contact=contact, email=address, is_primary=True
            )
            return contact, True
    except IntegrityError:
        return contact_for_email(tenant, address), False


@transaction.atomic
def do_set_consent(
    contact: Contact,
    *,
    channel: str,
    sender: str,
    status: Consent.Status,
    source: Consent.Source,
    detail: str = "",
    acting_user=None,
    acting_token=None,
    request: HttpRequest | None = None,
) -> Consent:
    """Record the contact's consent for one sender; a change of status is audited (whoever
    made it: an agent, the API, a STOP reply, an unsubscribe link, a provider's bounce)."""
    previous = (
        Consent.objects.filter(contact=contact, channel=channel, sender=sender)
        .values_list("status", flat=True)
        .first()
    )
    consent, _ = Consent.objects.update_or_create(
        contact=contact,
        channel=channel,
        sender=sender,
        defaults={
            "tenant_id": contact.tenant_id,
            "status": status,
            "source": source,
            "detail": detail[:200],
            "changed_at": timezone.now(),
        },
    )
    if previous != status:
        hooks.shared_attributes_changed(contact.tenant_id, [contact.pk])
        auditing.record(
            auditing.CONSENT_CHANGED,
            tenant=contact.tenant,
            acting_user=acting_user,
            acting_token=acting_token,
            target=contact,
            request=request,
            data={
                "channel": channel,
                "sender": sender,
                "from": previous,
                "to": status,
                "source": source,
            },
        )
    return consent


def do_link_external_ids(contact_id: int, ids: dict[str, str]) -> bool:
    """Merge ``ids`` (system -> the contact's id there, e.g. ``{"chatwoot": "77"}``) into the
    contact's ``external_ids``, under a row lock (a send and a webhook may link at once);
    whether anything changed. Linking changes what connected systems are told, so their
    hooks hear of it."""
    ids = {str(k)[:50]: str(v)[:100] for k, v in ids.items() if v not in (None, "")}
    if not ids:
        return False
    with transaction.atomic():
        contact = Contact.objects.select_for_update().filter(pk=contact_id).first()
        if contact is None or all((contact.external_ids or {}).get(k) == v for k, v in ids.items()):
            return False
        contact.external_ids = {**(contact.external_ids or {}), **ids}
        contact.save(update_fields=["external_ids", "updated_at"])
        hooks.shared_attributes_changed(contact.tenant_id, [contact.pk])
    return True


def is_opted_out(contact: Contact, *, channel: str, sender: str) -> bool:
    return Consent.objects.filter(
        contact=contact, channel=channel, sender=sender, status=Consent.Status.OPTED_OUT
    ).exists()
