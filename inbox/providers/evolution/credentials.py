"""An Evolution API inbox's configuration: the instance's URL and name, its API key and the
secret its webhooks carry.

Evolution runs on the tenant's (or our) server, often on a private network: its URL passes
the private-address guard like any tenant-chosen host. The webhook secret is Centro's: it is
registered with the instance as a header of every webhook (Evolution signs nothing).
"""

import re
import secrets
from collections.abc import Mapping

from inbox.providers.base import ConnectionCheck, ProviderError
from inbox.providers.credentials import (
    CredentialSchema,
    Field,
    clean_api_base_url,
    clean_phone_address,
)
from omnichannel.actions import ActionError

# Evolution's instance names end up in URL paths: keep them to what its manager allows.
INSTANCE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")

FIELDS = [
    Field(
        "instance_url",
        "Evolution API URL",
        required=True,
        help="The Evolution API server's address, e.g. https://evolution.example.com or "
        "http://10.0.0.5:8080.",
    ),
    Field(
        "instance_name",
        "Instance name",
        required=True,
        help="The instance of this WhatsApp number, as named in Evolution (letters, digits, "
        "dot, dash, underscore).",
    ),
    Field(
        "api_key",
        "API key",
        required=True,
        secret=True,
        help="The instance's token (or the server's global key), sent as the apikey header.",
    ),
    Field(
        "webhook_secret",
        "Webhook secret",
        secret=True,
        help="Sent by Evolution with every webhook; Centro makes one up and registers it with "
        "the instance when you connect.",
    ),
]


class EvolutionCredentials(CredentialSchema):
    description = "WhatsApp through an Evolution API instance (pair a phone by its QR code)."

    def fields(self, values: Mapping) -> list[Field]:
        return FIELDS

    def clean(self, values: Mapping) -> dict:
        """The settings with surrounding blanks removed, or ActionError naming what is wrong."""
        if not isinstance(values, Mapping):
            raise ActionError(
                "Evolution settings must be an object with instance_url, instance_name and api_key."
            )
        allowed = [field.key for field in FIELDS]
        unknown = sorted(set(values) - set(allowed))
        if unknown:
            raise ActionError(
                f"Unknown Evolution setting {', '.join(unknown)}; use {', '.join(allowed)}."
            )
        cleaned: dict = {}
        for field in FIELDS:
            value = values.get(field.key)
            if value is not None and not isinstance(value, str):
                raise ActionError(f"The Evolution {field.label.lower()} must be text.")
            value = (value or "").strip()
            if field.required and not value:
                raise ActionError(f"The Evolution {field.label.lower()} is required.")
            if value:
                cleaned[field.key] = value
        if not INSTANCE_NAME.fullmatch(cleaned["instance_name"]):
            raise ActionError(
                "The instance name may only have letters, digits, dots, dashes and underscores."
            )
        for key in ("api_key", "webhook_secret"):
            value = cleaned.get(key, "")
            if any(ch.isspace() for ch in value) or len(value) > 200:
                raise ActionError(
                    f"The Evolution {key.replace('_', ' ')} has spaces or is too long."
                )
        cleaned["instance_url"] = clean_api_base_url(cleaned["instance_url"])
        return cleaned

    def generate(self, values: Mapping) -> dict:
        """The webhook secret when none is given (registered with the instance on connect)."""
        if values.get("webhook_secret"):
            return {}
        return {"webhook_secret": secrets.token_urlsafe(32)}

    def clean_address(self, address: str, *, kind: str, tenant) -> str:
        return clean_phone_address(address, tenant)

    def summary(self, cleaned: Mapping) -> dict:
        return {
            "instance_url": cleaned.get("instance_url", ""),
            "instance_name": cleaned.get("instance_name", ""),
        }

    def test_connection(self, inbox) -> ConnectionCheck:
        """Ask for the instance's connection state with the API key."""
        from inbox.providers.evolution.provider import EvolutionProvider

        try:
            state = EvolutionProvider(inbox).link_state()
        except ProviderError as exc:
            return ConnectionCheck(ok=False, detail=exc.message)
        return ConnectionCheck(ok=True, detail=f"Reached the instance: {state.detail}")
