"""An email inbox's configuration: the ESP (or SMTP server) it sends through, that service's
credentials, and the secrets anymail checks the inbound and tracking webhooks with."""

import re
import secrets
from collections.abc import Mapping

from django.conf import settings as django_settings

from contacts.actions import InvalidEmail, clean_email
from inbox.providers.base import ConnectionCheck, ProviderError
from inbox.providers.credentials import CredentialSchema, Field, clean_api_base_url
from omnichannel.actions import ActionError
from omnichannel.outbound import UnsafeURL, check_public_url

# Credentials of an email inbox besides the ESP's own (inbox.providers.anymail.provider.ESPS).
COMMON = ("esp", "webhook_secret", "webhook_signing_key", "webhook_esp")
WEBHOOK_SECRET = re.compile(r"^[^:\s]+:[^\s]+$")
# ESPs whose webhooks carry a signature anymail checks with this key.
SIGNING_KEY_ESPS = ("mailgun",)
SECRET_KEYS = frozenset(
    {"server_token", "api_key", "secret_key", "password", "webhook_secret", "webhook_signing_key"}
)
BOOLEAN_KEYS = frozenset({"use_tls", "use_ssl"})
LABELS = {
    "esp": "Email service",
    "webhook_secret": "Webhook secret (user:password)",
    "webhook_signing_key": "Webhook signing key",
    "webhook_esp": "Email service that calls the webhooks",
    "server_token": "Server token",
    "api_key": "API key",
    "secret_key": "Secret key",
    "api_url": "API URL",
    "sender_domain": "Sender domain",
    "host": "SMTP host",
    "port": "SMTP port",
    "username": "SMTP user name",
    "password": "SMTP password",
    "use_tls": "Use STARTTLS",
    "use_ssl": "Use SSL",
    "timeout": "Timeout (seconds)",
}


def _field(key: str, required: bool) -> Field:
    return Field(
        key,
        LABELS.get(key, key.replace("_", " ").capitalize()),
        required=required,
        secret=key in SECRET_KEYS,
        boolean=key in BOOLEAN_KEYS,
    )


def _typed_option(key: str, value) -> bool:
    """Whether a non-text credential value has the type its key takes."""
    if key in ("port", "timeout"):
        return isinstance(value, int) and not isinstance(value, bool)
    if key in ("use_tls", "use_ssl"):
        return isinstance(value, bool)
    return key in ("session_params", "client_params") and isinstance(value, dict)


def esp_choices() -> list[tuple[str, str]]:
    """The email services an admin may choose (anymail's test backend only in DEBUG/tests)."""
    from inbox.providers.anymail.provider import ESPS

    testing = django_settings.DEBUG or django_settings.TESTING
    return [(name, esp.label) for name, esp in ESPS.items() if name != "test" or testing]


class AnymailCredentials(CredentialSchema):
    description = "Email through an email service (Postmark, Mailgun, SendGrid…) or SMTP."

    def fields(self, values: Mapping) -> list[Field]:
        """The chosen ESP's required and optional settings, then the webhook secrets."""
        from inbox.providers.anymail.provider import ESPS

        esp = ESPS.get(str(values.get("esp") or ""))
        required = esp.required if esp else ()
        optional = esp.optional if esp else ()
        common = [key for key in COMMON if key != "esp"]
        choice = Field(
            "esp",
            LABELS["esp"],
            required=True,
            choices=tuple(esp_choices()),
            help="The other fields are that service's settings.",
        )
        return (
            [choice]
            + [_field(key, True) for key in required]
            + [_field(key, False) for key in optional]
            + [_field(key, key == "webhook_secret") for key in common]
        )

    def clean(self, values: Mapping) -> dict:
        """An email inbox's ESP settings, checked: a known ESP with what it requires, the
        webhook secret as ``user:password``, API URLs and SMTP hosts that pass the SSRF
        guard."""
        from inbox.providers.anymail.esps import WEBHOOK_VIEWS
        from inbox.providers.anymail.provider import ESPS

        if not isinstance(values, Mapping):
            raise ActionError("Email credentials must be an object with at least an esp.")
        esp_name = str(values.get("esp") or "").strip()
        esp = ESPS.get(esp_name)
        if esp is None or esp_name not in dict(esp_choices()):
            choices = ", ".join(n for n in ESPS if n != "test")
            raise ActionError(f"Unknown email service “{esp_name}”; use one of {choices}.")
        allowed = {*COMMON, *esp.required, *esp.optional}
        unknown = sorted(set(values) - allowed)
        if unknown:
            raise ActionError(
                f"Unknown {esp.label} setting {', '.join(unknown)}; use "
                f"{', '.join(sorted(allowed))}."
            )
        cleaned: dict = {}
        for key, value in values.items():
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
            _clean_smtp(cleaned)
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

    def generate(self, values: Mapping) -> dict:
        """A webhook secret when none is given (it goes into the ESP's webhook URLs)."""
        if values.get("webhook_secret"):
            return {}
        return {"webhook_secret": f"centro:{secrets.token_urlsafe(24).replace(':', '')}"}

    def clean_address(self, address: str, *, kind: str, tenant) -> str:
        try:
            return clean_email(address)
        except InvalidEmail as exc:
            raise ActionError(f"The inbox address is not usable: {exc}") from exc

    def summary(self, cleaned: Mapping) -> dict:
        return {"esp": cleaned.get("esp")}

    def test_connection(self, inbox) -> ConnectionCheck:
        """Log in to the SMTP server, or ask the ESP's API who the key belongs to."""
        from inbox.providers.anymail.provider import AnymailProvider

        try:
            detail = AnymailProvider(inbox).check_connection()
        except ProviderError as exc:
            return ConnectionCheck(ok=False, detail=exc.message)
        return ConnectionCheck(ok=True, detail=detail)


def _clean_smtp(cleaned: dict) -> None:
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
