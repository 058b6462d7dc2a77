"""A stand-in for the Chatwoot provider class while it is written elsewhere (the sending
side's branch): the real class delegates ``verify``/``parse`` to
``inbox.providers.chatwoot.events`` and ``push_status`` to the Chatwoot API exactly like this.
Registered by the ``chatwoot_registered`` fixture only; the registry's entry, if any, comes
back afterwards."""

from collections.abc import Mapping

from inbox.providers.base import Capabilities, InboxProvider
from inbox.providers.chatwoot import events, status_sync
from inbox.providers.credentials import CredentialSchema, Field
from omnichannel.channels import Channel

FIELDS = [
    Field("api_url", "Chatwoot URL", required=True),
    Field("api_access_token", "Access token", required=True, secret=True),
    Field("account_id", "Account id", required=True),
    Field("inbox_id", "Inbox id", required=True),
    Field("webhook_secret", "Webhook secret", secret=True),
]


class Credentials(CredentialSchema):
    description = "Chatwoot (the test stand-in's fields)."

    def fields(self, values: Mapping) -> list[Field]:
        return FIELDS


class Provider(InboxProvider):
    key = "chatwoot"
    label = "Chatwoot"
    kinds = (Channel.CHATWOOT,)
    webhooks = "inbox.webhooks.chatwoot"
    capabilities = Capabilities()
    credentials = Credentials()

    def verify(self, request, event_type: str = "") -> bool:
        return events.verify(self, request, event_type)

    def parse(self, request) -> list:
        return events.parse(self, request)

    def push_status(self, thread_ref: str, status: str, snoozed_until=None) -> None:
        status_sync.push_status(self, thread_ref, status, snoozed_until)
