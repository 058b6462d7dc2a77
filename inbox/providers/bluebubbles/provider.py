"""iMessage through a BlueBubbles server (a Mac running Messages): REST calls with the server
password as a query parameter, and one webhook URL that receives every event type.

Facts behind this module: ../shared/providers/bluebubbles.md (routes, GUIDs, payloads, the
``tempGuid`` echoes, deriving status, pitfalls). The Mac answers a send only once Messages has
recorded it (up to two minutes), and an unanswered send may still have gone out, so a send
that times out is never retried: its outcome is recorded as unknown.
"""

import hmac
import json
import logging
import uuid
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

import httpx
from django.core.cache import cache
from django.core.files.storage import default_storage

from contacts.phones import InvalidPhone, normalize_phone
from inbox.models import Message
from inbox.providers.base import (
    Capabilities,
    ConnectionCheck,
    GroupChanged,
    InboundMedia,
    InboxProvider,
    MalformedWebhook,
    MessageEchoed,
    MessageEdited,
    MessageReceived,
    MissedPage,
    NotOnChannel,
    OutboundMessage,
    ProviderError,
    ProviderResult,
    ReactionAdded,
    ReadChanged,
    TypingChanged,
    Unverified,
)
from inbox.providers.bluebubbles.credentials import BlueBubblesCredentials
from inbox.providers.server_http import server_request
from omnichannel.channels import Channel
from omnichannel.text import clean_text

logger = logging.getLogger(__name__)

SERVICE = "BlueBubbles"
# A text send waits for Messages to record it (the server's own limit is 120 s).
SEND_TIMEOUT = httpx.Timeout(130.0, connect=10.0)
# Attachments: the server waits up to 20 minutes; we wait as long as a worker reasonably can.
ATTACHMENT_TIMEOUT = httpx.Timeout(600.0, connect=10.0)
CALL_TIMEOUT = httpx.Timeout(15.0, connect=5.0)
# How long what /server/info said (is the Private API there?) is believed.
SERVER_INFO_TTL = 300
# Error codes the Mac records on a message that mean "this address has no iMessage".
NOT_ON_IMESSAGE_ERRORS = frozenset({22})
ERROR_SENTENCES = {
    4: "iMessage timed out sending the message.",
    22: "The recipient is not registered with iMessage.",
}
# Tapbacks as BlueBubbles names them, and what the inbox shows.
TAPBACKS = {
    "love": "❤️",
    "like": "👍",
    "dislike": "👎",
    "laugh": "😂",
    "emphasize": "‼️",
    "question": "❓",
}
GROUP_STYLE = 43
# A message's itemType: 0 is a message; 1-3 are group changes (with groupActionType), by
# MessagePoller.handleGroupChanges; icon changes (3 with 1 or 2) are not shown.
GROUP_ACTIONS = {
    (1, 0): GroupChanged.ADDED,
    (1, 1): GroupChanged.REMOVED,
    (2, None): GroupChanged.RENAMED,
    (3, 0): GroupChanged.LEFT,
}
# How many messages one page of catching up reads (the route allows 1000).
SYNC_PAGE = 100
# A campaign's default pace: one message every 3 seconds. Apple flags an Apple ID that sends
# in bulk; an inbox's ``messages_per_second`` setting changes it.
CAMPAIGN_RATE = 1 / 3
UNKNOWN_OUTCOME = (
    "The Mac did not confirm this message in time, so it may or may not have gone out. It is "
    "not sent again automatically: check the conversation on the Mac before resending."
)


def error_sentence(code: int) -> str:
    return ERROR_SENTENCES.get(code, f"iMessage reported error {code} for this message.")


def chat_service(chat_guid: str) -> str:
    """``SMS`` or ``iMessage``: what a chat GUID's prefix says (anything but SMS/RCS is
    iMessage, as in the official app, including macOS 26's ``any;``)."""
    prefix = chat_guid.split(";", 1)[0]
    return prefix if prefix in ("SMS", "RCS") else "iMessage"


def dm_guid(address: str, service: str) -> str:
    """A one-to-one chat's GUID (``SMS;-;+1555…``), only for a chat we start: an existing
    chat's is stored exactly as the server gave it (macOS 26 says ``any;-;``)."""
    return f"{service};-;{address}"


