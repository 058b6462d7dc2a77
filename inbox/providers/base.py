"""The provider interface and the normalized objects that cross it.

A provider turns an :class:`OutboundMessage` into an API call (``send``) and a provider's
webhook request into normalized events (``parse``) after ``verify`` accepted it. Callers decide
retries from ``ProviderError.permanent`` and ``retry_after`` alone.

Besides the required methods, a provider may implement optional ones (:data:`OPTIONAL`): the
channels that come next need them (typing and read receipts both ways, iMessage availability,
catching up on events missed while we were down). Whether it does is :func:`supports`; nobody
compares provider names to find out.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol

# Providers raise it from here; the journal (in the core) catches it.
from omnichannel.webhooks import MalformedWebhook as MalformedWebhook


@dataclass(frozen=True)
class Capabilities:
    media: bool = False
    typing: bool = False
    read_receipts: bool = False
    # Outside this many hours since the contact last wrote, only templates may be sent.
    session_window_hours: int | None = None
    # The account can also send SMS itself (a Mac relaying through its paired iPhone): an
    # inbox setting may make that its fallback route instead of another inbox.
    sms_relay: bool = False
    # Messages per second a campaign sends at when the inbox sets no ``messages_per_second``
    # (None: CAMPAIGN_SENDER_RATE), for accounts that faster bulk sending would get flagged;
    # ``campaign_rate_why`` says so to the people who choose the sender.
    campaign_rate: float | None = None
    campaign_rate_why: str = ""


@dataclass(frozen=True)
class TemplateRef:
    """An approved provider template (a WhatsApp Content SID) and its variables."""

    content_sid: str
    variables: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class OutboundFile:
    """A stored file sent with the message (``name`` in the default storage)."""

    name: str
    filename: str
    content_type: str


@dataclass(frozen=True)
class OutboundMessage:
    """What a provider sends, whoever asked for it (an agent's reply, a campaign, a notification).

    ``recipient`` is the contact's address on the channel (E.164, an email address, an iMessage
    handle); ``thread_ref`` the provider's own conversation handle when there is one (a chat
    GUID, a WhatsApp JID, a bridged conversation id: stored on the conversation exactly as the
    provider gave it) and wins over ``recipient`` for providers that address threads.
    ``client_ref`` is our reference for providers that confirm a send later by echoing it
    (BlueBubbles' ``tempGuid``). ``channel`` is set when the message goes out on another
    channel than the inbox's own through the same account (SMS through a BlueBubbles Mac's
    relay, see ``Capabilities.sms_relay``).
    """

    recipient: str
    body: str = ""
    body_html: str = ""
    subject: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    cc: tuple[str, ...] = ()
    bcc: tuple[str, ...] = ()
    media_urls: tuple[str, ...] = ()
    files: tuple[OutboundFile, ...] = ()
    template: TemplateRef | None = None
    thread_ref: str = ""
    client_ref: str = ""
    channel: str = ""
    # The contact's ids in other systems (``Contact.external_ids``) and name, for providers
    # that keep contacts of their own (a bridged Chatwoot): a known id saves a search.
    contact_ids: Mapping[str, str] = field(default_factory=dict)
    contact_name: str = ""


@dataclass(frozen=True)
class ProviderResult:
    provider_message_id: str
    status: str  # one of Message.Status values
    raw: dict = field(default_factory=dict)
    # The OutboundMessage.client_ref the provider will echo when it confirms (late providers).
    client_ref: str = ""
    # The provider's thread the message went into when it chose one (a bridged conversation
    # it found or opened): kept on the conversation, so the next send addresses it directly.
    thread_ref: str = ""
    # Ids the provider found or made for the contact in its system (``{"chatwoot": "78"}``):
    # merged into ``Contact.external_ids``.
    contact_ids: Mapping[str, str] = field(default_factory=dict)


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

    @classmethod
    def from_http_status(
        cls,
        status: int,
        *,
        service: str,
        detail: str = "",
        code: str = "",
        retry_after: float | None = None,
    ) -> "ProviderError":
        """What an HTTP error answer to a send means, the same for every provider: 429 and
        5xx are retried (after ``retry_after`` when the provider said), 401/403 are the
        inbox's credentials, any other 4xx refuses this message for good."""
        code = code or str(status)
        if status == 429:
            return cls(
                f"{service} is rate limiting this account; the message will be retried.",
                code=code,
                permanent=False,
                retry_after=retry_after,
            )
        if status >= 500:
            return cls(
                f"{service} had a server error (HTTP {status}); the message will be retried.",
                code=code,
                permanent=False,
            )
        if status in (401, 403):
            return cls(
                f"{service} rejected this inbox's credentials (HTTP {status}); ask an admin to "
                "update them.",
                code=code,
                permanent=True,
            )
        detail = f": {detail}" if detail else ""
        return cls(
            f"{service} refused the message (HTTP {status}){detail}"[:500],
            code=code,
            permanent=True,
        )


