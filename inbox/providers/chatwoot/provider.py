"""Chatwoot as a channel: Centro posts into one inbox of a Chatwoot the tenant already runs
(notifications, campaigns, replies), through its Application API (:mod:`.client`).

A send names the Chatwoot conversation when Centro's conversation knows it (its
``external_thread_id`` is the Chatwoot display id): one call. Otherwise the recipient is a
phone: the Chatwoot contact is the one Centro stored (``Contact.external_ids["chatwoot"]``,
checked to still be that phone), else the one Chatwoot has with exactly that phone, else a new
one; its open conversation in the configured inbox, else a new one; then the message. The
result names both (``thread_ref``, ``contact_ids``), which the send action keeps, so the next
send to that contact is one call again.

Loop marker (the contract with the webhook side, :mod:`inbox.providers.chatwoot.events`):
every message Centro posts carries ``source_id = "centro:<ref>"`` (the delivery's client
reference, or a random one), and its ``provider_message_id`` is Chatwoot's message id.
Chatwoot fires ``message_created`` back for it; the webhook side knows it as our echo.
A status change in Centro goes to the conversation too (``push_status``).
"""

import uuid
from datetime import datetime

from contacts.phones import InvalidPhone, normalize_phone
from inbox.models import Message
from inbox.providers.base import (
    Capabilities,
    InboxProvider,
    OutboundMessage,
    ProviderError,
    ProviderResult,
)
from inbox.providers.chatwoot import events
from inbox.providers.chatwoot.client import ChatwootClient
from inbox.providers.chatwoot.credentials import ChatwootCredentials
from omnichannel.channels import Channel

# The prefix of the source_id of every message Centro posts (its echo is recognised by it).
SOURCE_PREFIX = "centro:"
# Conversations a send may continue (a resolved one is left closed: a new one is opened).
ACTIVE_STATUSES = ("open", "pending", "snoozed")


def source_id_for(message: OutboundMessage) -> str:
    """The ``source_id`` a message is posted with: ``centro:`` and our reference."""
    return SOURCE_PREFIX + (message.client_ref or uuid.uuid4().hex)[:100]


class ChatwootProvider(InboxProvider):
    key = "chatwoot"
    label = "Chatwoot"
    kinds = (Channel.CHATWOOT,)
    credentials = ChatwootCredentials()
    # Written by the webhook side: EVENT_HANDLERS / ENDPOINTS of Chatwoot's webhooks.
    webhooks = "inbox.webhooks.chatwoot"
    capabilities = Capabilities()
    # Holds nothing per request: one instance may send from several threads at once.
    thread_safe = True

    def client(self) -> ChatwootClient:
        if not hasattr(self, "_client"):
            self._client = ChatwootClient.for_inbox(self.inbox)
        return self._client

    def prepare(self) -> None:
        self.client().require_inbox_id()  # refused up front, not at every send

    def account(self) -> str:
        """The Chatwoot account: what fails together (the campaign breaker's key)."""
        creds = self._credentials()
        return f"{creds.get('api_url', '')}#{creds.get('account_id', '')}"

    # --- sending ------------------------------------------------------------------------------

    def send(self, message: OutboundMessage) -> ProviderResult:
        body = message.body.strip()
        if not body:
            raise ProviderError(
                "Chatwoot messages from Centro are text: this one has none.",
                code="empty",
                permanent=True,
            )
        if message.media_urls or message.files:
            raise ProviderError(
                "Centro does not send attachments through Chatwoot yet; send the text alone.",
                code="media",
                permanent=True,
            )
        client = self.client()
        source_id = source_id_for(message)
        if message.thread_ref:
            try:
                posted = client.create_message(
                    message.thread_ref, message.body, source_id=source_id
                )
                return self._result(posted, message.thread_ref)
            except ProviderError as exc:
                # The conversation was deleted in Chatwoot: the contact's current one (or a
                # new one) takes its place on Centro's conversation.
                if exc.code != "404" or not message.recipient:
                    raise
        phone = self._phone(message.recipient)
        contact = self._contact(client, phone, message)
        contact_id = str(contact["id"])
        conversation_id = self._conversation(client, contact_id)
        posted = client.create_message(conversation_id, message.body, source_id=source_id)
        return self._result(posted, conversation_id, {self.key: contact_id})

    def _result(
        self, posted: dict, conversation_id: str, contact_ids: dict | None = None
    ) -> ProviderResult:
        return ProviderResult(
            provider_message_id=str(posted["id"]),
            status=Message.Status.SENT,
            raw={"conversation_id": conversation_id, "source_id": posted.get("source_id")},
            thread_ref=str(conversation_id),
            contact_ids=contact_ids or {},
        )

    def _phone(self, recipient: str) -> str:
        try:
            return normalize_phone(recipient, self.inbox.tenant.default_region)
        except InvalidPhone as exc:
            raise ProviderError(
                f"Chatwoot contacts are found by phone, and {recipient[:60]!r} is not one: {exc}",
                code="recipient",
                permanent=True,
            ) from exc

    def _contact(self, client: ChatwootClient, phone: str, message: OutboundMessage) -> dict:
        """The Chatwoot contact of ``phone``: the stored one when it still has that phone
        (another Chatwoot account may have stored it), else found by phone, else created."""
        stored = str(message.contact_ids.get(self.key, "")).strip()
        if stored.isdigit():
            try:
                known = client.contact(stored)
            except ProviderError as exc:
                if exc.code != "404":
                    raise
                known = {}
            if _same_phone(known.get("phone_number"), phone):
                return known
        found = client.find_contact_by_phone(phone)
        if found is not None:
            return found
        return client.create_contact(name=message.contact_name or phone, phone=phone)

    def _conversation(self, client: ChatwootClient, contact_id: str) -> str:
        """The contact's latest active conversation in the configured inbox, else a new one."""
        inbox_id = client.require_inbox_id()
        candidates = [
            conversation
            for conversation in client.contact_conversations(contact_id)
            if str(conversation.get("inbox_id")) == inbox_id
            and conversation.get("status") in ACTIVE_STATUSES
            and conversation.get("id")
        ]
        if candidates:
            latest = max(candidates, key=lambda c: (_number(c.get("last_activity_at")), c["id"]))
            return str(latest["id"])
        return str(client.create_conversation(contact_id)["id"])

    def push_status(
        self, thread_ref: str, status: str, snoozed_until: datetime | None = None
    ) -> None:
        """Set the Chatwoot conversation ``thread_ref`` to what Centro's ``status`` is there;
        ``ProviderError`` (``permanent`` when retrying cannot help)."""
        word = events.STATUS_TO_CHATWOOT.get(status)
        if word is None:
            raise ProviderError(
                f"Centro's status “{status}” has no Chatwoot match.", permanent=True
            )
        until = int(snoozed_until.timestamp()) if snoozed_until is not None else None
        self.client().toggle_status(thread_ref, word, snoozed_until=until)

    # --- webhooks (inbox.webhooks.chatwoot) ----------------------------------------------------

    def verify(self, request, event_type: str = "") -> bool:
        return events.verify(self, request, event_type)

    def parse(self, request) -> list:
        return events.parse(self, request)


def _same_phone(value, phone: str) -> bool:
    if not isinstance(value, str) or not value:
        return False
    try:
        return normalize_phone(value, "") == phone
    except InvalidPhone:
        return False


def _number(value) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0
