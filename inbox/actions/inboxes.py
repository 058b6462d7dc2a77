"""Connecting channels: create an inbox with validated provider credentials.

Credentials are stored encrypted on the inbox (``Inbox.set_credentials``) and never leave it:
API answers and command output show only whether they are set and a masked account SID.
"""

from django.db import IntegrityError, transaction
from django.http import HttpRequest

from contacts.phones import format_phone
from inbox.actions.conversations import UNCHANGED
from inbox.actions.fallback import can_relay_sms
from inbox.models import Inbox
from inbox.providers import UnknownProvider, provider_class, provider_keys, webhook_url
from inbox.providers.credentials import CredentialSchema
from omnichannel import audit
from omnichannel.actions import ActionError
from omnichannel.channels import Channel
from omnichannel.models import ApiToken, AuditEvent, Tenant


def schema_for(provider: str) -> CredentialSchema:
    """The credential schema of ``provider``; ``ActionError`` for an unknown provider."""
    try:
        return provider_class(provider).credentials
    except UnknownProvider:
        raise ActionError(
            f"Unknown provider “{provider}”; the supported providers are "
            f"{' and '.join(provider_keys())}."
        ) from None


def clean_credentials(provider: str, credentials: dict) -> dict:
    """``credentials`` checked the way :func:`do_create_inbox` checks them for ``provider``."""
    return schema_for(provider).clean(credentials)


@transaction.atomic
def do_create_inbox(
    tenant: Tenant,
    *,
    name: str = "",
    kind: str,
    provider: str,
    address: str,
    credentials: dict,
    settings: dict | None = None,
    acting_user=None,
    acting_token: ApiToken | None = None,
    request: HttpRequest | None = None,
) -> Inbox:
    """Connect a channel: validate everything, store the credentials encrypted, audit it."""
    schema = schema_for(provider)
    kinds = provider_class(provider).kinds
    if kind not in kinds:
        raise ActionError(f"{provider} inboxes are {' or '.join(kinds)}, not “{kind}”.")
    cleaned = None
    if not (address or "").strip():
        # A provider whose address names its account makes it from the settings.
        cleaned = schema.clean(credentials)
        address = schema.default_address(cleaned)
    address = schema.clean_address(address, kind=kind, tenant=tenant)
    if cleaned is None:
        cleaned = schema.clean(credentials)
    if settings is None:
        settings = {}
    if not isinstance(settings, dict):
        raise ActionError("Inbox settings must be an object.")
    name = (name or "").strip() or (
        f"{Channel(kind).label} {format_phone(address, tenant.default_region)}"
    )
    if len(name) > 100:
        raise ActionError("An inbox name has at most 100 characters.")
    if Inbox.objects.for_tenant(tenant).filter(kind=kind, address=address).exists():
        raise ActionError(
            f"This tenant already has a {Channel(kind).label} inbox for {address}.",
            code="conflict",
        )
    inbox = Inbox(
        tenant=tenant, name=name, kind=kind, provider=provider, address=address, settings=settings
    )
    inbox.set_credentials(cleaned)
    try:
        with transaction.atomic():
            inbox.save()
    except IntegrityError as exc:  # a concurrent creation of the same address
        raise ActionError(
            f"This tenant already has a {Channel(kind).label} inbox for {address}.",
            code="conflict",
        ) from exc
    audit.record(
        AuditEvent.Action.INBOX_CREATED,
        tenant=tenant,
        actor=acting_user,
        token=acting_token,
        target=inbox,
        request=request,
        data={"provider": provider, "kind": kind, "address": address},
    )
    audit.record(
        AuditEvent.Action.CREDENTIAL_CHANGED,
        tenant=tenant,
        actor=acting_user,
        token=acting_token,
        target=inbox,
        request=request,
        data={
            "change": "inbox_created",
            "provider": provider,
            "keys": sorted(cleaned),
            **schema.summary(cleaned),
        },
    )
    return inbox


