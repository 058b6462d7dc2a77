"""Twilio SMS and WhatsApp: send through the real ``twilio`` SDK, verify and parse webhooks.

Facts behind this module: ../shared/providers/twilio.md (Messages API, errors, signatures).
Each inbox may point the SDK at another API host (``api_base_url``: the simulator in tests and
the demo); every request then goes there, whatever Twilio domain the SDK builds a URL for.
"""

import contextlib
import json
import os
import re
import threading
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.exceptions import DisallowedHost
from twilio.base.exceptions import (
    TwilioException,
    TwilioRestException,
    TwilioServiceException,
)
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from contacts.phones import InvalidPhone, normalize_phone
from inbox.models import Message
from inbox.providers import webhook_url
from inbox.providers.base import (
    Capabilities,
    InboundMedia,
    InboxProvider,
    MalformedWebhook,
    MessageReceived,
    OutboundMessage,
    ProviderError,
    ProviderResult,
    StatusEvent,
)
from inbox.providers.twilio.credentials import TwilioCredentials
from inbox.providers.twilio.errors import OPT_OUT_ERROR_CODES, describe_twilio_error
from omnichannel.channels import Channel
from omnichannel.outbound import UnsafeURL, check_public_url, guard_session
from omnichannel.text import ascii_int, clean_text, has_control_chars, is_media_type, shown

DEFAULT_API_BASE_URL = "https://api.twilio.com"
REQUESTS_ENVIRONMENT = (
    *("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"),
    *("http_proxy", "https_proxy", "all_proxy", "no_proxy"),
    *("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NETRC"),
)
DEFAULT_TIMEOUT_SECONDS = 15.0
# Kept-alive connections per inbox: enough for every send thread of a campaign worker.
SHARED_POOL_SIZE = 32
MESSAGE_SID = re.compile(r"[A-Z]{2}[0-9a-fA-F]{32}")
ERROR_CODE = re.compile(r"[0-9]{1,10}")
# Free-text parameters kept in metadata are cut here (the journal keeps the whole request).
MAX_METADATA_CHARS = 1000

# Twilio's MessageStatus -> ours. accepted/scheduled are Messaging Service initial states.
STATUS_MAP = {
    "accepted": Message.Status.QUEUED,
    "scheduled": Message.Status.QUEUED,
    "queued": Message.Status.QUEUED,
    "sending": Message.Status.SENDING,
    "sent": Message.Status.SENT,
    "delivered": Message.Status.DELIVERED,
    "read": Message.Status.READ,
    "failed": Message.Status.FAILED,
    "undelivered": Message.Status.UNDELIVERED,
    "canceled": Message.Status.FAILED,
}
INBOUND_STATUSES = ("receiving", "received")

# Synchronous API errors (HTTP 4xx on create) that no retry will fix. Sentences for codes that
# inbox.providers.twilio.errors does not describe; its sentences win where both know a code.
PERMANENT_SEND_ERRORS: dict[int, str] = {
    20003: "Twilio rejected the inbox's credentials (account SID or auth token); "
    "ask an admin to update them.",
    20404: "Twilio does not know this account or sender; ask an admin to check the inbox.",
    21211: "",
    21408: "",
    21602: "The message has no text: write a message or attach media.",
    21606: "This inbox's number cannot send messages to this destination.",
    21608: "The Twilio trial account can only message verified numbers.",
    21610: "",
    21612: "Twilio cannot route messages between this inbox's number and this number.",
    21614: "This number cannot receive SMS (it is not a mobile number).",
    21617: "The message is too long (more than 1600 characters).",
    21620: "An attached media URL is not valid.",
    21623: "Too many attachments (Twilio accepts at most 10).",
    21659: "The sender number is not a Twilio number of this account.",
    21703: "The Messaging Service has no sender for this number.",
    63003: "",
    63007: "Twilio has no WhatsApp sender for this inbox's number; ask an admin.",
    63014: "",
    63016: "Outside WhatsApp's 24-hour window: send an approved template.",
    63024: "",
    30003: "",
    30004: "",
    30005: "",
    30006: "",
    30007: "",
    30008: "",
    30034: "",
}
# Codes that mean "later, more slowly" rather than "never".
RETRYABLE_SEND_ERRORS = frozenset({20429, 21611, 30001})

