"""A Twilio inbox's configuration: account SID and auth token, optionally a Messaging Service
and another API host (the local simulator in the demo and the tests)."""

import re
from collections.abc import Mapping

from inbox.providers.base import ConnectionCheck, ProviderError
from inbox.providers.credentials import (
    CredentialSchema,
    Field,
    clean_api_base_url,
    clean_phone_address,
    mask_secret_id,
)
from omnichannel.actions import ActionError

ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")
MESSAGING_SERVICE_SID = re.compile(r"^MG[0-9a-fA-F]{32}$")

FIELDS = [
    Field(
        "account_sid",
        "Account SID",
        required=True,
        masked=True,
        help="“AC” and 32 characters, on the Twilio console's home page.",
    ),
    Field(
        "auth_token",
        "Auth token",
        required=True,
        secret=True,
        help="Next to the Account SID; rotating it here makes the old token's "
        "webhook signatures fail.",
    ),
    Field(
        "messaging_service_sid",
        "Messaging service SID",
        help="Optional: send through a Messaging Service (“MG…”) instead of the number.",
    ),
    Field(
        "api_base_url",
        "API base URL",
        help="Optional: another API host (the local simulator); empty for Twilio itself.",
    ),
]


class TwilioCredentials(CredentialSchema):
    description = "SMS and WhatsApp through a Twilio account."

    def fields(self, values: Mapping) -> list[Field]:
        return FIELDS

    def clean(self, values: Mapping) -> dict:
        """The credentials with surrounding blanks removed, or ActionError naming what is
        wrong."""
        if not isinstance(values, Mapping):
            raise ActionError(
                "Twilio credentials must be an object with account_sid and auth_token."
            )
        allowed = [field.key for field in FIELDS]
        unknown = sorted(set(values) - set(allowed))
        if unknown:
            raise ActionError(
                f"Unknown Twilio credential {', '.join(unknown)}; use {', '.join(allowed)}."
            )
        cleaned: dict[str, str] = {}
        for key, value in values.items():
            if value is None:
                continue
            if not isinstance(value, str):
                raise ActionError(f"The Twilio {key} must be text.")
            value = value.strip()
            if value:
                cleaned[key] = value
        for field in FIELDS:
            if field.required and field.key not in cleaned:
                raise ActionError(f"The Twilio {field.key} is required.")
        if not ACCOUNT_SID.match(cleaned["account_sid"]):
            raise ActionError(
                "The Twilio account_sid must be “AC” followed by 32 hexadecimal characters; "
                "copy it from the Twilio console."
            )
        token = cleaned["auth_token"]
        if any(ch.isspace() for ch in token) or len(token) > 200:
            raise ActionError("The Twilio auth_token looks wrong: copy it from the Twilio console.")
        sid = cleaned.get("messaging_service_sid")
        if sid is not None and not MESSAGING_SERVICE_SID.match(sid):
            raise ActionError(
                "The Twilio messaging_service_sid must be “MG” followed by 32 hexadecimal "
                "characters."
            )
        if "api_base_url" in cleaned:
            cleaned["api_base_url"] = clean_api_base_url(cleaned["api_base_url"])
        return cleaned

    def clean_address(self, address: str, *, kind: str, tenant) -> str:
        return clean_phone_address(address, tenant)

    def summary(self, cleaned: Mapping) -> dict:
        return {"account_sid": mask_secret_id(cleaned["account_sid"])}

    def test_connection(self, inbox) -> ConnectionCheck:
        """Fetch the account with the inbox's credentials (``GET /Accounts/{Sid}.json``)."""
        from inbox.providers.twilio.provider import TwilioProvider

        try:
            account = TwilioProvider(inbox).fetch_account()
        except ProviderError as exc:
            return ConnectionCheck(ok=False, detail=exc.message)
        name = account.get("friendly_name") or account.get("sid") or ""
        status = account.get("status") or "unknown"
        if status != "active":
            return ConnectionCheck(
                ok=False, detail=f"Twilio knows the account “{name}”, but it is {status}."
            )
        return ConnectionCheck(ok=True, detail=f"Connected to the Twilio account “{name}”.")
