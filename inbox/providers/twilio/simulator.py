"""A fake Twilio on 127.0.0.1 speaking Twilio's wire format: for tests and the demo.

NOT Twilio. Every answer carries ``X-Twilio-Simulator: centro`` so nobody mistakes it.

Serves:
- ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` (form body; HTTP Basic auth
  ``AccountSid:AuthToken``) -> 201 with a Message resource (fresh ``SM…`` sid, status
  ``queued``), or a scripted answer (429/500/400 with Twilio's error codes).
- ``GET  /2010-04-01/Accounts/{AccountSid}.json`` -> the account (what "test connection" reads).
- ``GET  /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json`` -> the stored message.
- ``GET  /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}/Media/{MediaSid}`` -> media bytes
  registered with :meth:`TwilioSimulator.add_media` (inbound media fetching).

With ``callbacks=True`` it then POSTs ``sent`` and ``delivered`` status callbacks to the
message's ``StatusCallback``, signed the way Twilio signs (HMAC-SHA1 with the auth token).

Tests: ``server, base_url = start()``; ``server.queue_response(status=429, code=20429,
headers={"Retry-After": "2"})``; ``server.sent`` lists what the SDK posted.
Demo: ``python -m inbox.providers.twilio.simulator --port 8765 --callbacks`` (stops cleanly on
SIGTERM).
"""

import argparse
import base64
import json
import mimetypes
import re
import secrets
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode

from twilio.request_validator import RequestValidator

from inbox.providers.simulator_serving import serve_until_stopped

SIMULATOR_HEADER = ("X-Twilio-Simulator", "centro (a local fake, not Twilio)")
MESSAGES = re.compile(r"^/2010-04-01/Accounts/(?P<account>AC\w+)/Messages\.json$")
ACCOUNT = re.compile(r"^/2010-04-01/Accounts/(?P<account>AC\w+)\.json$")
MESSAGE = re.compile(r"^/2010-04-01/Accounts/(?P<account>AC\w+)/Messages/(?P<sid>\w+)\.json$")
MEDIA = re.compile(
    r"^/2010-04-01/Accounts/(?P<account>AC\w+)/Messages/(?P<sid>\w+)/Media/(?P<media>\w+)$"
)
ERROR_MESSAGES = {
    20003: "Authenticate",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    21211: "The 'To' number is not a valid phone number.",
    21408: "Permission to send an SMS has not been enabled for the region indicated by "
    "the 'To' number",
    21610: "Attempt to send to unsubscribed recipient",
    21614: "'To' number is not a valid mobile number",
    63016: "Failed to send freeform message because you are outside the allowed window. "
    "If you are using WhatsApp, please use a Message Template.",
}


def new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def rfc2822(moment: datetime | None = None) -> str:
    return format_datetime(moment or datetime.now(UTC), usegmt=False).replace("-0000", "+0000")


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict
    form: dict[str, list[str]]
    account_sid: str = ""
    authenticated: bool = False
    # When it arrived (time.monotonic()): pacing tests count requests per second.
    received_at: float = field(default_factory=time.monotonic)

    @property
    def params(self) -> dict[str, str]:
        """The form with one value per name (the first); ``form`` keeps repeats (MediaUrl)."""
        return {name: values[0] for name, values in self.form.items()}


@dataclass
class ScriptedResponse:
    status: int
    body: dict | str | None = None
    headers: dict = field(default_factory=dict)
    delay: float = 0.0


