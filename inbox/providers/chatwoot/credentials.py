"""A Chatwoot inbox's configuration: the Chatwoot a tenant already runs (its URL, an access
token, the account and the inbox Centro posts into), the secret of the webhooks Chatwoot
signs, and what the bridge does (switches read with ``inbox.option(<key>, False)``).

Blank URL, token, account or inbox fall back to the platform's Chatwoot
(``CHATWOOT_API_URL``, ``CHATWOOT_API_ACCESS_TOKEN``, ``CHATWOOT_ACCOUNT_ID``,
``CHATWOOT_INBOX_ID``) when it is configured. The URL passes the private-address guard like
any tenant-chosen host.

The inbox's address names the Chatwoot inbox: ``<host>#<account_id>/<inbox_id>`` (made from
the settings when the admin leaves it blank); a tenant cannot connect the same one twice.
"""

import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from django.conf import settings

from inbox.providers.base import ConnectionCheck, ProviderError
from inbox.providers.credentials import CredentialSchema, Field, clean_api_base_url
from omnichannel.actions import ActionError

# The switches: key -> (label, help, default when the form never said).
SWITCHES = {
    "notify": (
        "Notifications and campaigns through Chatwoot",
        "Lifecycle notifications and campaigns may go out through this Chatwoot inbox.",
    ),
    "mirror": (
        "Mirror Chatwoot conversations into Centro's inbox",
        "Conversations of the Chatwoot inbox show up in Centro's inbox, and replies go back.",
    ),
    "create_contacts": (
        "Create Centro contacts for unknown phones",
        "A Chatwoot conversation with a phone Centro does not know creates a contact (off: it "
        "is left out).",
    ),
    "allow_unsigned": (
        "Accept webhooks without signature headers (Chatwoot older than 4.12)",
        "Only for an old Chatwoot that does not sign its webhooks: the secret webhook URL is "
        "then the only proof a request came from it.",
    ),
}
# Settings that may come from the platform's Chatwoot: key -> the Django setting.
PLATFORM_DEFAULTS = {
    "api_url": "CHATWOOT_API_URL",
    "api_access_token": "CHATWOOT_API_ACCESS_TOKEN",
    "account_id": "CHATWOOT_ACCOUNT_ID",
    "inbox_id": "CHATWOOT_INBOX_ID",
}
# The text settings as a sentence names them.
NAMES = {
    "api_url": "Chatwoot URL",
    "api_access_token": "Chatwoot API access token",
    "account_id": "Chatwoot account id",
    "inbox_id": "Chatwoot inbox id",
    "webhook_secret": "Chatwoot webhook secret",
}
# Secrets an inbox may check a webhook against (verify tries each).
MAX_WEBHOOK_SECRETS = 5
TEXT_FIELDS = ("api_url", "api_access_token", "account_id", "inbox_id", "webhook_secret")
ADDRESS = re.compile(
    r"^(?P<host>[a-z0-9.\-\[\]:]+)#(?P<account>[1-9]\d{0,9})/(?P<inbox>[1-9]\d{0,9})$"
)
TRUE = ("1", "true", "on", "yes")


def platform_default(key: str) -> str:
    """The platform's value of a setting ("" when it has none)."""
    return str(getattr(settings, PLATFORM_DEFAULTS[key], "") or "").strip()


def _default_note(key: str) -> str:
    return " Leave blank to use the platform's Chatwoot." if platform_default(key) else ""


def chatwoot_address(api_url: str, account_id: str, inbox_id: str) -> str:
    """The inbox address of a Chatwoot inbox: ``<host[:port]>#<account_id>/<inbox_id>``."""
    return f"{urlsplit(api_url).netloc.lower()}#{account_id}/{inbox_id}"


