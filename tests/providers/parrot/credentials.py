"""Parrot's configuration: its server's URL and password."""

from collections.abc import Mapping

import httpx

from inbox.providers.base import ConnectionCheck
from inbox.providers.credentials import (
    CredentialSchema,
    Field,
    clean_api_base_url,
    clean_phone_address,
)
from omnichannel.actions import ActionError

FIELDS = [
    Field("server_url", "Server URL", required=True),
    Field("password", "Server password", required=True, secret=True),
]


class ParrotCredentials(CredentialSchema):
    description = "Parrot chat (a provider that exists only in the tests)."

    def fields(self, values: Mapping) -> list[Field]:
        return FIELDS

    def clean(self, values: Mapping) -> dict:
        cleaned = {key: str(values.get(key) or "").strip() for key in ("server_url", "password")}
        unknown = set(values) - set(cleaned)
        if unknown:
            raise ActionError(f"Unknown Parrot setting {', '.join(sorted(unknown))}.")
        for field in FIELDS:
            if not cleaned[field.key]:
                raise ActionError(f"The Parrot {field.key} is required.")
        cleaned["server_url"] = clean_api_base_url(cleaned["server_url"])
        return cleaned

    def clean_address(self, address: str, *, kind: str, tenant) -> str:
        return clean_phone_address(address, tenant)

    def test_connection(self, inbox) -> ConnectionCheck:
        credentials = inbox.get_credentials()
        try:
            response = httpx.get(
                f"{credentials['server_url']}/api/v1/ping",
                params={"password": credentials["password"]},
                timeout=5,
            )
        except httpx.HTTPError as exc:
            return ConnectionCheck(ok=False, detail=f"Parrot could not be reached: {exc}")
        if response.status_code != 200:
            return ConnectionCheck(ok=False, detail=f"Parrot answered {response.status_code}.")
        return ConnectionCheck(ok=True, detail="Parrot answered.")
