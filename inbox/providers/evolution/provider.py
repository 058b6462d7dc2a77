"""WhatsApp through an Evolution API instance (WhatsApp Web paired by a QR code): REST calls
with the ``apikey`` header, and one webhook URL per inbox that receives every event.

Facts behind this module: ../shared/providers/evolution-api.md (routes, the message record,
acks, webhook envelope and configuration, pitfalls). Evolution signs nothing, so the inbox's
opaque token in the URL finds the inbox and a secret header registered with the instance
proves the request came from it. Messages are keyed on WhatsApp's id (``key.id``): our own
sends come back as ``fromMe`` upserts and ``send.message`` echoes, matched to the send.
"""

import base64
import binascii
import hmac
import json
import logging
import mimetypes
from dataclasses import replace
from datetime import UTC, datetime
from urllib.parse import parse_qs, quote, urlsplit

import httpx
from django.core.cache import cache
from django.core.files.storage import default_storage

from contacts.phones import InvalidPhone, normalize_phone
from inbox.models import Message
from inbox.providers.base import (
    Capabilities,
    InboundMedia,
    InboxProvider,
    LinkState,
    MalformedWebhook,
    MessageEchoed,
    MessageReceived,
    NotOnChannel,
    OutboundMessage,
    ProviderError,
    ProviderResult,
    ReactionAdded,
    StatusEvent,
    Unverified,
)
from inbox.providers.evolution.credentials import EvolutionCredentials
from inbox.providers.server_http import server_request
from omnichannel.channels import Channel
from omnichannel.outbound import too_large
from omnichannel.text import clean_text

logger = logging.getLogger(__name__)

SERVICE = "Evolution API"
# The header every webhook carries (registered with the instance): Evolution signs nothing.
SECRET_HEADER = "X-Centro-Webhook-Secret"  # noqa: S105 (a header name)
EVENTS = [
    "MESSAGES_UPSERT",
    "MESSAGES_UPDATE",
    "SEND_MESSAGE",
    "CONNECTION_UPDATE",
    "QRCODE_UPDATED",
]
CALL_TIMEOUT = httpx.Timeout(15.0, connect=5.0)
# A send waits for WhatsApp's server ack (and any typing delay); media are uploaded first.
SEND_TIMEOUT = httpx.Timeout(120.0, connect=10.0)
# Further parts of one send (its second file…): their echoes are not another message.
PART_TTL = 24 * 60 * 60
GROUP_INFO_TTL = 60 * 60
MEDIA_ROUTE = "/chat/getBase64FromMediaMessage/"
UNKNOWN_OUTCOME = (
    "Evolution did not answer in time, so the message may or may not have gone out. It is not "
    "sent again automatically: check the conversation on the phone before resending."
)

# Evolution's ack names (and Baileys' numbers, which older versions send) -> ours.
ACK_STATUS = {
    "ERROR": Message.Status.FAILED,
    "PENDING": Message.Status.SENDING,
    "SERVER_ACK": Message.Status.SENT,
    "DELIVERY_ACK": Message.Status.DELIVERED,
    "READ": Message.Status.READ,
    "PLAYED": Message.Status.READ,
}
ACK_NUMBERS = ("ERROR", "PENDING", "SERVER_ACK", "DELIVERY_ACK", "READ", "PLAYED")
# Message types that carry a file, and what a send of each content type is.
MEDIA_TYPES = ("imageMessage", "videoMessage", "audioMessage", "documentMessage", "stickerMessage")
STATE_DETAIL = {
    "open": "WhatsApp is connected.",
    "connecting": "Waiting for the phone to scan the QR code.",
    "close": "WhatsApp is disconnected.",
    "refused": "The QR codes expired before one was scanned: connect again for a new one.",
}
LOGGED_OUT = "WhatsApp logged this number out: connect again and scan the new QR code."