@transaction.atomic
def do_update_inbox(
    inbox: Inbox,
    *,
    name: str | None = None,
    is_active: bool | None = None,
    fallback_inbox: Inbox | None = UNCHANGED,
    sms_relay: bool | None = None,
    mark_read: bool | None = None,
    messages_per_second: float | None = None,
    acting_user=None,
    acting_token: ApiToken | None = None,
) -> Inbox:
    """Rename, disable or enable an inbox, set its fallback route or whether opening a
    conversation tells the contact it was read (``mark_read``, for providers that can);
    ``None`` name/is_active/sms_relay/mark_read and an omitted fallback leave those as they are.

    The fallback route is one of: none, another inbox (``fallback_inbox``), or the inbox's own
    account sending SMS (``sms_relay``, for providers that can: a BlueBubbles Mac with the
    paired iPhone's Text Message Forwarding on). Choosing one turns the other off.

    ``messages_per_second``: how fast campaigns may send from the inbox (the setting of that
    name; a provider may have a slower default than ``CAMPAIGN_SENDER_RATE``, see
    :mod:`inbox.sending_pace`)."""
    inbox = Inbox.objects.select_for_update().get(pk=inbox.pk, tenant_id=inbox.tenant_id)
    before = audit.snapshot(inbox, ("name", "is_active", "fallback_inbox_id", "settings"))
    if name is not None:
        name = name.strip()
        if not name:
            raise ActionError("An inbox needs a name.")
        if len(name) > 100:
            raise ActionError("An inbox name has at most 100 characters.")
        inbox.name = name
    if is_active is not None:
        inbox.is_active = bool(is_active)
    if sms_relay and fallback_inbox is not UNCHANGED and fallback_inbox is not None:
        raise ActionError("Choose one fallback: another inbox or the Mac's SMS relay, not both.")
    if fallback_inbox is not UNCHANGED:
        check_fallback(inbox, fallback_inbox)
        inbox.fallback_inbox = fallback_inbox
        if fallback_inbox is not None:
            sms_relay = False
    if sms_relay and not can_relay_sms(inbox):
        raise ActionError(
            f"{inbox.provider_label} inboxes cannot send SMS themselves; choose a fallback inbox."
        )
    if sms_relay is not None and inbox.sms_relay != sms_relay:
        inbox.settings = {**inbox.settings, "sms_relay": bool(sms_relay)}
    if sms_relay:
        inbox.fallback_inbox = None
    if messages_per_second is not None:
        if not 1 / 3600 <= messages_per_second <= MAX_MESSAGES_PER_SECOND:
            raise ActionError(
                "Campaigns send between one message an hour and "
                f"{MAX_MESSAGES_PER_SECOND:g} a second from an inbox."
            )
        inbox.settings = {**inbox.settings, "messages_per_second": messages_per_second}
    if mark_read is not None and bool(inbox.settings.get("mark_read", True)) != mark_read:
        inbox.settings = {**inbox.settings, "mark_read": bool(mark_read)}
    changed = audit.changed_fields(inbox, before)
    if changed:
        inbox.save(update_fields=changed)
        audit.record(
            AuditEvent.Action.INBOX_CHANGED,
            tenant=inbox.tenant,
            actor=acting_user,
            token=acting_token,
            target=inbox,
            data={"changed": changed},
        )
    return inbox


MAX_MESSAGES_PER_SECOND = 1000.0


def check_fallback(inbox: Inbox, fallback: Inbox | None) -> None:
    """``fallback`` may take ``inbox``'s messages: the tenant's, another inbox, reaching
    contacts the same way (a phone number, or an email address), and not leading back."""
    if fallback is None:
        return
    if fallback.tenant_id != inbox.tenant_id:
        raise ActionError("The fallback inbox must be one of this tenant's.", code="not_found")
    if fallback.pk == inbox.pk:
        raise ActionError("An inbox cannot be its own fallback.")
    if (fallback.kind == Channel.EMAIL) != (inbox.kind == Channel.EMAIL):
        raise ActionError(
            f"A {Channel(inbox.kind).label} inbox cannot fall back to a "
            f"{Channel(fallback.kind).label} inbox: they reach contacts differently."
        )
    seen, step = {inbox.pk}, fallback.pk
    while step is not None:
        if step in seen:
            raise ActionError(f"“{fallback.name}” already falls back to this inbox.")
        seen.add(step)
        step = Inbox.objects.filter(pk=step).values_list("fallback_inbox_id", flat=True).first()


@transaction.atomic
def do_update_inbox_credentials(
    inbox: Inbox,
    *,
    changes: dict,
    acting_user=None,
    acting_token: ApiToken | None = None,
) -> list[str]:
    """Change some of the inbox's credentials: a key given with a value replaces it, a key
    given empty (``""`` or None) removes it, a key not given keeps its stored value (so a form
    never has to show a secret back). Everything is checked as at creation; the audit row
    names the keys that changed, never their values. Returns those keys."""
    if not isinstance(changes, dict):
        raise ActionError("Credentials must be an object.")
    inbox = Inbox.objects.select_for_update().get(pk=inbox.pk, tenant_id=inbox.tenant_id)
    stored = inbox.get_credentials()
    merged = dict(stored)
    for key, value in changes.items():
        if value is None or value == "":
            merged.pop(key, None)
        else:
            merged[key] = value
    cleaned = clean_credentials(inbox.provider, merged)
    changed = sorted(
        key for key in set(stored) | set(cleaned) if stored.get(key) != cleaned.get(key)
    )
    if not changed:
        return []
    inbox.set_credentials(cleaned)
    inbox.save(update_fields=["credentials"])
    audit.record(
        AuditEvent.Action.CREDENTIAL_CHANGED,
        tenant=inbox.tenant,
        actor=acting_user,
        token=acting_token,
        target=inbox,
        data={"change": "credentials_updated", "keys": changed},
    )
    return changed


def webhook_urls(inbox: Inbox) -> dict[str, str]:
    """The public URLs to paste into the provider's console for this inbox: one per endpoint
    of its webhook module, named by the endpoint and by the event type it receives."""
    from django.utils.module_loading import import_module

    module = provider_class(inbox.provider).webhooks
    try:
        endpoints = import_module(module).ENDPOINTS
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
        return {}  # a provider whose webhooks are not installed (yet): nothing to paste
    urls: dict[str, str] = {}
    for endpoint, event_type in endpoints.items():
        url = webhook_url(inbox, endpoint)
        if event_type is not None:
            urls.setdefault(event_type, url)
        urls.setdefault(endpoint, url)
    return urls
