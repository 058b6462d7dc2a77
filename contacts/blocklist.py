"""The tenant blocklist: numbers and email addresses nothing is sent to and no contact is
auto-created for.

Values are stored normalized (E.164, lower-case email), so "(415) 555-0111" blocks
``+14155550111`` in every format. Senders (``inbox.actions.send``) refuse a blocked recipient
with ``ActionError(code="blocked")``; inbound messages from a blocked number are dropped (the
raw request stays in the webhook journal); ``contacts.actions.get_or_create_contact_by_phone``
never creates a contact for one. Existing contacts keep their number: blocking is about what
may happen next, not about deleting someone.
"""

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from contacts import auditing
from contacts.models import BlockedAddress
from contacts.phones import InvalidPhone, normalize_phone
from omnichannel.actions import ActionError
from omnichannel.models import Tenant

Kind = BlockedAddress.Kind


def normalize_email(raw: str) -> str:
    return (raw or "").strip().lower()


def _phone_or_none(tenant: Tenant, raw: str | None) -> str | None:
    if not raw:
        return None
    try:
        return normalize_phone(raw, tenant.default_region)
    except InvalidPhone:
        return None


def is_blocked(tenant: Tenant, *, phone: str | None = None, email: str | None = None) -> bool:
    """True when ``phone`` (any format) or ``email`` is on the tenant's blocklist.

    A phone that cannot be parsed is not blocked here: whoever uses it will refuse it anyway.
    """
    e164 = _phone_or_none(tenant, phone)
    address = normalize_email(email or "")
    if e164 is None and not address:
        return False
    rows = BlockedAddress.objects.for_tenant(tenant)
    if e164 is not None and address:
        rows = rows.filter(Q(kind=Kind.PHONE, value=e164) | Q(kind=Kind.EMAIL, value=address))
    elif e164 is not None:
        rows = rows.filter(kind=Kind.PHONE, value=e164)
    else:
        rows = rows.filter(kind=Kind.EMAIL, value=address)
    return rows.exists()


def is_number_blocked(tenant_id: int, e164: str) -> bool:
    """``is_blocked`` for a number already in E.164, by tenant id (delivery workers)."""
    return BlockedAddress.objects.filter(tenant_id=tenant_id, kind=Kind.PHONE, value=e164).exists()


def blocked_phones(tenant: Tenant, numbers: Iterable[str]) -> set[str]:
    """Which of ``numbers`` (already E.164) are blocked: one query for a whole batch."""
    wanted = {n for n in numbers if n}
    if not wanted:
        return set()
    return set(
        BlockedAddress.objects.for_tenant(tenant)
        .filter(kind=Kind.PHONE, value__in=wanted)
        .values_list("value", flat=True)
    )


def blocklist_for_tenant(tenant: Tenant) -> QuerySet[BlockedAddress]:
    return (
        BlockedAddress.objects.for_tenant(tenant)
        .select_related("created_by")
        .order_by("-created_at", "-id")
    )


def check_address(tenant: Tenant, *, kind: str, value: str) -> str:
    """``value`` in its stored form for ``kind``, or ActionError saying what is wrong."""
    if kind == Kind.PHONE:
        try:
            return normalize_phone(value, tenant.default_region)
        except InvalidPhone as exc:
            raise ActionError(str(exc)) from exc
    if kind == Kind.EMAIL:
        address = normalize_email(value)
        try:
            validate_email(address)
        except ValidationError:
            raise ActionError(f"“{value}” is not an email address.") from None
        return address
    raise ActionError(f"Block a phone or an email, not “{kind}”.")


@transaction.atomic
def do_block_address(
    tenant: Tenant,
    *,
    kind: str,
    value: str,
    reason: str = "",
    acting_user=None,
    acting_token=None,
    request: HttpRequest | None = None,
) -> tuple[BlockedAddress, bool]:
    """Block ``value``; the row and whether it is new. Blocking twice changes nothing."""
    stored = check_address(tenant, kind=kind, value=value)
    blocked, created = BlockedAddress.objects.get_or_create(
        tenant=tenant,
        kind=kind,
        value=stored,
        defaults={
            "reason": reason.strip()[:200],
            "created_by": acting_user if getattr(acting_user, "is_authenticated", False) else None,
        },
    )
    if created:
        auditing.record(
            auditing.BLOCKLIST_ADDED,
            tenant=tenant,
            acting_user=acting_user,
            acting_token=acting_token,
            target=blocked,
            request=request,
            data={"kind": kind, "value": stored, "reason": blocked.reason},
        )
    return blocked, created


@transaction.atomic
def do_unblock_address(
    blocked: BlockedAddress,
    *,
    acting_user=None,
    acting_token=None,
    request: HttpRequest | None = None,
) -> None:
    auditing.record(
        auditing.BLOCKLIST_REMOVED,
        tenant=blocked.tenant,
        acting_user=acting_user,
        acting_token=acting_token,
        target=blocked,
        request=request,
        data={"kind": blocked.kind, "value": blocked.value},
    )
    blocked.delete()