class ChatwootCredentials(CredentialSchema):
    description = (
        "Your own Chatwoot: Centro posts notifications and campaigns into one of its inboxes "
        "and can mirror its conversations."
    )
    address_help = (
        "Leave blank: it is made from the settings as <host>#<account id>/<inbox id>, which "
        "names the Chatwoot inbox."
    )

    def fields(self, values: Mapping) -> list[Field]:
        return [
            Field(
                "api_url",
                "Chatwoot URL",
                required=not platform_default("api_url"),
                help="Where your Chatwoot runs, e.g. https://chatwoot.example.com."
                + _default_note("api_url"),
            ),
            Field(
                "api_access_token",
                "API access token",
                required=not platform_default("api_access_token"),
                secret=True,
                help="An agent's or agent bot's access token (Chatwoot → Profile settings → "
                "Access token), sent as the api_access_token header."
                + _default_note("api_access_token"),
            ),
            Field(
                "account_id",
                "Account id",
                required=not platform_default("account_id"),
                help="The number after /app/accounts/ in Chatwoot's address bar."
                + _default_note("account_id"),
            ),
            Field(
                "inbox_id",
                "Inbox id",
                required=not platform_default("inbox_id"),
                help="The Chatwoot inbox Centro posts into (an API channel inbox): the number "
                "after /inbox/ in its settings' address." + _default_note("inbox_id"),
            ),
            Field(
                "webhook_secret",
                "Webhook secret",
                secret=True,
                help="The secret Chatwoot shows for the webhook (or API inbox) that calls "
                "Centro; it signs every request. When both call, both secrets, separated by a "
                "comma.",
            ),
            *(
                Field(key, label, boolean=True, help=help)
                for key, (label, help) in SWITCHES.items()
            ),
        ]

    def clean(self, values: Mapping) -> dict:
        """The settings checked, blanks filled from the platform's Chatwoot; ActionError naming
        what is wrong."""
        if not isinstance(values, Mapping):
            raise ActionError(
                "Chatwoot settings must be an object with api_url, api_access_token, "
                "account_id and inbox_id."
            )
        allowed = [*TEXT_FIELDS, *SWITCHES]
        unknown = sorted(set(values) - set(allowed))
        if unknown:
            raise ActionError(
                f"Unknown Chatwoot setting {', '.join(unknown)}; use {', '.join(allowed)}."
            )
        labels = NAMES
        cleaned: dict = {}
        for key in TEXT_FIELDS:
            value = values.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                value = str(value)
            if value is not None and not isinstance(value, str):
                raise ActionError(f"The {labels[key]} must be text.")
            value = (value or "").strip()
            if not value and key in PLATFORM_DEFAULTS:
                value = platform_default(key)
            if not value and key != "webhook_secret":
                raise ActionError(f"The {labels[key]} is required.")
            if value:
                cleaned[key] = value
        for key in ("account_id", "inbox_id"):
            if not cleaned[key].isdigit() or int(cleaned[key]) < 1 or len(cleaned[key]) > 10:
                raise ActionError(f"The {labels[key]} is a positive number, like 1 or 42.")
            cleaned[key] = str(int(cleaned[key]))
        token = cleaned.get("api_access_token", "")
        if any(ch.isspace() for ch in token) or len(token) > 200:
            raise ActionError(
                f"The {labels['api_access_token']} has spaces or is too long: copy it again "
                "from Chatwoot."
            )
        # An account webhook and an API inbox sign with their own secrets: both may call.
        secrets = cleaned.get("webhook_secret", "").replace(",", " ").split()
        if len(secrets) > MAX_WEBHOOK_SECRETS or any(len(one) > 200 for one in secrets):
            raise ActionError(
                f"The {labels['webhook_secret']} is one secret copied from Chatwoot, or up to "
                f"{MAX_WEBHOOK_SECRETS} separated by commas (each at most 200 characters)."
            )
        if secrets:
            cleaned["webhook_secret"] = ",".join(secrets)
        cleaned["api_url"] = clean_api_base_url(cleaned["api_url"])
        for key in SWITCHES:
            flag = values.get(key)
            if isinstance(flag, str):
                flag = flag.strip().lower() in TRUE
            # Stored either way: "off" is an answer, not a missing value.
            cleaned[key] = bool(flag)
        return cleaned

    def default_address(self, cleaned: Mapping) -> str:
        return chatwoot_address(cleaned["api_url"], cleaned["account_id"], cleaned["inbox_id"])

    def clean_address(self, address: str, *, kind: str, tenant) -> str:
        text = (address or "").strip().lower()
        if not ADDRESS.match(text):
            raise ActionError(
                "A Chatwoot inbox's address is <host>#<account id>/<inbox id>, e.g. "
                "chatwoot.example.com#1/7; leave it blank to have it made from the settings."
            )
        return text

    def summary(self, cleaned: Mapping) -> dict:
        return {
            "api_url": cleaned.get("api_url", ""),
            "account_id": cleaned.get("account_id", ""),
            "inbox_id": cleaned.get("inbox_id", ""),
        }

    def test_connection(self, inbox) -> ConnectionCheck:
        """Who the token is (``GET /api/v1/profile``) and whether the account has the inbox
        (``GET …/inboxes/{id}``), in a sentence."""
        from inbox.providers.chatwoot.client import ChatwootClient

        try:
            client = ChatwootClient.for_inbox(inbox)
            profile = client.profile()
        except ProviderError as exc:
            return ConnectionCheck(ok=False, detail=exc.message)
        who = profile.get("name") or profile.get("email") or "an unnamed user"
        try:
            found = client.inbox()
        except ProviderError as exc:
            if exc.code == "404":
                return ConnectionCheck(
                    ok=False,
                    detail=f"The token works (it is {who}'s), but account {client.account_id} "
                    f"has no inbox {client.inbox_id}: check the inbox id.",
                )
            return ConnectionCheck(ok=False, detail=f"The token is {who}'s, but {exc.message}")
        name = found.get("name") or f"inbox {client.inbox_id}"
        kind = found.get("channel_type") or "an inbox"
        return ConnectionCheck(
            ok=True,
            detail=f"Connected to Chatwoot as {who}: account {client.account_id}, inbox "
            f"“{name}” ({kind}).",
        )