class NotOnChannel(ProviderError):
    """The address cannot be reached on this provider's channel (not an iMessage user, no
    WhatsApp account): the send may go out on the inbox's fallback inbox instead."""

    def __init__(self, message: str, *, code: str = "not_on_channel") -> None:
        super().__init__(message, code=code, permanent=True)


class Unverified(Exception):
    """A webhook request that cannot be authenticated; the message says why (answered 403)."""


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
    # The provider's handle of the thread (a chat GUID…), kept on the conversation.
    thread_ref: str = ""
    # A group thread: the conversation is the thread's (``thread_ref``), not the sender's;
    # ``participants`` are its members' addresses and ``thread_name`` its name, if any.
    group: bool = False
    participants: tuple[str, ...] = ()
    thread_name: str = ""


@dataclass(frozen=True)
class StatusEvent:
    provider_message_id: str
    status: str  # one of Message.Status values
    error_code: str = ""
    error_message: str = ""  # the provider's code described for an agent
    metadata: dict = field(default_factory=dict)
    # The failure means the contact opted out of this sender (Twilio 21610: they replied STOP).
    opt_out: bool = False
    # The failure means the message did not go out on this channel (an iMessage that was not
    # delivered): it is sent again, once, on the inbox's fallback inbox when it has one.
    fall_back: bool = False


@dataclass(frozen=True)
class MessageEchoed:
    """A message our own account sent, as the provider reports it afterwards: one Centro
    sent (``client_ref`` echoed, or matched by its text while the send is still in flight),
    or one sent from another device of the account (the Mac, the phone), which the thread
    shows as outbound. ``status`` is what the provider says of it now."""

    external_id: str
    status: str
    recipient: str = ""  # the contact's address in a one-to-one thread
    body: str = ""
    client_ref: str = ""
    thread_ref: str = ""
    sent_at: datetime | None = None
    error_code: str = ""
    error_message: str = ""
    fall_back: bool = False
    media: tuple["InboundMedia", ...] = ()
    # The provider says it went out through its API (Evolution's ``send.message``), never
    # typed on a device: one that matches none of our sends is another app's, not stored.
    api_send: bool = False
    # What the provider says of who sent it (a bridged helpdesk's agent name…).
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TypingChanged:
    """The contact started or stopped typing in a thread."""

    sender: str
    typing: bool
    thread_ref: str = ""


@dataclass(frozen=True)
class ReadChanged:
    """The contact read (or marked unread) the thread up to now."""

    sender: str
    read: bool
    thread_ref: str = ""
    read_at: datetime | None = None


@dataclass(frozen=True)
class MessageEdited:
    """The contact edited a message (``body`` is the new text) or unsent it (``deleted``)."""

    external_id: str
    body: str = ""
    deleted: bool = False


@dataclass(frozen=True)
class ReactionAdded:
    """A reaction (an iMessage tapback, a WhatsApp emoji) on one of the thread's messages."""

    external_id: str  # the message reacted to
    sender: str
    reaction: str
    removed: bool = False


@dataclass(frozen=True)
class ConversationChanged:
    """A bridged conversation changed on the other side (status, assignee, labels)."""

    thread_ref: str
    status: str = ""
    changes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GroupChanged:
    """A group thread was renamed, or someone joined or left it. ``external_id`` is the
    provider's id of the change (a repeat is a no-op); ``participants`` the members it lists
    now, when it lists them."""

    RENAMED: ClassVar[str] = "renamed"
    ADDED: ClassVar[str] = "added"
    REMOVED: ClassVar[str] = "removed"
    LEFT: ClassVar[str] = "left"

    external_id: str
    thread_ref: str
    action: str
    actor: str = ""  # who made the change, when the provider says ("" for our own account)
    title: str = ""  # the new name, for a rename
    participants: tuple[str, ...] = ()
    at: datetime | None = None