def is_group_guid(chat_guid: str) -> bool:
    return ";+;" in chat_guid


def _millis(value) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return None
    try:
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def message_status(data: dict) -> str:
    """Our status for a message the server describes (forward-only moves are the caller's)."""
    if _error_code(data):
        return Message.Status.FAILED
    if data.get("dateRead"):
        return Message.Status.READ
    if data.get("dateDelivered") or data.get("isDelivered") is True:
        return Message.Status.DELIVERED
    return Message.Status.SENT


def _error_code(data: dict) -> int:
    try:
        return int(data.get("error") or 0)
    except (TypeError, ValueError):
        return 0


class _PasswordAuth(httpx.Auth):
    """The server password as the ``password`` query parameter, only on the server's own
    origin (a redirect elsewhere never sees it)."""

    def __init__(self, origin: tuple[str, str], password: str) -> None:
        self.origin = origin
        self.password = password

    def auth_flow(self, request):
        if (request.url.scheme, request.url.netloc.decode().lower()) == self.origin:
            request.url = request.url.copy_merge_params({"password": self.password})
        yield request


class BlueBubblesProvider(InboxProvider):
    key = "bluebubbles"
    label = "BlueBubbles"
    kinds = (Channel.IMESSAGE,)
    credentials = BlueBubblesCredentials()
    webhooks = "inbox.webhooks.bluebubbles"
    capabilities = Capabilities(
        media=True,
        typing=True,
        read_receipts=True,
        sms_relay=True,
        campaign_rate=CAMPAIGN_RATE,
        campaign_rate_why="bulk iMessage from one Apple ID gets it flagged",
    )

    # --- configuration ------------------------------------------------------------------------

    def _server(self) -> tuple[str, str]:
        creds = self._credentials()
        if not creds.get("server_url") or not creds.get("password"):
            raise ProviderError(
                "This inbox has no BlueBubbles server URL or password; ask an admin to add them.",
                code="credentials",
                permanent=True,
            )
        return creds["server_url"].rstrip("/"), creds["password"]

    def _auth(self) -> _PasswordAuth:
        base, password = self._server()
        parts = urlsplit(base)
        return _PasswordAuth((parts.scheme, parts.netloc.lower()), password)

    def prepare(self) -> None:
        self._server()

    def account(self) -> str:
        """The server: every inbox on one Mac fails with it."""
        return self._credentials().get("server_url") or self.inbox.address

    # --- the REST client ----------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        timeout: httpx.Timeout = CALL_TIMEOUT,
        sends: bool = False,
        **kwargs,
    ) -> dict:
        """The answer's JSON envelope; ``ProviderError`` for anything but a 2xx.

        ``sends``: the call sends a message. Once the request reached the server, no answer
        (our timeout, its 504, its 500 "Message Send Error" without data) does not mean it
        was not sent, so such a failure is permanent: retrying could send it twice."""
        base, _ = self._server()
        response = server_request(
            method,
            base + path,
            auth=self._auth(),
            server="The BlueBubbles server",
            url_label="BlueBubbles server URL",
            timeout=timeout,
            sends=sends,
            unknown_outcome=UNKNOWN_OUTCOME,
            **kwargs,
        )
        try:
            envelope = response.json()
        except ValueError:
            envelope = {}
        if not isinstance(envelope, dict):
            envelope = {}
        if response.status_code >= 400:
            error = self._api_error(response.status_code, envelope)
            if sends and not error.permanent and response.status_code in (500, 504):
                raise ProviderError(
                    UNKNOWN_OUTCOME, code=str(response.status_code), permanent=True
                ) from None
            raise error
        return envelope

    def _api_error(self, status: int, envelope: dict) -> ProviderError:
        error = envelope.get("error") if isinstance(envelope.get("error"), dict) else {}
        detail = clean_text(str(error.get("message") or envelope.get("message") or ""))[:300]
        data = envelope.get("data") if isinstance(envelope.get("data"), dict) else None
        if data is not None and _error_code(data):
            code = _error_code(data)
            if code in NOT_ON_IMESSAGE_ERRORS:
                return NotOnChannel(error_sentence(code), code=str(code))
            return ProviderError(error_sentence(code), code=str(code), permanent=True)
        if status == 401:
            return ProviderError(
                "The BlueBubbles server rejected this inbox's password; ask an admin to update it.",
                code="401",
                permanent=True,
            )
        return ProviderError.from_http_status(status, service=SERVICE, detail=detail)

    def server_info(self, *, fresh: bool = False) -> dict:
        """``/api/v1/server/info``'s data (cached a few minutes unless ``fresh``)."""
        key = f"inbox:bluebubbles:info:{self.inbox.pk}"
        info = None if fresh else cache.get(key)
        if info is None:
            data = self._call("GET", "/api/v1/server/info").get("data")
            info = data if isinstance(data, dict) else {}
            cache.set(key, info, SERVER_INFO_TTL)
        return info

    def has_private_api(self) -> bool:
        """Whether typing, read and availability calls can work (they need the helper)."""
        try:
            info = self.server_info()
        except ProviderError:
            return False
        return bool(info.get("private_api") and info.get("helper_connected"))

    def _require_private_api(self) -> None:
        if not self.has_private_api():
            raise ProviderError(
                "The BlueBubbles server's Private API is not connected.",
                code="private_api",
                permanent=True,
            )

    # --- sending ------------------------------------------------------------------------------

    def send(self, message: OutboundMessage) -> ProviderResult:
        """Text to the conversation's chat GUID (as the server gave it), or a new chat with the
        address; then each file as its own message. Every part carries a ``tempGuid`` built
        from ``client_ref``, which the server echoes in its ``new-message`` webhook.

        As SMS (``message.channel``, the inbox's relay): to the contact's SMS chat,
        ``SMS;-;<E.164>`` in exactly that case (the server confirms a send by comparing chat
        GUIDs exactly), which the Mac sends through its paired iPhone."""
        client_ref = message.client_ref or f"temp-{uuid.uuid4().hex}"
        body = message.body
        # An agent's uploads come both as files and as public links: the files go as
        # attachments; links alone (an API send) go in the text.
        if message.media_urls and not message.files:
            body = "\n".join(part for part in (body, *message.media_urls) if part)
        chat_guid = message.thread_ref
        if message.channel:
            chat_guid = self._relay_chat(message)
        first: dict = {}
        if body.strip():
            if chat_guid:
                first = self._data(
                    self._call(
                        "POST",
                        "/api/v1/message/text",
                        json={
                            "chatGuid": chat_guid,
                            "tempGuid": client_ref,
                            "message": body,
                            "method": "apple-script",
                        },
                        timeout=SEND_TIMEOUT,
                        sends=True,
                    )
                )
            else:
                chat = self._data(
                    self._call(
                        "POST",
                        "/api/v1/chat/new",
                        json={
                            "addresses": [message.recipient],
                            "message": body,
                            "service": "iMessage",
                            "method": "apple-script",
                            "tempGuid": client_ref,
                        },
                        timeout=SEND_TIMEOUT,
                        sends=True,
                    )
                )
                chat_guid = str(chat.get("guid") or "")
                messages = chat.get("messages") if isinstance(chat.get("messages"), list) else []
                first = messages[0] if messages and isinstance(messages[0], dict) else {}
            self._check_sent(first)
        for index, file in enumerate(message.files, start=1):
            sent = self._send_file(
                chat_guid or dm_guid(message.recipient, "iMessage"), file, f"{client_ref}.{index}"
            )
            self._check_sent(sent)
            first = first or sent
        return ProviderResult(
            provider_message_id=str(first.get("guid") or ""),
            status=message_status(first) if first else Message.Status.SENT,
            raw={"chat_guid": chat_guid},
            client_ref=client_ref,
        )

    @staticmethod
    def _relay_chat(message: OutboundMessage) -> str:
        if message.channel != Channel.SMS:
            raise ProviderError(
                f"A BlueBubbles server sends iMessage and SMS, not {message.channel}.",
                code="channel",
                permanent=True,
            )
        if not message.recipient.startswith("+"):
            raise ProviderError(
                "Only a phone number can be sent an SMS through the Mac's relay.",
                code="channel",
                permanent=True,
            )
        return dm_guid(message.recipient, "SMS")

    def _send_file(self, chat_guid: str, file, temp_guid: str) -> dict:
        with default_storage.open(file.name, "rb") as handle:
            content = handle.read()
        return self._data(
            self._call(
                "POST",
                "/api/v1/message/attachment",
                data={
                    "chatGuid": chat_guid,
                    "name": file.filename or "attachment",
                    "tempGuid": temp_guid,
                    "method": "apple-script",
                    "isAudioMessage": "false",
                },
                files={"attachment": (file.filename or "attachment", content, file.content_type)},
                timeout=ATTACHMENT_TIMEOUT,
                sends=True,
            )
        )

    @staticmethod
    def _data(envelope: dict) -> dict:
        data = envelope.get("data")
        return data if isinstance(data, dict) else {}

    @staticmethod
    def _check_sent(data: dict) -> None:
        code = _error_code(data)
        if code in NOT_ON_IMESSAGE_ERRORS:
            raise NotOnChannel(error_sentence(code), code=str(code))
        if code:
            raise ProviderError(error_sentence(code), code=str(code), permanent=True)

    # --- optional capabilities ----------------------------------------------------------------

    def thread_service(self, thread_ref: str) -> str:
        """``SMS`` for the contact's SMS chat (a reply there goes by the Mac's relay)."""
        return chat_service(thread_ref)

    def check_availability(self, address: str) -> bool:
        """Whether ``address`` has iMessage (Private API only; known false negatives, so a
        "no" means "probably not"). Raises ``ProviderError`` when the server cannot tell."""
        self._require_private_api()
        answer = self._data(
            self._call("GET", "/api/v1/handle/availability/imessage", params={"address": address})
        )
        if "available" not in answer:
            raise ProviderError(
                "The BlueBubbles server did not say whether the address has iMessage.",
                code="availability",
                permanent=False,
            )
        return bool(answer["available"])

    def send_typing(self, thread: str, typing: bool) -> None:
        """Start the typing indicator in a chat (Private API). Stopping is left to the next
        message: the server's ``DELETE …/typing`` starts typing instead (a server bug)."""
        if not typing or ";" not in thread:
            return
        self._require_private_api()
        self._call("POST", f"/api/v1/chat/{quote(thread, safe='')}/typing")

    def mark_read(self, thread: str) -> None:
        """Mark the chat read on the Mac, which sends the contact a read receipt when they
        asked for them (Private API)."""
        if ";" not in thread:
            return
        self._require_private_api()
        self._call("POST", f"/api/v1/chat/{quote(thread, safe='')}/read")

    def query_messages(self, *, after: datetime, limit: int = 100, offset: int = 0) -> list[dict]:
        """Messages recorded since ``after`` (oldest first) through ``/api/v1/message/query``,
        with their chats and attachments: what catching up after an outage reads."""
        data = self._call(
            "POST",
            "/api/v1/message/query",
            json={
                "limit": limit,
                "offset": offset,
                "sort": "ASC",
                "after": int(after.timestamp() * 1000),
                "with": ["chat", "chat.participants", "attachment", "handle"],
            },
        ).get("data")
        return [item for item in data if isinstance(item, dict)] if isinstance(data, list) else []

    def sync(self, since: datetime, *, offset: int = 0, limit: int = SYNC_PAGE) -> MissedPage:
        """One page of the messages recorded since ``since`` as events (see
        :meth:`parse_message`); a record that cannot be read is logged and skipped."""
        records = self.query_messages(after=since, limit=limit, offset=offset)
        events = []
        latest = None
        for data in records:
            at = _millis(data.get("dateCreated"))
            if at is not None and (latest is None or at > latest):
                latest = at
            try:
                event = self.parse_message(data)
            except MalformedWebhook as exc:
                logger.warning("Skipped a BlueBubbles message while catching up: %s", exc)
                continue
            if event is not None:
                events.append(event)
        return MissedPage(events=tuple(events), count=len(records), latest=latest)

    def health(self) -> ConnectionCheck:
        """``GET /api/v1/ping`` with the password: the server is there and lets us in."""
        try:
            self._call("GET", "/api/v1/ping")
        except ProviderError as exc:
            return ConnectionCheck(ok=False, detail=exc.message)
        return ConnectionCheck(ok=True, detail="The server answered.")

    def attachment_url(self, guid: str) -> str:
        base, _ = self._server()
        return f"{base}/api/v1/attachment/{quote(guid, safe='')}/download"

    def fetch_media(self, url: str) -> httpx.Auth | None:
        """The server password for an attachment download, only on the server's own origin."""
        try:
            auth = self._auth()
        except ProviderError:
            return None
        parts = urlsplit(url)
        return auth if (parts.scheme, parts.netloc.lower()) == auth.origin else None

    # --- webhooks -----------------------------------------------------------------------------

    def verify(self, request, event_type: str = "") -> bool:
        """BlueBubbles signs nothing: the opaque token in the URL found the inbox; when the
        inbox asks for it, the URL must also carry the server password."""
        given = request.GET.get("password")
        password = self._credentials().get("password", "")
        if given is None:
            if self._credentials().get("webhook_password"):
                raise Unverified("The webhook URL must carry the server password (?password=).")
            return True
        if not password or not hmac.compare_digest(given.encode(), password.encode()):
            raise Unverified("The webhook URL's password does not match this inbox's server.")
        return True

    def parse(self, request) -> list:
        """The request's events (see :func:`parse_payload`)."""
        return self.parse_payload(payload_of(request))

    def parse_payload(self, payload: dict) -> list:
        kind = payload.get("type")
        data = payload.get("data")
        if kind == "typing-indicator":
            data = _object(data, kind)
            chat = _text(data.get("guid"))
            return [
                TypingChanged(
                    sender=_dm_address(chat), typing=bool(data.get("display")), thread_ref=chat
                )
            ]
        if kind == "chat-read-status-changed":
            data = _object(data, kind)
            chat = _text(data.get("chatGuid"))
            return [
                ReadChanged(sender=_dm_address(chat), read=bool(data.get("read")), thread_ref=chat)
            ]
        if kind in (
            "new-message",
            "updated-message",
            "message-send-error",
            *GROUP_EVENT_TYPES,
        ):
            event = self.parse_message(_object(data, kind))
            return [event] if event is not None else []
        raise MalformedWebhook(f"BlueBubbles event type {str(kind)[:40]!r} is not handled.")

    def parse_message(self, data: dict):
        """One message of the server as a normalized event: a tapback is a reaction, an edit
        or unsend an edit, an own message an echo (of our send, or sent on the Mac), another's
        message a received one (in a group: with the group's members and name), a group's
        rename or change of members a group change; None for a record the inbox does not show
        (an icon change, a FaceTime call)."""
        guid = _text(data.get("guid"))
        if not guid:
            raise MalformedWebhook("The BlueBubbles message has no guid.")
        item_type = data.get("itemType")
        if isinstance(item_type, int) and not isinstance(item_type, bool) and item_type:
            return self._group_change(guid, data, item_type)
        associated = _text(data.get("associatedMessageGuid"))
        if associated and data.get("associatedMessageType"):
            reaction = _text(data.get("associatedMessageType"))
            removed = reaction.startswith("-")
            name = reaction.removeprefix("-")
            return ReactionAdded(
                external_id=associated.split("/", 1)[-1],
                sender=self._sender(data) if not data.get("isFromMe") else self.inbox.address,
                reaction=TAPBACKS.get(name, name)[:20],
                removed=removed,
            )
        if data.get("dateRetracted"):
            return MessageEdited(external_id=guid, deleted=True)
        if data.get("dateEdited") and not data.get("isFromMe"):
            return MessageEdited(external_id=guid, body=_text(data.get("text")))
        chats = data.get("chats") if isinstance(data.get("chats"), list) else []
        chat = chats[0] if chats and isinstance(chats[0], dict) else {}
        chat_guid = _text(chat.get("guid"))
        if data.get("isFromMe"):
            code = _error_code(data)
            handle = data.get("handle") if isinstance(data.get("handle"), dict) else {}
            address = _text(handle.get("address"))
            return MessageEchoed(
                external_id=guid,
                status=message_status(data),
                recipient=self._recipient(address, chat_guid),
                body=_text(data.get("text")).replace("\ufffc", "").strip(),
                client_ref=_text(data.get("tempGuid"))[:100],
                thread_ref=chat_guid,
                sent_at=_millis(data.get("dateCreated")),
                error_code=str(code) if code else "",
                error_message=error_sentence(code) if code else "",
                fall_back=bool(code),
                media=self._media(data),
            )
        group = chat.get("style") == GROUP_STYLE or is_group_guid(chat_guid)
        metadata: dict = {"service": chat_service(chat_guid) if chat_guid else "iMessage"}
        if data.get("threadOriginatorGuid"):
            metadata["reply_to"] = _text(data.get("threadOriginatorGuid"))[:100]
        return MessageReceived(
            external_id=guid,
            sender=self._sender(data),
            recipient=self.inbox.address,
            body=_text(data.get("text")).replace("\ufffc", "").strip(),
            media=self._media(data),
            received_at=_millis(data.get("dateCreated")),
            metadata=metadata,
            thread_ref=chat_guid,
            group=group,
            participants=tuple(self._participants(chat)) if group else (),
            thread_name=_text(chat.get("displayName"))[:200] if group else "",
        )

    def _group_change(self, guid: str, data: dict, item_type) -> GroupChanged | None:
        action_type = None if item_type == 2 else data.get("groupActionType") or 0
        action = GROUP_ACTIONS.get((item_type, action_type))
        chats = data.get("chats") if isinstance(data.get("chats"), list) else []
        chat = chats[0] if chats and isinstance(chats[0], dict) else {}
        chat_guid = _text(chat.get("guid"))
        if action is None or not chat_guid:
            return None
        actor = ""
        if not data.get("isFromMe"):
            try:
                actor = self._sender(data)
            except MalformedWebhook:
                actor = ""
        return GroupChanged(
            external_id=guid[:100],
            thread_ref=chat_guid[:200],
            action=action,
            actor=actor,
            title=_text(data.get("groupTitle"))[:200],
            participants=tuple(self._participants(chat)),
            at=_millis(data.get("dateCreated")),
        )

    def _sender(self, data: dict) -> str:
        handle = data.get("handle") if isinstance(data.get("handle"), dict) else {}
        address = _text(handle.get("address"))
        if not address:
            raise MalformedWebhook("The BlueBubbles message has no handle address.")
        return self._normalize(address)

    def _recipient(self, address: str, chat_guid: str) -> str:
        """Who one of our own messages went to: the handle in a one-to-one chat (in a group
        the handle is empty, or not a person)."""
        if not address or is_group_guid(chat_guid):
            return ""
        try:
            return self._normalize(address)
        except MalformedWebhook:
            return ""

    def _normalize(self, address: str) -> str:
        if "@" in address:
            return address.lower()
        try:
            return normalize_phone(address, self.inbox.tenant.default_region)
        except InvalidPhone as exc:
            raise MalformedWebhook(f"The sender {address[:40]!r} is not usable: {exc}") from exc

    def _participants(self, chat: dict) -> list[str]:
        found = chat.get("participants") if isinstance(chat.get("participants"), list) else []
        addresses = []
        for item in found[:50]:
            address = _text(item.get("address")) if isinstance(item, dict) else ""
            if address:
                try:
                    addresses.append(self._normalize(address))
                except MalformedWebhook:
                    continue
        return addresses

    def _media(self, data: dict) -> tuple[InboundMedia, ...]:
        found = data.get("attachments") if isinstance(data.get("attachments"), list) else []
        media = []
        for item in found[:20]:
            if not isinstance(item, dict) or not _text(item.get("guid")):
                continue
            media.append(
                InboundMedia(
                    url=self.attachment_url(_text(item.get("guid"))),
                    content_type=_text(item.get("mimeType"))[:100] or "application/octet-stream",
                    filename=_text(item.get("transferName"))[:255],
                )
            )
        return tuple(media)


GROUP_EVENT_TYPES = (
    "group-name-change",
    "participant-added",
    "participant-removed",
    "participant-left",
)


def _dm_address(chat_guid: str) -> str:
    """The contact's address in a DM chat GUID (``iMessage;-;+1555…``), else ``""``."""
    parts = chat_guid.split(";-;", 1)
    return parts[1] if len(parts) == 2 else ""


def _text(value) -> str:
    return clean_text(value) if isinstance(value, str) else ""


def _object(data, kind) -> dict:
    if not isinstance(data, dict):
        raise MalformedWebhook(f"The BlueBubbles {str(kind)[:40]} event has no data object.")
    return data


def payload_of(request) -> dict:
    try:
        payload = json.loads(request.body)
    except ValueError as exc:
        raise MalformedWebhook("The BlueBubbles webhook is not JSON.") from exc
    if not isinstance(payload, dict):
        raise MalformedWebhook("The BlueBubbles webhook is not a JSON object.")
    return payload
