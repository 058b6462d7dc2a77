"""The provider interface and the normalized objects that cross it.

A provider turns our ``Message`` into an API call (``send``) and a provider's webhook request
into normalized events (``parse_inbound`` / ``parse_status``) after ``verify`` accepted it.
Callers decide retries from ``ProviderError.permanent`` and ``retry_after`` alone.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class Capabilities:
    media: bool = False
    typing: bool = False
    read_receipts: bool = False
    # Outside this many hours since the contact last wrote, only templates may be sent.
    session_window_hours: int | None = None


@dataclass(frozen=True)
class ProviderResult:
    provider_message_id: str
    status: str  # one of Message.Status values
    raw: dict = field(default_factory=dict)


class ProviderError(Exception):
    """A send that did not happen. ``permanent`` errors must not be retried."""

    def __init__(
        self,
        message: str,
        *,
        code: str = "",
        permanent: bool,
        retry_after: float | None = None,
        opt_out: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.permanent = permanent
        self.retry_after = retry_after
        self.opt_out = opt_out


class MalformedWebhook(ValueError):
    """A verified request whose content we cannot use; the message says what is wrong."""


@dataclass(frozen=True)
class InboundMedia:
    """An attachment: a ``url`` to fetch after commit (Twilio media), or its ``content`` in
    hand (an email part, with its ``filename`` and the ``content_id`` its HTML names)."""

    url: str
    content_type: str
    content: bytes | None = None
    filename: str = ""
    content_id: str = ""


@dataclass(frozen=True)
class MessageReceived:
    """One message a contact sent to an inbox, whatever the channel.

    ``external_id`` is the provider's id for it and the dedupe key (Twilio's MessageSid, an
    email's RFC Message-ID). ``sender`` is the contact's address: E.164 (channel prefixes
    removed) or an email address. The email fields name the thread (``in_reply_to`` and
    ``references`` hold ``<id>`` Message-IDs) and who else the email went to.
    """

    external_id: str
    sender: str
    recipient: str  # our address (an email's first To address)
    body: str
    profile_name: str = ""  # the sender's name: a WhatsApp profile, an email display name
    media: tuple[InboundMedia, ...] = ()
    received_at: datetime | None = None
    metadata: dict = field(default_factory=dict)
    subject: str = ""
    html: str = ""
    in_reply_to: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()


@dataclass(frozen=True)
class StatusEvent:
    provider_message_id: str
    status: str  # one of Message.Status values
    error_code: str = ""
    error_message: str = ""
    metadata: dict = field(default_factory=dict)


class Provider(Protocol):
    capabilities: Capabilities

    def prepare(self) -> None:
        """One-off set-up before a run of sends (a campaign worker calls it once)."""

    def send(self, message, *, recipient: str) -> ProviderResult: ...

    def verify(self, request) -> bool: ...

    def parse_inbound(self, params) -> list[MessageReceived]: ...

    def parse_status(self, params) -> StatusEvent: ...
