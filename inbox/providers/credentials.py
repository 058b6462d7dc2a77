"""What a provider's inboxes are configured with: a schema per provider.

Each provider package has a ``credentials.py`` with a :class:`CredentialSchema`: the fields an
admin fills in (which are secret, which are shown masked), how they are checked, how the inbox
address is checked, and "test connection". Settings → Channels, ``create_inbox``, the API and
the Django admin all go through it, so an inbox is validated the same way wherever it is made.
Checks raise ``ActionError`` with a sentence the admin can act on.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from contacts.phones import InvalidPhone, normalize_phone
from omnichannel.actions import ActionError
from omnichannel.outbound import UnsafeURL, check_public_url


@dataclass(frozen=True)
class Field:
    key: str
    label: str
    required: bool = False
    secret: bool = False  # write-only: never shown back, blank keeps the stored value
    masked: bool = False  # shown masked (``AC…cdef``), blank keeps it too
    boolean: bool = False
    help: str = ""
    # (value, label) pairs: a choice, on which the other fields may depend (``fields(values)``)
    choices: tuple[tuple[str, str], ...] = ()


class CredentialSchema:
    """The base: subclasses give ``fields`` and extend ``clean``."""

    # Shown where an admin chooses the provider.
    description: str = ""

    def fields(self, values: Mapping) -> list[Field]:
        """The fields for an inbox with these (stored or submitted) values; a provider whose
        fields depend on a choice (the email service) reads it from ``values``."""
        raise NotImplementedError

    def clean(self, values: Mapping) -> dict:
        """The values, checked and normalized; ``ActionError`` naming what is wrong."""
        raise NotImplementedError

    def clean_address(self, address: str, *, kind: str, tenant) -> str:
        """The inbox's own address, checked for ``kind``; ``ActionError`` when unusable."""
        raise NotImplementedError

    def default_address(self, cleaned: Mapping) -> str:
        """The inbox's address when the admin gives none, made from the cleaned settings (a
        provider whose address names its account, not a phone); "" when there is none."""
        return ""

    def generate(self, values: Mapping) -> dict:
        """Secrets Centro makes up when the admin gives none (shown to them once)."""
        return {}

    def summary(self, cleaned: Mapping) -> dict:
        """What the audit row may say about the credentials (never a secret)."""
        return {}

    def test_connection(self, inbox):
        """Call the provider with the inbox's credentials; a ``ConnectionCheck``."""
        raise NotImplementedError


def clean_api_base_url(value: str) -> str:
    """An http(s) API base URL with a host, nothing else, that passes the SSRF guard."""
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


def clean_phone_address(address: str, tenant) -> str:
    """An inbox address that is a phone number, as E.164 (the tenant's region for national
    numbers); ``ActionError`` when it is not usable."""
    try:
        return normalize_phone(address, tenant.default_region)
    except InvalidPhone as exc:
        raise ActionError(f"The inbox address is not usable: {exc}") from exc


def mask_secret_id(value: str) -> str:
    """``AC…cdef``: enough to recognise an account, not to use it."""
    if len(value) <= 8:
        return "…"
    return f"{value[:2]}…{value[-4:]}"