class TwilioSimulator(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        *,
        accounts: dict[str, str] | None = None,
        callbacks: bool = False,
        callback_delay: float = 0.5,
    ) -> None:
        super().__init__(address, _Handler)
        # None: accept any AC… credentials (the demo); a dict: only these sid -> token.
        self.accounts = accounts
        self.callbacks = callbacks
        self.callback_delay = callback_delay
        self.lock = threading.Lock()
        self.reset(accounts=False)

    def handle_error(self, request, client_address) -> None:
        # A client that gave up (a timeout test) is not an error of the simulator.
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    # --- scripting (tests) --------------------------------------------------------------------

    def reset(self, *, accounts: bool = True) -> None:
        """Forget requests, messages, media and scripted answers (and registered accounts)."""
        with self.lock:
            self.requests: list[RecordedRequest] = []
            self.messages: dict[str, dict] = {}
            self.media: dict[tuple[str, str, str], tuple[bytes, str]] = {}
            self.scripted: deque[ScriptedResponse] = deque()
            self.callback_log: list[tuple[str, dict, int | str]] = []
            if accounts and self.accounts is not None:
                self.accounts = {}

    def add_account(self, account_sid: str, auth_token: str) -> None:
        with self.lock:
            if self.accounts is None:
                self.accounts = {}
            self.accounts[account_sid] = auth_token

    def queue_response(
        self,
        *,
        status: int,
        code: int | None = None,
        message: str | None = None,
        headers: dict | None = None,
        body: dict | str | None = None,
        times: int = 1,
        delay: float = 0.0,
    ) -> None:
        """Answer the next ``times`` message creations with this instead of a 201."""
        if body is None and status >= 400:
            code = code if code is not None else (20429 if status == 429 else status)
            body = {
                "code": code,
                "message": message or ERROR_MESSAGES.get(code, "Simulated error"),
                "more_info": f"https://www.twilio.com/docs/errors/{code}",
                "status": status,
            }
        with self.lock:
            for _ in range(times):
                self.scripted.append(ScriptedResponse(status, body, dict(headers or {}), delay))

    def add_media(self, account_sid: str, content: bytes, content_type: str = "image/jpeg") -> str:
        """Register media bytes; returns its Twilio-style URL on this server."""
        message_sid, media_sid = new_sid("MM"), new_sid("ME")
        with self.lock:
            self.media[(account_sid, message_sid, media_sid)] = (content, content_type)
        path = f"/2010-04-01/Accounts/{account_sid}/Messages/{message_sid}/Media/{media_sid}"
        return self.base_url + path

    @property
    def sent(self) -> list[RecordedRequest]:
        """The message-creation requests received (authenticated or not), oldest first."""
        with self.lock:
            return [r for r in self.requests if r.method == "POST" and MESSAGES.match(r.path)]

    # --- internals ----------------------------------------------------------------------------

    def check_auth(self, header: str, account_sid: str) -> str | None:
        """The auth token when ``header`` authenticates ``account_sid``, else None."""
        if not header.startswith("Basic "):
            return None
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        if user != account_sid or not password:
            return None
        with self.lock:
            if self.accounts is None:
                return password
            expected = self.accounts.get(account_sid)
        return (
            password
            if expected is not None and secrets.compare_digest(expected, password)
            else None
        )

    def next_scripted(self) -> ScriptedResponse | None:
        with self.lock:
            return self.scripted.popleft() if self.scripted else None

    def deliver_callbacks(self, url: str, token: str, message: dict) -> None:
        time.sleep(self.callback_delay)
        for status in ("sent", "delivered"):
            params = {
                "AccountSid": message["account_sid"],
                "ApiVersion": "2010-04-01",
                "From": message["from"] or "",
                "MessageSid": message["sid"],
                "MessageStatus": status,
                "SmsSid": message["sid"],
                "SmsStatus": status,
                "To": message["to"],
            }
            if message.get("messaging_service_sid"):
                params["MessagingServiceSid"] = message["messaging_service_sid"]
            signature = RequestValidator(token).compute_signature(url, params)
            if not url.startswith(("http://", "https://")):
                with self.lock:
                    self.callback_log.append((url, params, "error: not an http(s) URL"))
                return
            request = urllib.request.Request(  # noqa: S310  (http(s) only, checked above)
                url,
                data=urlencode(params).encode(),
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "X-Twilio-Signature": signature,
                    "User-Agent": "TwilioProxy/1.1 (centro simulator)",
                    SIMULATOR_HEADER[0]: SIMULATOR_HEADER[1],
                },
                method="POST",
            )
            try:
                with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                    outcome: int | str = response.status
            except urllib.error.HTTPError as exc:
                outcome = exc.code
            except OSError as exc:
                outcome = f"error: {exc}"
            with self.lock:
                message["status"] = status
                self.callback_log.append((url, params, outcome))
            time.sleep(self.callback_delay)