def ack_status(value) -> str:
    """Our status for an Evolution ack (a name, or Baileys' number); ``""`` when unknown."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(ACK_NUMBERS):
        value = ACK_NUMBERS[value]
    return ACK_STATUS.get(value, "") if isinstance(value, str) else ""


def jid_user(jid: str) -> str:
    """The user part of a JID (``5511…`` of ``5511…:12@s.whatsapp.net``)."""
    return jid.split("@", 1)[0].split(":", 1)[0]


def is_group(jid: str) -> bool:
    return jid.endswith("@g.us")


def send_kind(content_type: str) -> str:
    """Evolution's ``mediatype`` for a file (``audio`` goes as a voice note)."""
    major = content_type.split("/", 1)[0].lower()
    return major if major in ("image", "video", "audio") else "document"


def _seconds(value) -> datetime | None:
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return None
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _text(value) -> str:
    return clean_text(value) if isinstance(value, str) else ""


def _object(value) -> dict:
    return value if isinstance(value, dict) else {}


class EvolutionProvider(InboxProvider):
    key = "evolution"
    label = "Evolution API"
    kinds = (Channel.WHATSAPP,)
    credentials = EvolutionCredentials()
    webhooks = "inbox.webhooks.evolution"
    # WhatsApp bans numbers that send in bulk through WhatsApp Web: campaigns go slowly.
    capabilities = Capabilities(
        media=True,
        campaign_rate=0.2,
        campaign_rate_why="WhatsApp bans numbers that send in bulk through WhatsApp Web",
    )

    # --- configuration ------------------------------------------------------------------------

    def _instance(self) -> tuple[str, str, str]:
        creds = self._credentials()
        if not all(creds.get(key) for key in ("instance_url", "instance_name", "api_key")):
            raise ProviderError(
                "This inbox has no Evolution URL, instance name or API key; ask an admin to "
                "add them.",
                code="credentials",
                permanent=True,
            )
        return creds["instance_url"].rstrip("/"), creds["instance_name"], creds["api_key"]

    def _route(self, path: str) -> str:
        """``path`` of the instance (``/message/sendText`` -> ``/message/sendText/<name>``)."""
        _, name, _ = self._instance()
        return f"{path}/{quote(name, safe='')}"

    def prepare(self) -> None:
        self._instance()

    def account(self) -> str:
        """The instance on its server: what fails together (the campaign breaker's key)."""
        creds = self._credentials()
        return f"{creds.get('instance_url', '')}/{creds.get('instance_name', '')}"

    # --- the REST client ----------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        timeout: httpx.Timeout = CALL_TIMEOUT,
        sends: bool = False,
        **kwargs,
    ):
        """The answer's JSON; ``ProviderError`` for anything but a 2xx. ``sends``: the call
        sends a message, so once it reached the server a missing answer is not retried (it may
        have gone out)."""
        base, _, api_key = self._instance()
        response = server_request(
            method,
            base + path,
            headers={"apikey": api_key},
            server="The Evolution server",
            url_label="Evolution URL",
            timeout=timeout,
            sends=sends,
            unknown_outcome=UNKNOWN_OUTCOME,
            **kwargs,
        )
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        if response.status_code >= 400:
            raise self._api_error(response.status_code, answer)
        return answer

    def _api_error(self, status: int, answer) -> ProviderError:
        """Evolution's errors: ``{status, error, response: {message}}`` (older versions put
        ``message`` at the top); a send to a number without WhatsApp lists ``exists: false``."""
        answer = _object(answer)
        detail = _object(answer.get("response")).get("message", answer.get("message"))
        items = detail if isinstance(detail, list) else [detail]
        if status == 400 and any(_object(item).get("exists") is False for item in items):
            number = next((_text(_object(i).get("number")) for i in items if _object(i)), "")
            return NotOnChannel(f"{number or 'The number'} is not on WhatsApp.", code="not_on_wa")
        text = "; ".join(
            _text(item) if isinstance(item, str) else json.dumps(item) for item in items if item
        )[:300]
        if status == 401:
            return ProviderError(
                "Evolution rejected this inbox's API key; ask an admin to update it.",
                code="401",
                permanent=True,
            )
        if status == 404 and "instance" in text:
            _, name, _ = self._instance()
            return ProviderError(
                f"Evolution has no instance named “{name}”; create it there or fix the name.",
                code="404",
                permanent=True,
            )
        return ProviderError.from_http_status(status, service=SERVICE, detail=text)

    # --- pairing the phone --------------------------------------------------------------------

    def link_state(self) -> LinkState:
        """``GET /instance/connectionState/<name>``."""
        answer = _object(self._call("GET", self._route("/instance/connectionState")))
        return connection_state(_text(_object(answer.get("instance")).get("state")))

    def start_link(self) -> LinkState:
        """``GET /instance/connect/<name>``: a QR code to scan (a data-URL PNG), or the state
        when the instance is connected already."""
        answer = _object(self._call("GET", self._route("/instance/connect")))
        if isinstance(answer.get("instance"), dict):
            return connection_state(_text(answer["instance"].get("state")))
        qr = _text(answer.get("base64"))
        if not qr.startswith("data:image/"):
            raise ProviderError(
                "Evolution did not give a QR code to scan; try again.",
                code="no_qr",
                permanent=False,
            )
        return LinkState(state="connecting", detail=STATE_DETAIL["connecting"], qr_image=qr)

    def register_webhooks(self, urls: dict[str, str]) -> None:
        """``POST /webhook/set/<name>``: every event Centro uses to one URL, with the secret
        header; media are left out of the payloads and fetched through the base64 route."""
        secret = self._credentials().get("webhook_secret")
        if not secret:
            raise ProviderError(
                "This inbox has no webhook secret; save the credentials again to make one.",
                code="credentials",
                permanent=True,
            )
        self._call(
            "POST",
            self._route("/webhook/set"),
            json={
                "webhook": {
                    "enabled": True,
                    "url": urls["events"],
                    "headers": {SECRET_HEADER: secret},
                    "byEvents": False,
                    "base64": False,
                    "events": EVENTS,
                }
            },
        )

    # --- sending ------------------------------------------------------------------------------

    def send(self, message: OutboundMessage) -> ProviderResult:
        """Text, then each file as its own message (the text goes as the caption of the first
        file that can carry one; audio goes as a voice note). The first part's id is the
        delivery's; the others are remembered so their echoes are not taken for messages typed
        on the phone."""
        number = message.thread_ref or message.recipient.lstrip("+")
        body = message.body
        if message.media_urls and not message.files:
            body = "\n".join(part for part in (body, *message.media_urls) if part)
        captioned = next(
            (file for file in message.files if send_kind(file.content_type) != "audio"), None
        )
        if not body.strip() and not message.files:
            raise ProviderError(
                "The message has no text and no file.", code="empty", permanent=True
            )
        sent = []
        if body.strip() and captioned is None:
            sent.append(self._send("/message/sendText", {"number": number, "text": body}))
        for file in message.files:
            with default_storage.open(file.name, "rb") as handle:
                content = base64.b64encode(handle.read()).decode()
            kind = send_kind(file.content_type)
            if kind == "audio":
                sent.append(
                    self._send("/message/sendWhatsAppAudio", {"number": number, "audio": content})
                )
                continue
            payload = {
                "number": number,
                "mediatype": kind,
                "mimetype": file.content_type,
                "fileName": file.filename or "attachment",
                "media": content,
            }
            if file is captioned and body.strip():
                payload["caption"] = body
            sent.append(self._send("/message/sendMedia", payload))
        ids = [_text(_object(part.get("key")).get("id")) for part in sent]
        for part_id in ids[1:]:
            if part_id:
                cache.set(self._part_key(part_id), 1, PART_TTL)
        first = sent[0]
        return ProviderResult(
            provider_message_id=ids[0][:100],
            status=ack_status(first.get("status")) or Message.Status.SENT,
            raw={"remote_jid": _text(_object(first.get("key")).get("remoteJid"))},
        )

    def _send(self, path: str, payload: dict) -> dict:
        answer = _object(
            self._call("POST", self._route(path), json=payload, timeout=SEND_TIMEOUT, sends=True)
        )
        if not _text(_object(answer.get("key")).get("id")):
            raise ProviderError(
                "Evolution accepted the message but gave no message id.",
                code="no_id",
                permanent=True,
            )
        return answer

    def _part_key(self, message_id: str) -> str:
        return f"inbox:evolution:part:{self.inbox.pk}:{message_id}"

    # --- media --------------------------------------------------------------------------------

    def media_url(self, message_id: str) -> str:
        """Where an inbound file is fetched: the base64 route, naming the message."""
        base, _, _ = self._instance()
        return f"{base}{self._route(MEDIA_ROUTE.rstrip('/'))}?message_id={quote(message_id)}"

    def download_media(self, url: str, *, limit: int) -> tuple[bytes, str] | None:
        """A file of a message through ``POST /chat/getBase64FromMediaMessage/<name>`` (the
        WhatsApp CDN's copy is encrypted); None for a URL that is not this route's."""
        try:
            base, _, _ = self._instance()
        except ProviderError:
            return None
        parts = urlsplit(url)
        route = self._route(MEDIA_ROUTE.rstrip("/"))
        if not url.startswith(base + route + "?"):
            return None
        message_id = (parse_qs(parts.query).get("message_id") or [""])[0]
        answer = _object(
            self._call(
                "POST",
                route,
                json={"message": {"key": {"id": message_id}}, "convertToMp4": False},
                timeout=SEND_TIMEOUT,
            )
        )
        encoded = _text(answer.get("base64"))
        if len(encoded) * 3 // 4 > limit:
            raise ProviderError(
                too_large(len(encoded) * 3 // 4, limit), code="size", permanent=True
            )
        try:
            content = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ProviderError(
                "Evolution answered with a file that is not base64.", code="base64", permanent=True
            ) from exc
        if not content:
            raise ProviderError("Evolution gave an empty file.", code="empty", permanent=True)
        return content, _text(answer.get("mimetype")).split(";")[0].strip()

    # --- webhooks -----------------------------------------------------------------------------

    def verify(self, request, event_type: str = "") -> bool:
        """The secret header registered with the instance, and the instance the payload names
        must be this inbox's (another instance on the same server cannot post here)."""
        secret = self._credentials().get("webhook_secret", "")
        given = request.headers.get(SECRET_HEADER, "")
        if not given:
            raise Unverified(f"The webhook has no {SECRET_HEADER} header.")
        if not secret or not hmac.compare_digest(given.encode(), secret.encode()):
            raise Unverified(f"The webhook's {SECRET_HEADER} does not match this inbox's.")
        try:
            instance = payload_of(request).get("instance")
        except MalformedWebhook:
            return True  # answered 400 when the event type is read
        if instance is not None and instance != self._credentials().get("instance_name"):
            raise Unverified("The webhook is for another Evolution instance.")
        return True

    def parse(self, request) -> list:
        return self.parse_payload(payload_of(request))

    def parse_payload(self, payload: dict) -> list:
        kind = event_name(payload.get("event"))
        data = payload.get("data")
        if kind in ("messages.upsert", "send.message"):
            event = self.parse_message(_object(data))
            if kind == "send.message" and isinstance(event, MessageEchoed):
                # Posted inside the send call, before its answer names the message: a further
                # part of our send (no caption to match) must not become a message of its own.
                event = replace(event, api_send=True)
            return [event] if event is not None else []
        if kind == "messages.update":
            items = data if isinstance(data, list) else [data]
            return [event for item in items if (event := self.parse_ack(_object(item)))]
        if kind == "connection.update":
            data = _object(data)
            state = connection_state(_text(data.get("state")), reason=data.get("statusReason"))
            return [state]
        if kind == "qrcode.updated":
            qr = _text(_object(_object(data).get("qrcode")).get("base64"))
            if not qr.startswith("data:image/"):
                return [LinkState(state="refused", detail=STATE_DETAIL["refused"], lost=True)]
            return [LinkState(state="connecting", detail=STATE_DETAIL["connecting"], qr_image=qr)]
        return []

    def parse_ack(self, data: dict) -> StatusEvent | None:
        """A ``messages.update`` ack of one of our messages; None for the contact's messages
        (our own read receipts), further parts of a send and statuses we do not track."""
        message_id = _text(data.get("keyId") or _object(data.get("key")).get("id"))
        if not message_id:
            raise MalformedWebhook("The Evolution message update has no keyId.")
        status = ack_status(data.get("status"))
        if data.get("fromMe") is False or cache.get(self._part_key(message_id)):
            return None
        if status in ("", Message.Status.SENDING):
            return None
        failed = status == Message.Status.FAILED
        return StatusEvent(
            provider_message_id=message_id[:100],
            status=status,
            error_code="error" if failed else "",
            error_message="WhatsApp reported an error sending this message." if failed else "",
        )

    def parse_message(self, data: dict):
        """One message record: a contact's message is received (in a group: with the group's
        members and name), ours an echo (of a send, or typed on the phone), a reaction a
        reaction; None for what the inbox does not show (status stories, protocol messages)."""
        key = _object(data.get("key"))
        message_id = _text(key.get("id"))
        remote = _text(key.get("remoteJid"))
        if not message_id or not remote:
            raise MalformedWebhook("The Evolution message has no key.id or key.remoteJid.")
        if remote.endswith("@broadcast") or cache.get(self._part_key(message_id)):
            return None
        if key.get("addressingMode") == "lid" and _text(key.get("remoteJidAlt")):
            address_jid = _text(key.get("remoteJidAlt"))
        else:
            address_jid = remote
        content = _object(data.get("message"))
        kind = _text(data.get("messageType")) or next(iter(content), "")
        if kind == "documentWithCaptionMessage":
            content = _object(_object(content.get(kind)).get("message"))
            kind = "documentMessage"
        if kind in ("protocolMessage", "senderKeyDistributionMessage", "messageContextInfo"):
            return None
        group = is_group(remote)
        from_me = bool(key.get("fromMe"))
        if kind == "reactionMessage":
            reaction = _object(content.get(kind))
            return ReactionAdded(
                external_id=_text(_object(reaction.get("key")).get("id"))[:100],
                sender=self.inbox.address if from_me else self._sender(key, address_jid),
                reaction=_text(reaction.get("text"))[:20],
                removed=not _text(reaction.get("text")),
            )
        body = self._body(content, kind)
        media = self._media(message_id, content, kind)
        at = _seconds(data.get("messageTimestamp"))
        if from_me:
            return MessageEchoed(
                external_id=message_id[:100],
                status=ack_status(data.get("status")) or Message.Status.SENT,
                recipient="" if group else self._phone(address_jid, strict=False),
                body=body,
                thread_ref=remote[:200],
                sent_at=at,
                media=media,
            )
        metadata = {"message_type": kind[:40]} if kind != "conversation" else {}
        quoted = _text(_object(data.get("contextInfo")).get("stanzaId"))
        if quoted:
            metadata["reply_to"] = quoted[:100]
        name, participants = self._group_info(remote) if group else ("", ())
        return MessageReceived(
            external_id=message_id[:100],
            sender=self._sender(key, address_jid),
            recipient=self.inbox.address,
            body=body,
            profile_name=_text(data.get("pushName"))[:200],
            media=media,
            received_at=at,
            metadata=metadata,
            thread_ref=remote[:200],
            group=group,
            participants=participants,
            thread_name=name,
        )

    def _body(self, content: dict, kind: str) -> str:
        if isinstance(content.get("conversation"), str):
            return _text(content["conversation"])
        extended = _object(content.get("extendedTextMessage"))
        if extended:
            return _text(extended.get("text"))
        part = _object(content.get(kind))
        if kind in MEDIA_TYPES:
            return _text(part.get("caption"))
        if kind == "locationMessage":
            where = ", ".join(
                str(part[field])
                for field in ("degreesLatitude", "degreesLongitude")
                if isinstance(part.get(field), int | float)
            )
            label = " ".join(_text(part.get(field)) for field in ("name", "address")).strip()
            return f"📍 {label} ({where})".replace(" ()", "").strip()
        if kind == "contactMessage":
            return f"Contact card: {_text(part.get('displayName'))}".strip()
        return f"(A WhatsApp {kind or 'message'} the inbox cannot show.)"

    def _media(self, message_id: str, content: dict, kind: str) -> tuple[InboundMedia, ...]:
        if kind not in MEDIA_TYPES:
            return ()
        part = _object(content.get(kind))
        content_type = _text(part.get("mimetype")).split(";")[0].strip()
        content_type = content_type or ("image/webp" if kind == "stickerMessage" else "")
        filename = _text(part.get("fileName"))[:255]
        inline = content.get("base64")
        if isinstance(inline, str) and inline:
            try:
                return (
                    InboundMedia(
                        url="",
                        content_type=content_type or "application/octet-stream",
                        content=base64.b64decode(inline, validate=True),
                        filename=filename or _default_name(kind, content_type),
                    ),
                )
            except (binascii.Error, ValueError):
                logger.warning(
                    "Evolution sent media %s that is not base64; fetching it.", message_id
                )
        return (
            InboundMedia(
                url=self.media_url(message_id),
                content_type=content_type or "application/octet-stream",
                filename=filename or _default_name(kind, content_type),
            ),
        )

    def _sender(self, key: dict, address_jid: str) -> str:
        """Who wrote: the participant in a group, else the chat's phone."""
        if is_group(address_jid):
            participant = _text(key.get("participantAlt")) or _text(key.get("participant"))
            if not participant:
                raise MalformedWebhook("The group message has no participant.")
            return self._phone(participant)
        return self._phone(address_jid)

    def _phone(self, jid: str, *, strict: bool = True) -> str:
        user = jid_user(jid)
        try:
            if not user.isdigit() or jid.endswith("@lid"):
                raise InvalidPhone(f"{jid[:60]!r} is not a phone JID")
            return normalize_phone(f"+{user}", self.inbox.tenant.default_region)
        except InvalidPhone as exc:
            if not strict:
                return ""
            raise MalformedWebhook(f"The WhatsApp sender is not usable: {exc}") from exc

    def _group_info(self, group_jid: str) -> tuple[str, tuple[str, ...]]:
        """The group's name and members' phones (``GET /group/findGroupInfos``), cached for a
        while; nothing when Evolution cannot say (the message is stored all the same)."""
        cache_key = f"inbox:evolution:group:{self.inbox.pk}:{group_jid}"
        known = cache.get(cache_key)
        if known is not None:
            return known[0], tuple(known[1])
        try:
            info = _object(
                self._call(
                    "GET", self._route("/group/findGroupInfos"), params={"groupJid": group_jid}
                )
            )
        except ProviderError as exc:
            logger.info("No group info for %s on inbox %s: %s", group_jid, self.inbox.pk, exc)
            return "", ()
        members = info.get("participants") if isinstance(info.get("participants"), list) else []
        phones = []
        for member in members[:50]:
            member = _object(member)
            jid = _text(member.get("phoneNumber")) or _text(member.get("id"))
            phone = self._phone(jid, strict=False)
            if phone:
                phones.append(phone)
        found = (_text(info.get("subject"))[:200], phones)
        cache.set(cache_key, found, GROUP_INFO_TTL)
        return found[0], tuple(phones)


def _default_name(kind: str, content_type: str) -> str:
    extension = (mimetypes.guess_extension(content_type) or "") if content_type else ""
    return f"{kind.removesuffix('Message')}{extension}"


def connection_state(state: str, *, reason=None) -> LinkState:
    """What Evolution's connection state means for the inbox (``close`` with reason 401:
    WhatsApp logged the number out, which needs a new QR code)."""
    if state == "close" and reason in (401, 403, "401", "403"):
        return LinkState(state=state, detail=LOGGED_OUT, lost=True)
    return LinkState(
        state=state or "unknown",
        connected=state == "open",
        detail=STATE_DETAIL.get(state, f"Evolution reports the state “{state[:40]}”."),
        lost=state == "refused",
    )


def event_name(value) -> str:
    """``messages.upsert`` whether Evolution wrote it so or as ``MESSAGES_UPSERT``."""
    return value.strip().lower().replace("_", ".") if isinstance(value, str) else ""


def payload_of(request) -> dict:
    try:
        payload = json.loads(request.body)
    except ValueError as exc:
        raise MalformedWebhook("The Evolution webhook is not JSON.") from exc
    if not isinstance(payload, dict):
        raise MalformedWebhook("The Evolution webhook is not a JSON object.")
    return payload