# Optional inbound parameters kept in MessageReceived.metadata (everything else is in the journal).
INBOUND_METADATA_KEYS = (
    "AccountSid",
    "MessagingServiceSid",
    "WaId",
    "NumSegments",
    "Forwarded",
    "FrequentlyForwarded",
    "ButtonPayload",
    "ButtonText",
    "Latitude",
    "Longitude",
    "Address",
    "Label",
    "OriginalRepliedMessageSid",
    "ReferralSourceUrl",
    "ReferralHeadline",
    "ReferralBody",
)
STATUS_METADATA_KEYS = (
    "AccountSid",
    "MessagingServiceSid",
    "From",
    "To",
    "EventType",
    "ChannelStatusMessage",
    "RawDlrDoneDate",
)


def error_message(code: int | str | None, fallback: str = "") -> str:
    """The agent-readable sentence for a Twilio error code (the raw text when unknown)."""
    try:
        ours = PERMANENT_SEND_ERRORS.get(int(code or 0), "")
    except (TypeError, ValueError):
        ours = ""
    return ours or describe_twilio_error(code, fallback)


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds: either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class _InboxHttpClient(TwilioHttpClient):
    """The SDK's own HTTP client, sent to the inbox's API host and keeping the last headers
    (each thread its own).

    ``TwilioRestException`` drops the response headers; ``Retry-After`` is read from here.
    """

    def __init__(self, base_url: str, *, timeout: float) -> None:
        super().__init__(timeout=timeout)
        # The SDK never follows redirects; every connection still goes only to addresses the
        # SSRF guard allows (the base URL is the tenant's to choose).
        # Sized for the threads that share it (a campaign's send threads): a smaller pool
        # would close every connection it has no room for, and open a new one next time.
        guard_session(self.session, pool_maxsize=SHARED_POOL_SIZE)
        # requests re-reads proxy and CA settings from the environment on every request (a
        # third of a send's CPU); with none of them set there is nothing to read.
        if self.session is not None and not any(map(os.environ.get, REQUESTS_ENVIRONMENT)):
            self.session.trust_env = False
        parts = urlsplit(base_url.rstrip("/"))
        self._scheme, self._netloc = parts.scheme, parts.netloc
        self._override = base_url.rstrip("/") != DEFAULT_API_BASE_URL
        self._local = threading.local()

    @property
    def last_headers(self) -> dict:
        return getattr(self._local, "headers", {})

    def request(self, method, url, **kwargs):
        if self._override:
            parts = urlsplit(url)
            url = parts._replace(scheme=self._scheme, netloc=self._netloc).geturl()
        self._local.headers = {}
        response = super().request(method, url, **kwargs)
        self._local.headers = dict(response.headers or {})
        return response


def status_callback_url(inbox) -> str:
    return webhook_url(inbox, "status")