@dataclass(frozen=True)
class MissedPage:
    """One page of what a provider recorded while we may not have been listening (``sync``):
    its events oldest first, how many records the page held (unreadable ones included: the
    next page starts after them) and the latest record's time (the next cursor)."""

    events: tuple["ProviderEvent", ...]
    count: int
    latest: datetime | None = None


# Everything ``parse`` may return.
ProviderEvent = (
    MessageReceived
    | StatusEvent
    | MessageEchoed
    | TypingChanged
    | ReadChanged
    | MessageEdited
    | ReactionAdded
    | ConversationChanged
    | GroupChanged
)


@dataclass(frozen=True)
class LinkState:
    """Where the link between the provider and the account's phone stands (WhatsApp Web's
    QR code pairing): what ``start_link`` and ``link_state`` answer and what a connection
    webhook reports. ``state`` is the provider's own word (Evolution's ``open``,
    ``connecting``, ``close``, ``refused``), ``qr_image`` a ``data:`` URL of a code to scan
    while pairing, ``lost`` a link that needs a person (logged out, the QR codes ran out)."""

    state: str
    connected: bool = False
    detail: str = ""
    qr_image: str = ""
    lost: bool = False


@dataclass(frozen=True)
class ConnectionCheck:
    """What "Test connection" found: ``ok`` and a sentence for the admin."""

    ok: bool
    detail: str


class Provider(Protocol):
    key: ClassVar[str]  # the registry key, stored on Inbox.provider
    label: ClassVar[str]
    kinds: ClassVar[tuple[str, ...]]  # the Channel values its inboxes may have
    capabilities: ClassVar[Capabilities]
    # The module whose EVENT_HANDLERS / ENDPOINTS route this provider's webhooks.
    webhooks: ClassVar[str]

    def prepare(self) -> None:
        """One-off set-up before a run of sends (a campaign worker calls it once)."""

    def send(self, message: OutboundMessage) -> ProviderResult: ...

    def verify(self, request, event_type: str = "") -> bool:
        """Whether the webhook request is authentic (may raise ``Unverified`` with why)."""

    def parse(self, request) -> list[ProviderEvent]: ...


class InboxProvider:
    """What every provider holds: the inbox it works for, and that inbox's decrypted
    credentials, read once per instance (a send reads several of them)."""

    # Whether one instance may send from several threads at once (sharing its HTTP
    # connections); a provider that keeps per-request state on itself says False.
    thread_safe = False

    def __init__(self, inbox) -> None:
        self.inbox = inbox

    def _credentials(self) -> dict:
        if not hasattr(self, "_creds"):
            self._creds = self.inbox.get_credentials()
        return self._creds

    def account(self) -> str:
        """What fails together when the provider is in trouble (a Twilio account, a
        BlueBubbles server): the campaign circuit breaker is keyed on it."""
        return str(self.inbox.option("account_sid", "") or self.inbox.address)


# Methods a provider may implement; :func:`supports` says whether it does.
OPTIONAL = (
    "send_typing",  # (thread_ref_or_address, typing: bool) -> None
    "mark_read",  # (thread_ref_or_address) -> None
    "check_availability",  # (address) -> bool: may this address be reached on the channel?
    "fetch_media",  # (url) -> (auth or None): how to download a media URL the provider gave
    # (a (user, password) pair or an httpx.Auth, given only for the provider's own hosts)
    "sync",  # (since: datetime, *, offset: int, limit: int) -> MissedPage: what we missed
    "register_webhooks",  # (urls: dict[str, str]) -> None
    "health",  # () -> ConnectionCheck: a cheap "is the server there?" for a periodic check
    "thread_service",  # (thread_ref) -> str: the service a thread is on, when it names one
    "start_link",  # () -> LinkState: pair the account's phone (a QR code to scan)
    "link_state",  # () -> LinkState: how the pairing stands now
    # (url, limit) -> (content, content type), or None for a URL that is not the provider's:
    # media the provider hands out through its own API call rather than a plain GET
    "download_media",
    # (thread_ref, status, snoozed_until: datetime | None) -> None: a bridged conversation's
    # status changed in Centro; tell the other side (Conversation.Status values)
    "push_status",
)


def supports(provider: object, capability: str) -> bool:
    """Whether ``provider`` implements the optional method ``capability``."""
    if capability not in OPTIONAL:
        raise ValueError(f"{capability!r} is not an optional provider method.")
    return callable(getattr(provider, capability, None))
