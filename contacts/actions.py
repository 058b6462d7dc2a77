"""Contact writes the inbox needs: find-or-create by phone, and consent per channel and sender."""

from django.db import IntegrityError, transaction
from django.utils import timezone

from contacts.models import Consent, Contact
from contacts.phones import normalize_phone
from omnichannel.models import Tenant


def get_or_create_contact_by_phone(
    tenant: Tenant, *, phone: str, name: str = "", create: bool = True
) -> tuple[Contact | None, bool]:
    """The tenant's contact for ``phone`` (any format), created when missing and allowed.

    A concurrent creation of the same number is resolved by the unique constraint.
    """
    e164 = normalize_phone(phone, tenant.default_region)
    contact = Contact.objects.for_tenant(tenant).filter(phone=e164).first()
    if contact is not None or not create:
        return contact, False
    try:
        with transaction.atomic():
            return Contact.objects.create(tenant=tenant, phone=e164, name=name[:200]), True
    except IntegrityError:
        return Contact.objects.for_tenant(tenant).get(phone=e164), False


def do_set_consent(
    contact: Contact,
    *,
    channel: str,
    sender: str,
    status: Consent.Status,
    source: Consent.Source,
    detail: str = "",
) -> Consent:
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
    return consent


def is_opted_out(contact: Contact, *, channel: str, sender: str) -> bool:
    return Consent.objects.filter(
        contact=contact, channel=channel, sender=sender, status=Consent.Status.OPTED_OUT
    ).exists()