class _Handler(BaseHTTPRequestHandler):
    server: TwilioSimulator
    protocol_version = "HTTP/1.1"
    server_version = "TwilioSimulator/1.0"
    # Headers and body go out as two writes; with Nagle on, a kept-alive connection waits for
    # the client's delayed ACK (40 ms) before the body.
    disable_nagle_algorithm = True

    def log_message(self, format, *args) -> None:  # quiet: tests read .requests
        pass

    def _reply(self, status: int, body, headers: dict | None = None) -> None:
        if isinstance(body, (dict, list)):
            payload, content_type = json.dumps(body).encode(), "application/json"
        elif isinstance(body, bytes):
            payload, content_type = (
                body,
                (headers or {}).pop("Content-Type", "application/octet-stream"),
            )
        else:
            payload, content_type = (body or "").encode(), "application/json"
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Twilio-Request-Id", new_sid("RQ"))
        self.send_header(*SIMULATOR_HEADER)
        for name, value in (headers or {}).items():
            self.send_header(name, str(value))
        self.end_headers()
        self.wfile.write(payload)

    def _error(self, status: int, code: int, message: str) -> None:
        self._reply(
            status,
            {
                "code": code,
                "message": f"{message} (centro Twilio simulator)",
                "more_info": f"https://www.twilio.com/docs/errors/{code}",
                "status": status,
            },
        )

    def _record(self, account_sid: str, token: str | None) -> RecordedRequest:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else ""
        record = RecordedRequest(
            method=self.command,
            path=self.path.split("?", 1)[0],
            headers=dict(self.headers.items()),
            form=parse_qs(raw, keep_blank_values=True),
            account_sid=account_sid,
            authenticated=token is not None,
        )
        with self.server.lock:
            self.server.requests.append(record)
        return record

    def _authenticate(self, account_sid: str) -> str | None:
        return self.server.check_auth(self.headers.get("Authorization", ""), account_sid)

    def do_POST(self) -> None:
        match = MESSAGES.match(self.path.split("?", 1)[0])
        token = self._authenticate(match["account"]) if match else None
        record = self._record(match["account"] if match else "", token)
        if not match:
            return self._error(404, 20404, "The requested resource was not found")
        if token is None:
            return self._error(401, 20003, "Authenticate")
        scripted = self.server.next_scripted()
        if scripted is not None:
            if scripted.delay:
                time.sleep(scripted.delay)
            return self._reply(scripted.status, scripted.body, scripted.headers)
        self._create_message(record, token)

    def _create_message(self, record: RecordedRequest, token: str) -> None:
        params = record.params
        if not params.get("To"):
            return self._error(400, 21604, "A 'To' phone number is required.")
        if not params.get("From") and not params.get("MessagingServiceSid"):
            return self._error(400, 21603, "A 'From' phone number is required.")
        if not (params.get("Body") or params.get("MediaUrl") or params.get("ContentSid")):
            return self._error(400, 21602, "Message body is required.")
        sid, account = new_sid("SM"), record.account_sid
        service = params.get("MessagingServiceSid")
        now = rfc2822()
        message = {
            "account_sid": account,
            "api_version": "2010-04-01",
            "body": params.get("Body", ""),
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": params.get("From") or None,
            "messaging_service_sid": service or None,
            "num_media": str(len(record.form.get("MediaUrl", []))),
            "num_segments": "0" if service and not params.get("From") else "1",
            "price": None,
            "price_unit": None,
            "sid": sid,
            "status": "accepted" if service and not params.get("From") else "queued",
            "subresource_uris": {
                "media": f"/2010-04-01/Accounts/{account}/Messages/{sid}/Media.json"
            },
            "to": params["To"],
            "uri": f"/2010-04-01/Accounts/{account}/Messages/{sid}.json",
        }
        with self.server.lock:
            self.server.messages[sid] = message
        self._reply(201, message)
        callback = params.get("StatusCallback")
        if self.server.callbacks and callback:
            threading.Thread(
                target=self.server.deliver_callbacks,
                args=(callback, token, message),
                daemon=True,
            ).start()

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        media, message, account = MEDIA.match(path), MESSAGE.match(path), ACCOUNT.match(path)
        match = media or message or account
        token = self._authenticate(match["account"]) if match else None
        self._record(match["account"] if match else "", token)
        if not match:
            return self._error(404, 20404, "The requested resource was not found")
        if token is None:
            return self._error(401, 20003, "Authenticate")
        if account:
            return self._reply(200, account_resource(account["account"]))
        with self.server.lock:
            if media:
                found = self.server.media.get((media["account"], media["sid"], media["media"]))
            else:
                found = self.server.messages.get(message["sid"])
        if found is None:
            return self._error(404, 20404, "The requested resource was not found")
        if media:
            content, content_type = found
            return self._reply(200, content, {"Content-Type": content_type})
        self._reply(200, found)


