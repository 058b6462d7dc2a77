"""A BlueBubbles inbox's configuration: the server's URL and password.

The server runs on a Mac of the tenant's, often on their own network: its URL passes the
private-address guard like any tenant-chosen host (``ALLOW_PRIVATE_PROVIDER_HOSTS`` lets a
development machine reach one on the LAN or loopback).
"""

from collections.abc import Mapping

from inbox.providers.base import ConnectionCheck, ProviderError
from inbox.providers.credentials import (
    CredentialSchema,
    Field,
    clean_api_base_url,
    clean_phone_address,
)
from omnichannel.actions import ActionError

FIELDS = [
    Field(
        "server_url",
        "Server URL",
        required=True,
        help="The BlueBubbles server's address, e.g. https://bluebubbles.example.com or "
        "http://192.168.1.20:1234 (its default port is 1234).",
    ),
    Field(
        "password",
        "Server password",
        required=True,
        secret=True,
        help="The password set in the BlueBubbles server's settings.",
    ),
    Field(
        "webhook_password",
        "Webhooks carry the server password",
        boolean=True,
        help="Also require ?password=<server password> on the webhook URL (add it to the URL "
        "you register in BlueBubbles).",
    ),
]


class BlueBubblesCredentials(CredentialSchema):
    description = "iMessage through a BlueBubbles server on a Mac."

    def fields(self, values: Mapping) -> list[Field]:
        return FIELDS

    def clean(self, values: Mapping) -> dict:
        """The settings with surrounding blanks removed, or ActionError naming what is wrong."""
        if not isinstance(values, Mapping):
            raise ActionError(
                "BlueBubbles settings must be an object with server_url and password."
            )
        allowed = [field.key for field in FIELDS]
        unknown = sorted(set(values) - set(allowed))
        if unknown:
            raise ActionError(
                f"Unknown BlueBubbles setting {', '.join(unknown)}; use {', '.join(allowed)}."
            )
        cleaned: dict = {}
        for key in ("server_url", "password"):
            value = values.get(key)
            if value is not None and not isinstance(value, str):
                raise ActionError(f"The BlueBubbles {key} must be text.")
            value = (value or "").strip()
            if not value:
                raise ActionError(f"The BlueBubbles {key} is required.")
            cleaned[key] = value
        if any(ch.isspace() for ch in cleaned["password"]) or len(cleaned["password"]) > 200:
            raise ActionError(
                "The BlueBubbles password has spaces or is too long: copy it from the server's "
                "settings."
            )
        cleaned["server_url"] = clean_api_base_url(cleaned["server_url"])
        flag = values.get("webhook_password")
        if flag not in (None, ""):
            if isinstance(flag, str):
                flag = flag.strip().lower() in ("1", "true", "on", "yes")
            cleaned["webhook_password"] = bool(flag)
        return cleaned

    def clean_address(self, address: str, *, kind: str, tenant) -> str:
        return clean_phone_address(address, tenant)

    def summary(self, cleaned: Mapping) -> dict:
        return {"server_url": cleaned.get("server_url", "")}

    def test_connection(self, inbox) -> ConnectionCheck:
        """Ask the server about itself (``GET /api/v1/server/info``) with the password."""
        from inbox.providers.bluebubbles.provider import BlueBubblesProvider

        try:
            info = BlueBubblesProvider(inbox).server_info(fresh=True)
        except ProviderError as exc:
            return ConnectionCheck(ok=False, detail=exc.message)
        version = info.get("server_version") or "unknown"
        macos = info.get("os_version") or "unknown"
        if info.get("private_api") and info.get("helper_connected"):
            extra = "the Private API is connected (typing, read receipts and availability work)"
        else:
            extra = (
                "the Private API is not connected, so typing, read receipts and the iMessage "
                "availability check are off"
            )
        return ConnectionCheck(
            ok=True,
            detail=f"Connected to BlueBubbles {version} on macOS {macos}; {extra}.",
        )
