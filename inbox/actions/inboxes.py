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

from contacts.actions import InvalidEmail, clean_email
from contacts.phones import InvalidPhone, normalize_phone
from inbox.models import Inbox, Provider
from omnichannel import audit
from omnichannel.actions import ActionError
from omnichannel.channels import Channel
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


# Credentials of an email inbox besides the ESP's own (inbox.providers.anymail.ESPS).
ANYMAIL_COMMON = ("esp", "webhook_secret", "webhook_signing_key", "webhook_esp")
WEBHOOK_SECRET = re.compile(r"^[^:\s]+:[^\s]+$")


def _typed_option(key: str, value) -> bool:
    """Whether a non-text credential value has the type its key takes."""
    if key in ("port", "timeout"):
        return isinstance(value, int) and not isinstance(value, bool)
    if key in ("use_tls", "use_ssl"):
        return isinstance(value, bool)
    return key in ("session_params", "client_params") and isinstance(value, dict)


def clean_anymail_credentials(credentials: dict) -> dict:
    """An email inbox's ESP settings, checked: a known ESP with what it requires, the webhook
    secret as ``user:password``, API URLs and SMTP hosts that pass the SSRF guard."""
    from inbox.providers.anymail import ESPS
    from inbox.webhooks.anymail import SIGNING_KEY_ESPS, WEBHOOK_VIEWS

    if not isinstance(credentials, dict):
        raise ActionError("Email credentials must be an object with at least an esp.")
    esp_name = str(credentials.get("esp") or "").strip()
    esp = ESPS.get(esp_name)
    if esp is None or (
        esp_name == "test" and not (django_settings.DEBUG or django_settings.TESTING)
    ):
        choices = ", ".join(n for n in ESPS if n != "test")
        raise ActionError(f"Unknown email service “{esp_name}”; use one of {choices}.")
    allowed = {*ANYMAIL_COMMON, *esp.required, *esp.optional}
    unknown = sorted(set(credentials) - allowed)
    if unknown:
        raise ActionError(
            f"Unknown {esp.label} setting {', '.join(unknown)}; use {', '.join(sorted(allowed))}."
        )
    cleaned: dict = {}
    for key, value in credentials.items():
        if value is None or value == "":
            continue
        if isinstance(value, str):
            value = value.strip()
        elif not _typed_option(key, value):
            raise ActionError(f"The {esp.label} {key} has the wrong type.")
        if value != "":
            cleaned[key] = value
    for key in esp.required:
        if key not in cleaned:
            raise ActionError(f"The {esp.label} {key} is required.")
    if esp_name == "smtp":
        for key in ("port", "timeout"):
            if key in cleaned:
                try:
                    cleaned[key] = int(cleaned[key])
                except (TypeError, ValueError) as exc:
                    raise ActionError(f"The SMTP {key} must be a number.") from exc
        for key in ("use_tls", "use_ssl"):
            if isinstance(cleaned.get(key), str):
                cleaned[key] = cleaned[key].lower() in ("1", "true", "yes", "on")
        if cleaned.get("use_tls") and cleaned.get("use_ssl"):
            raise ActionError("Use either TLS (STARTTLS) or SSL for SMTP, not both.")
        try:
            check_public_url(f"http://{cleaned['host']}:{cleaned.get('port', 25)}/")
        except UnsafeURL as exc:
            raise ActionError(f"The SMTP host is not allowed: {exc}") from exc
    if "api_url" in cleaned:
        cleaned["api_url"] = clean_api_base_url(cleaned["api_url"]) + "/"
    secret = cleaned.get("webhook_secret")
    if not secret or not WEBHOOK_SECRET.match(secret):
        raise ActionError(
            "Email inboxes need a webhook_secret “user:password” (anymail's basic auth for "
            "inbound and tracking webhooks)."
        )
    webhook_esp = cleaned.get("webhook_esp") or esp_name
    if webhook_esp not in WEBHOOK_VIEWS and "webhook_esp" in cleaned:
        raise ActionError(f"webhook_esp must be one of {', '.join(WEBHOOK_VIEWS)}.")
    if webhook_esp in SIGNING_KEY_ESPS and not (
        cleaned.get("webhook_signing_key") or cleaned.get("api_key")
    ):
        raise ActionError(f"A {webhook_esp} inbox needs its webhook_signing_key.")
    return cleaned


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
    if provider == Provider.ANYMAIL:
        if kind != Channel.EMAIL:
            raise ActionError(f"anymail inboxes are email, not “{kind}”.")
        try:
            address = clean_email(address)
        except InvalidEmail as exc:
            raise ActionError(f"The inbox address is not usable: {exc}") from exc
        cleaned = clean_anymail_credentials(credentials)
    elif provider == Provider.TWILIO:
        if kind not in TWILIO_KINDS:
            raise ActionError(f"Twilio inboxes are sms or whatsapp, not “{kind}”.")
        try:
            address = normalize_phone(address, tenant.default_region)
        except InvalidPhone as exc:
            raise ActionError(f"The inbox address is not usable: {exc}") from exc
        cleaned = clean_twilio_credentials(credentials)
    else:
        raise ActionError(
            f"Unknown provider “{provider}”; the supported providers are twilio and anymail."
        )
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
            **(
                {"account_sid": mask_secret_id(cleaned["account_sid"])}
                if "account_sid" in cleaned
                else {"esp": cleaned.get("esp")}
            ),
        },
    )
    return inbox


@transaction.atomic
def do_update_inbox(
    inbox: Inbox,
    *,
    name: str | None = None,
    is_active: bool | None = None,
    acting_user=None,
    acting_token: ApiToken | None = None,
) -> Inbox:
    """Rename, disable or enable an inbox; ``None`` leaves a field as it is."""
    inbox = Inbox.objects.select_for_update().get(pk=inbox.pk, tenant_id=inbox.tenant_id)
    before = audit.snapshot(inbox, ("name", "is_active"))
    if name is not None:
        name = name.strip()
        if not name:
            raise ActionError("An inbox needs a name.")
        if len(name) > 100:
            raise ActionError("An inbox name has at most 100 characters.")
        inbox.name = name
    if is_active is not None:
        inbox.is_active = bool(is_active)
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


def clean_credentials(provider: str, credentials: dict) -> dict:
    """``credentials`` checked the way :func:`do_create_inbox` checks them for ``provider``."""
    if provider == Provider.ANYMAIL:
        return clean_anymail_credentials(credentials)
    if provider == Provider.TWILIO:
        return clean_twilio_credentials(credentials)
    raise ActionError(f"Unknown provider “{provider}”.")


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
    """The public URLs to paste into the provider's console for this inbox."""
    base = django_settings.PUBLIC_BASE_URL.rstrip("/")
    if inbox.provider == Provider.ANYMAIL:
        tracking = base + reverse("webhooks:anymail-tracking", args=[inbox.webhook_token])
        return {
            "inbound": base + reverse("webhooks:anymail-inbound", args=[inbox.webhook_token]),
            "status": tracking,
            "tracking": tracking,
        }
    return {
        "inbound": base + reverse("webhooks:twilio-inbound", args=[inbox.webhook_token]),
        "status": base + reverse("webhooks:twilio-status", args=[inbox.webhook_token]),
    }