def inbound_params(
    inbox, *, sender: str, body: str, media_urls=(), profile_name: str = ""
) -> dict[str, str]:
    """The form fields of a Twilio inbound message from ``sender`` (E.164) to ``inbox``."""
    sid = "SM" + secrets.token_hex(16)
    credentials = inbox.get_credentials()
    prefix = "whatsapp:" if inbox.kind == "whatsapp" else ""
    params = {
        "MessageSid": sid,
        "SmsMessageSid": sid,
        "SmsSid": sid,
        "AccountSid": credentials.get("account_sid", ""),
        "From": prefix + sender,
        "To": prefix + inbox.address,
        "Body": body,
        "NumMedia": str(len(media_urls)),
        "NumSegments": "1",
        "SmsStatus": "received",
        "ApiVersion": "2010-04-01",
    }
    service_sid = (inbox.settings or {}).get("messaging_service_sid") or credentials.get(
        "messaging_service_sid"
    )
    if service_sid:
        params["MessagingServiceSid"] = service_sid
    if inbox.kind == "whatsapp":
        params["ProfileName"] = profile_name
        params["WaId"] = sender.lstrip("+")
    for index, url in enumerate(media_urls):
        content_type, _ = mimetypes.guess_type(url.split("?", 1)[0])
        params[f"MediaUrl{index}"] = url
        params[f"MediaContentType{index}"] = content_type or "application/octet-stream"
    return params


def sign(inbox, url: str, params: dict[str, str]) -> str:
    return RequestValidator(inbox.get_credentials().get("auth_token", "")).compute_signature(
        url, params
    )


@dataclass(frozen=True)
class InboundRequest:
    path: str  # the inbox's webhook path; the caller chooses the server
    data: dict[str, str]
    headers: dict[str, str]
    message_id: str


def inbound_request(
    inbox,
    *,
    sender: str,
    body: str,
    media_urls=(),
    profile_name: str = "",
    base_url: str | None = None,
) -> InboundRequest:
    """A Twilio inbound message webhook for ``inbox``, signed with its auth token for the URL
    it will be posted to: ``base_url`` + the inbox's inbound path, PUBLIC_BASE_URL by default
    (what ``manage.py simulate_inbound`` posts)."""
    from django.conf import settings

    from inbox.providers import webhook_url

    if not inbox.get_credentials().get("auth_token"):
        raise ValueError("The inbox has no Twilio auth token to sign with.")
    if len(media_urls) > 10:
        raise ValueError("Twilio sends at most 10 media items per message.")
    path = webhook_url(inbox, "inbound").removeprefix(settings.PUBLIC_BASE_URL.rstrip("/"))
    url = (base_url or settings.PUBLIC_BASE_URL).rstrip("/") + path
    params = inbound_params(
        inbox, sender=sender, body=body, media_urls=media_urls, profile_name=profile_name
    )
    return InboundRequest(
        path=path,
        data=params,
        headers={
            "X-Twilio-Signature": sign(inbox, url, params),
            "User-Agent": "TwilioProxy/1.1 (centro simulate_inbound)",
        },
        message_id=params["MessageSid"],
    )


def account_resource(sid: str) -> dict:
    """An Account resource as Twilio answers it (the fields Centro reads, and a few more)."""
    now = rfc2822()
    return {
        "auth_token": "[redacted]",
        "date_created": now,
        "date_updated": now,
        "friendly_name": "Centro simulator account",
        "owner_account_sid": sid,
        "sid": sid,
        "status": "active",
        "type": "Full",
        "uri": f"/2010-04-01/Accounts/{sid}.json",
    }


def start(
    port: int = 0,
    *,
    host: str = "127.0.0.1",
    accounts: dict[str, str] | None = None,
    callbacks: bool = False,
    callback_delay: float = 0.5,
) -> tuple[TwilioSimulator, str]:
    """Run a simulator in a background thread; ``server.shutdown(); server.server_close()``."""
    server = TwilioSimulator(
        (host, port), accounts=accounts, callbacks=callbacks, callback_delay=callback_delay
    )
    threading.Thread(target=server.serve_forever, name="twilio-simulator", daemon=True).start()
    return server, server.base_url


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A fake Twilio for local demos (not Twilio).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument(
        "--callbacks",
        action="store_true",
        help="POST signed 'sent' then 'delivered' status callbacks after each send.",
    )
    parser.add_argument("--callback-delay", type=float, default=1.0)
    args = parser.parse_args(argv)
    server = TwilioSimulator(
        (args.host, args.port), callbacks=args.callbacks, callback_delay=args.callback_delay
    )

    serve_until_stopped(
        server,
        f"Twilio simulator (a local fake, not Twilio) on {server.base_url}"
        f"{' with status callbacks' if args.callbacks else ''}",
    )


if __name__ == "__main__":
    main()
