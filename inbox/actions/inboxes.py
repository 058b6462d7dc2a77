"""Connecting channels: create an inbox with validated provider credentials.

Credentials are stored encrypted on the inbox (``Inbox.set_credentials``) and never leave it:
API answers and command output show only whether they are set and a masked account SID.
"""

import re
from urllib.parse import urlsplit

from django.conf import settings as django_settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.urls import reverse

from contacts.phones import InvalidPhone, normalize_phone
from inbox.models import Channel, Inbox, Provider
from omnichannel import audit
from omnichannel.actions import ActionError
from omnichannel.models import ApiToken, AuditEvent, Tenant
from omnichannel.outbound import UnsafeURL, check_public_url

ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")
MESSAGING_SERVICE_SID = re.compile(r"^MG[0-9a-fA-F]{32}$")

# What each provider accepts in ``credentials``: required and optional keys.
TWILIO_REQUIRED = ("account_sid", "auth_token")
TWILIO_OPTIONAL = ("api_base_url", "messaging_service_sid")
TWILIO_KINDS = (Channel.SMS, Channel.WHATSAPP)


def clean_twilio_credentials(credentials: dict) -> dict:
    """The credentials with surrounding blanks removed, or ActionError naming what is wrong."""
    if not isinstance(credentials, dict):
        raise ActionError("Twilio credentials must be an object with account_sid and auth_token.")
    unknown = sorted(set(credentials) - set(TWILIO_REQUIRED) - set(TWILIO_OPTIONAL))
    if unknown:
        allowed = ", ".join(TWILIO_REQUIRED + TWILIO_OPTIONAL)
        raise ActionError(f"Unknown Twilio credential {', '.join(unknown)}; use {allowed}.")
    cleaned: dict[str, str] = {}
    for key, value in credentials.items():
        if value is None:
            continue
        if not isinstance(value, str):
            raise ActionError(f"The Twilio {key} must be text.")
        value = value.strip()
        if value:
            cleaned[key] = value
    for key in TWILIO_REQUIRED:
        if key not in cleaned:
            raise ActionError(f"The Twilio {key} is required.")
    if not ACCOUNT_SID.match(cleaned["account_sid"]):
        raise ActionError(
            "The Twilio account_sid must be “AC” followed by 32 hexadecimal characters; "
            "copy it from the Twilio console."
        )
    if any(ch.isspace() for ch in cleaned["auth_token"]) or len(cleaned["auth_token"]) > 200:
        raise ActionError("The Twilio auth_token looks wrong: copy it from the Twilio console.")
    sid = cleaned.get("messaging_service_sid")
    if sid is not None and not MESSAGING_SERVICE_SID.match(sid):
        raise ActionError(
            "The Twilio messaging_service_sid must be “MG” followed by 32 hexadecimal characters."
        )
    base_url = cleaned.get("api_base_url")
    if base_url is not None:
        cleaned["api_base_url"] = clean_api_base_url(base_url)
    return cleaned


def clean_api_base_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ActionError(
            f"The API base URL “{value}” must be an http:// or https:// URL with a host."
        )
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ActionError("The API base URL must not contain a user, password, query or fragment.")
    try:
        check_public_url(value)
    except UnsafeURL as exc:
        raise ActionError(f"The API base URL is not allowed: {exc}") from exc
    return value.rstrip("/")


def mask_secret_id(value: str) -> str:
    """``AC…cdef``: enough to recognise an account, not to use it."""
    if len(value) <= 8:
        return "…"
    return f"{value[:2]}…{value[-4:]}"


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
    if provider != Provider.TWILIO:
        raise ActionError(f"Unknown provider “{provider}”; the supported provider is twilio.")
    if kind not in TWILIO_KINDS:
        raise ActionError(f"Twilio inboxes are sms or whatsapp, not “{kind}”.")
    try:
        address = normalize_phone(address, tenant.default_region)
    except InvalidPhone as exc:
        raise ActionError(f"The inbox address is not usable: {exc}") from exc
    cleaned = clean_twilio_credentials(credentials)
    if settings is None:
        settings = {}
    if not isinstance(settings, dict):
        raise ActionError("Inbox settings must be an object.")
    name = (name or "").strip() or f"{Channel(kind).label} {address}"
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
        AuditEvent.Action.CREDENTIAL_CHANGED,
        tenant=tenant,
        actor=acting_user,
        token=acting_token,
        target=inbox,
        request=request,
        data={
            "change": "inbox_created",
            "provider": provider,
            "fields": sorted(cleaned),
            "account_sid": mask_secret_id(cleaned["account_sid"]),
        },
    )
    return inbox


def webhook_urls(inbox: Inbox) -> dict[str, str]:
    """The public URLs to paste into the provider's console for this inbox."""
    base = django_settings.PUBLIC_BASE_URL.rstrip("/")
    return {
        "inbound": base + reverse("webhooks:twilio-inbound", args=[inbox.webhook_token]),
        "status": base + reverse("webhooks:twilio-status", args=[inbox.webhook_token]),
    }