class TwilioProvider(InboxProvider):
    key = "twilio"
    label = "Twilio"
    kinds = (Channel.SMS, Channel.WHATSAPP)
    credentials = TwilioCredentials()
    webhooks = "inbox.webhooks.twilio"
    capabilities = Capabilities(media=True)

    thread_safe = True

    def __init__(self, inbox) -> None:
        super().__init__(inbox)
        self._building = threading.Lock()
        self.is_whatsapp = inbox.kind == Channel.WHATSAPP
        if self.is_whatsapp:
            self.capabilities = Capabilities(
                media=True, read_receipts=True, session_window_hours=24
            )
        else:
            self.capabilities = Capabilities(media=True)

    # --- configuration ------------------------------------------------------------------------

    def _address(self, e164: str) -> str:
        return f"whatsapp:{e164}" if self.is_whatsapp else e164

    def client(self) -> tuple[Client, _InboxHttpClient]:
        """The SDK client, built once per provider object: its HTTP session (and connection
        pool) is then reused by every send, from any thread."""
        if not hasattr(self, "_client"):
            with self._building:
                if not hasattr(self, "_client"):
                    self._client = self._build_client()
        return self._client

    def _build_client(self) -> tuple[Client, _InboxHttpClient]:
        creds = self._credentials()
        if not creds.get("account_sid") or not creds.get("auth_token"):
            raise ProviderError(
                "This inbox has no Twilio account SID or auth token; ask an admin to add them.",
                code="credentials",
                permanent=True,
            )
        base_url = str(self.inbox.option("api_base_url", DEFAULT_API_BASE_URL))
        try:
            check_public_url(base_url)
        except UnsafeURL as exc:
            raise ProviderError(
                f"This inbox's API base URL is not allowed: {exc}",
                code="unsafe_url",
                permanent=True,
            ) from exc
        http = _InboxHttpClient(
            base_url,
            timeout=float(self.inbox.option("api_timeout", DEFAULT_TIMEOUT_SECONDS)),
        )
        # A non-empty environment keeps TWILIO_EDGE/TWILIO_REGION from rewriting the host.
        client = Client(
            creds["account_sid"],
            creds["auth_token"],
            http_client=http,
            environment={"CENTRO": "1"},
        )
        return client, http

    def prepare(self) -> None:
        """Do the first send's one-off work now (the SDK's lazily imported REST modules, the
        URLconf behind the status callback URL), so that a paced send goes out when its turn
        comes rather than seconds later."""
        client, _ = self.client()
        client.api.v2010.account.messages  # noqa: B018  (the attribute access imports them)
        status_callback_url(self.inbox)

    # --- sending ------------------------------------------------------------------------------

    def send(self, message: OutboundMessage) -> ProviderResult:
        params: dict = {
            "to": self._address(message.recipient),
            "status_callback": status_callback_url(self.inbox),
        }
        service_sid = self.inbox.option("messaging_service_sid")
        if service_sid:
            params["messaging_service_sid"] = service_sid
        else:
            params["from_"] = self._address(self.inbox.address)
        if message.template is not None:
            params["content_sid"] = message.template.content_sid
            if message.template.variables:
                params["content_variables"] = json.dumps(dict(message.template.variables))
        else:
            if message.body:
                params["body"] = message.body
            if message.media_urls:
                params["media_url"] = list(message.media_urls)
        client, http = self.client()
        try:
            created = client.messages.create(**params)
        except TwilioRestException as exc:
            detail = str(exc.msg or "").removeprefix("Unable to create record: ")
            raise self._api_error(exc.status, exc.code, detail, http.last_headers) from exc
        except TwilioServiceException as exc:  # the RFC 9457 error shape
            detail = exc.detail or exc.title or ""
            raise self._api_error(exc.status, exc.code, detail, http.last_headers) from exc
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise ProviderError(
                "Twilio could not be reached (network error or timeout); retrying.",
                code="network",
                permanent=False,
            ) from exc
        except UnsafeURL as exc:  # the API host resolves to a private address now
            raise ProviderError(
                f"This inbox's API base URL is not allowed: {exc}",
                code="unsafe_url",
                permanent=True,
            ) from exc
        except TwilioException as exc:  # e.g. a malformed answer
            raise ProviderError(
                f"Twilio answered unexpectedly ({exc}); retrying.", code="api", permanent=False
            ) from exc
        return ProviderResult(
            provider_message_id=created.sid,
            status=STATUS_MAP.get(created.status or "", Message.Status.QUEUED),
            raw={"status": created.status, "to": created.to, "from": created.from_},
        )

    def _api_error(self, status, code, detail: str, headers: dict) -> ProviderError:
        status = int(status or 0)
        try:
            code = int(code or status)
        except (TypeError, ValueError):
            code = status
        if status == 429 or code in RETRYABLE_SEND_ERRORS or status >= 500:
            retry_after = parse_retry_after(
                next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
            )
            return ProviderError.from_http_status(
                429 if status < 500 else status,
                service="Twilio",
                code=str(code),
                retry_after=retry_after,
            )
        return ProviderError(
            error_message(code, detail) or f"Twilio refused the message: {detail}",
            code=str(code),
            permanent=True,
            opt_out=str(code) in OPT_OUT_ERROR_CODES,
        )

    def fetch_account(self) -> dict:
        """The account resource (``friendly_name``, ``status``): "test connection"."""
        client, _ = self.client()
        try:
            account = client.api.v2010.accounts(self._credentials()["account_sid"]).fetch()
        except TwilioRestException as exc:
            raise ProviderError.from_http_status(
                exc.status, service="Twilio", detail=str(exc.msg or "")
            ) from exc
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise ProviderError(
                f"Twilio could not be reached ({type(exc).__name__}).",
                code="network",
                permanent=False,
            ) from exc
        except UnsafeURL as exc:
            raise ProviderError(
                f"This inbox's API base URL is not allowed: {exc}",
                code="unsafe_url",
                permanent=True,
            ) from exc
        except TwilioException as exc:
            raise ProviderError(
                f"Twilio answered unexpectedly ({exc}).", code="api", permanent=False
            ) from exc
        return {
            "sid": account.sid,
            "friendly_name": account.friendly_name,
            "status": account.status,
        }

    def fetch_media(self, url: str) -> tuple[str, str] | None:
        """The account's basic auth for a media URL, only on Twilio's API host (or the inbox's
        own API base).

        Twilio redirects media to a CDN; httpx drops the Authorization header on cross-origin
        redirects, and we never send the credentials to any other host in the first place.
        """
        credentials = self._credentials()
        account_sid = credentials.get("account_sid", "")
        auth_token = credentials.get("auth_token", "")
        if not account_sid or not auth_token:
            return None
        trusted = {urlsplit(DEFAULT_API_BASE_URL).netloc}
        api_base = self.inbox.option("api_base_url", "")
        if api_base:
            trusted.add(urlsplit(api_base).netloc.lower())
        return (account_sid, auth_token) if urlsplit(url).netloc.lower() in trusted else None

    # --- webhooks -----------------------------------------------------------------------------

    def verify(self, request, event_type: str = "") -> bool:
        """``X-Twilio-Signature`` over the URL Twilio was told to call and every POSTed
        parameter. That URL is the public one (PUBLIC_BASE_URL, behind a proxy) or the one the
        request reached (a local server called by its own address, as ``manage.py
        simulate_inbound --url`` does); either way only the auth token can sign it."""
        token = self._credentials().get("auth_token")
        signature = request.META.get("HTTP_X_TWILIO_SIGNATURE", "")
        if not token or not signature:
            return False
        params = request.POST if request.method == "POST" else {}
        validator = RequestValidator(token)
        return any(validator.validate(url, params, signature) for url in _signed_urls(request))

    # Identifiers (SIDs, phone numbers, URLs, content types) with a control character are refused
    # as malformed; free text (the body, names, error messages) keeps its text without them.

    def _param(self, params, name: str) -> str:
        """An identifier parameter, trimmed; malformed when it holds a control character."""
        value = (params.get(name) or "").strip()
        if has_control_chars(value):
            raise MalformedWebhook(
                f"The {name} parameter “{shown(value)}” contains control characters."
            )
        return value

    def _phone(self, params, name: str) -> str:
        raw = self._param(params, name)
        if not raw:
            raise MalformedWebhook(f"The Twilio webhook has no {name} parameter.")
        try:
            return normalize_phone(raw, self.inbox.tenant.default_region)
        except InvalidPhone as exc:
            raise MalformedWebhook(f"The {name} parameter is not usable: {exc}") from exc

    def _message_sid(self, params) -> str:
        name = "MessageSid" if params.get("MessageSid") else "SmsSid"
        sid = self._param(params, name)
        if not sid:
            raise MalformedWebhook("The Twilio webhook has no MessageSid parameter.")
        if not MESSAGE_SID.fullmatch(sid):
            raise MalformedWebhook(f"“{shown(sid)}” is not a Twilio message SID.")
        return sid

    def _media(self, params) -> tuple[InboundMedia, ...]:
        raw_count = self._param(params, "NumMedia") or "0"
        count = ascii_int(raw_count)
        if count is None:
            raise MalformedWebhook(f"NumMedia “{shown(raw_count, 20)}” is not a number.")
        media = []
        for index in range(count):
            url = self._param(params, f"MediaUrl{index}")
            if not url.startswith(("https://", "http://")) or not _is_url(url):
                raise MalformedWebhook(
                    f"NumMedia is {count} but MediaUrl{index} is missing or not a URL."
                )
            content_type = self._param(params, f"MediaContentType{index}")
            if content_type and not is_media_type(content_type):
                raise MalformedWebhook(
                    f"MediaContentType{index} “{shown(content_type)}” is not a media type."
                )
            media.append(InboundMedia(url=url, content_type=content_type))
        return tuple(media)

    def _metadata(self, params, keys: tuple[str, ...]) -> dict[str, str]:
        found = {key: clean_text(params.get(key))[:MAX_METADATA_CHARS] for key in keys}
        return {key: value for key, value in found.items() if value}

    def parse(self, request) -> list[MessageReceived | StatusEvent]:
        """The request's events: a status callback carries ``MessageStatus``, an inbound
        message does not."""
        params = request.POST
        if params.get("MessageStatus"):
            return [self.parse_status(params)]
        return self.parse_inbound(params)

    def parse_inbound(self, params) -> list[MessageReceived]:
        sid = self._message_sid(params)
        sender = self._phone(params, "From")
        recipient = self._phone(params, "To")
        media = self._media(params)
        from_raw = params.get("From") or ""
        metadata = {
            "channel": "whatsapp" if from_raw.lower().startswith("whatsapp:") else "sms",
            **self._metadata(params, INBOUND_METADATA_KEYS),
        }
        return [
            MessageReceived(
                external_id=sid,
                sender=sender,
                recipient=recipient,
                body=clean_text(params.get("Body")),
                profile_name=clean_text(params.get("ProfileName")).strip()[:200],
                media=media,
                metadata=metadata,
            )
        ]

    def parse_status(self, params) -> StatusEvent:
        sid = self._message_sid(params)
        name = "MessageStatus" if params.get("MessageStatus") else "SmsStatus"
        raw_status = self._param(params, name)
        if not raw_status:
            raise MalformedWebhook("The Twilio status callback has no MessageStatus parameter.")
        if raw_status in INBOUND_STATUSES:
            raise MalformedWebhook(
                f"MessageStatus “{shown(raw_status)}” belongs to an inbound message, "
                "not to a status callback of a sent one."
            )
        if raw_status not in STATUS_MAP:
            raise MalformedWebhook(
                f"MessageStatus “{shown(raw_status, 40)}” is not one of {', '.join(STATUS_MAP)}."
            )
        code = self._param(params, "ErrorCode")
        if code and not ERROR_CODE.fullmatch(code):
            raise MalformedWebhook(f"ErrorCode “{shown(code, 20)}” is not a Twilio error code.")
        text = error_message(code, clean_text(params.get("ErrorMessage"))) if code else ""
        if raw_status == "canceled" and not text:
            text = "The scheduled message was canceled before it was sent."
        return StatusEvent(
            provider_message_id=sid,
            status=STATUS_MAP[raw_status],
            error_code=code,
            error_message=text,
            opt_out=code in OPT_OUT_ERROR_CODES,
            metadata={
                "twilio_status": raw_status,
                **self._metadata(params, STATUS_METADATA_KEYS),
            },
        )


def _is_url(value: str) -> bool:
    """An absolute ASCII URL with a host and no white space (Twilio's media URLs are)."""
    if not value.isascii() or any(c.isspace() for c in value):
        return False
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (raises ValueError for a port that is not a number)
    except ValueError:
        return False
    return bool(parts.hostname)


def _signed_urls(request) -> list[str]:
    """The URLs a genuine signature may cover: the public one, then the one requested."""
    urls = [settings.PUBLIC_BASE_URL.rstrip("/") + request.get_full_path()]
    with contextlib.suppress(DisallowedHost):  # a Host this site does not answer to
        urls.append(request.build_absolute_uri())
    return urls
