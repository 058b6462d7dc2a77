"""A fake BlueBubbles server on 127.0.0.1 speaking its wire format: for tests and the demo.

NOT BlueBubbles (no Mac, no Messages): every answer and every webhook it posts carries
``X-BlueBubbles-Simulator: centro (a local fake, not BlueBubbles)`` so nobody mistakes it.

Speaks the REST routes Centro calls: the ``password`` query parameter, the
``{status, message, data}`` envelope and its error shapes, text, attachment and new-chat sends,
availability, typing, read, message query and attachment downloads. Builds the webhook
payloads the server posts (``new-message`` with ``chats``, the ``tempGuid`` echo,
``updated-message`` without ``chats``) from shapes kept here, never from tests/. Facts:
../shared/providers/bluebubbles.md.

With a ``webhook_url`` it then posts, after each send, what a real server posts: the
``new-message`` echo with our ``tempGuid`` and its plain copy (either order happens for real),
``updated-message`` delivered, read a bit later (one-to-one chats only: group reads are never
reported), and with ``typing`` the contact typing a reply.

Tests: ``server = start()``; ``server.sent`` lists what it "sent"; ``server.echo(sent)`` and
``server.updated(sent, …)`` build the webhooks for a test to post itself.
Demo: ``python -m inbox.providers.bluebubbles.simulator --port 8766 --webhook-url URL --typing``
(stops cleanly on SIGTERM).
"""

import argparse
import copy
import email.parser
import email.policy
import itertools
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, unquote, urlsplit

from inbox.providers.simulator_serving import serve_until_stopped

SIMULATOR_HEADER = ("X-BlueBubbles-Simulator", "centro (a local fake, not BlueBubbles)")
PASSWORD = "bb-server-password"  # noqa: S105  (the simulator's own, shown in the README)
# The demo passes the inbox's webhook URL here rather than on the command line (it holds the
# inbox's secret, and command lines are visible to every user of the machine).
WEBHOOK_URL_ENV = "BLUEBUBBLES_SIMULATOR_WEBHOOK_URL"
_rowids = itertools.count(48300)

# A Message in the notification shape (MessageSerializer with isForNotification), as the
# server posts it in ``new-message``; tests/fixtures/bluebubbles/new_message.json is the same.
MESSAGE = {
    "originalROWID": 48213,
    "guid": "5B3F9C1E-2A4D-4F7B-9E1C-7A2B3C4D5E6F",
    "text": "Hi, is my order ready?",
    "attributedBody": None,
    "handle": {
        "originalROWID": 112,
        "address": "+14155550111",
        "service": "iMessage",
        "country": "us",
        "uncanonicalizedId": None,
    },
    "handleId": 112,
    "otherHandle": 0,
    "attachments": [],
    "subject": None,
    "error": 0,
    "dateCreated": 1767225600000,
    "dateRead": None,
    "dateDelivered": None,
    "isDelivered": True,
    "isFromMe": False,
    "hasDdResults": False,
    "isArchived": False,
    "itemType": 0,
    "groupTitle": None,
    "groupActionType": 0,
    "balloonBundleId": None,
    "associatedMessageGuid": None,
    "associatedMessageType": None,
    "expressiveSendStyleId": None,
    "threadOriginatorGuid": None,
    "hasPayloadData": False,
    "chats": [
        {
            "originalROWID": 37,
            "guid": "iMessage;-;+14155550111",
            "style": 45,
            "chatIdentifier": "+14155550111",
            "isArchived": False,
            "displayName": "",
        }
    ],
    "messageSummaryInfo": None,
    "payloadData": None,
    "dateEdited": None,
    "dateRetracted": None,
    "partCount": 1,
}


def now_millis() -> int:
    return int(time.time() * 1000)


def dm_guid(address: str, service: str = "iMessage") -> str:
    return f"{service};-;{address}"


def message_data(
    *,
    guid: str | None = None,
    text: str = "",
    address: str = "+14155550111",
    is_from_me: bool = False,
    chat_guid: str | None = None,
    with_chats: bool = True,
    **fields,
) -> dict:
    """A Message in the notification shape (MessageSerializer with isForNotification)."""
    data = copy.deepcopy(MESSAGE)
    chat = data["chats"][0]
    chat["guid"] = chat_guid or dm_guid(address)
    chat["chatIdentifier"] = address
    data.update(
        originalROWID=next(_rowids),
        guid=guid or str(uuid.uuid4()).upper(),
        text=text,
        isFromMe=is_from_me,
        isDelivered=not is_from_me,
        dateCreated=now_millis(),
        handle={**data["handle"], "address": address},
    )
    data.update(fields)
    if not with_chats:
        del data["chats"]
    return data


def event(kind: str, data: dict) -> dict:
    return {"type": kind, "data": data}


class BlueBubblesSimulator(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int] = ("127.0.0.1", 0),
        *,
        password: str = PASSWORD,
        webhook_url: str = "",
        webhook_delay: float = 0.5,
        typing: bool = False,
    ) -> None:
        super().__init__(address, _Handler)
        self.password = password
        # Where the webhooks of its sends go ("": nowhere; a test posts them itself).
        self.webhook_url = webhook_url
        self.webhook_delay = webhook_delay
        self.typing = typing
        self.lock = threading.Lock()
        self.reset()

    def handle_error(self, request, client_address) -> None:
        # A client that gave up (a timeout test) is not an error of the simulator.
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)

    def reset(self) -> None:
        self.requests: list[tuple[str, str, dict]] = []  # (method, path, body or form)
        self.sent: list[dict] = []  # every message the server "sent", in its Message shape
        self.private_api = True
        self.not_imessage: set[str] = set()  # availability says no
        self.send_errors: dict[str, int] = {}  # address -> the error code a send records
        self.attachments: dict[str, tuple[bytes, str]] = {}  # guid -> (content, content type)
        self.down = False  # every route answers 500
        self.webhook_log: list[tuple[str, int | str]] = []  # (event type, answer) posted

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def paths(self, method: str = "") -> list[str]:
        return [path for m, path, _ in self.requests if not method or m == method]

    def echo(self, sent: dict, *, with_temp_guid: bool = True, **fields) -> dict:
        """The ``new-message`` webhook the server posts for one of its sends: with the
        ``tempGuid`` when it matched an API send, without it (the plain copy) otherwise."""
        data = copy.deepcopy(sent)
        if not with_temp_guid:
            data.pop("tempGuid", None)
        data.update(fields)
        return event("new-message", data)

    def updated(self, sent: dict, **fields) -> dict:
        """``updated-message`` for a sent message: no ``chats``, no ``tempGuid``."""
        data = copy.deepcopy(sent)
        data.pop("chats", None)
        data.pop("tempGuid", None)
        data.update(fields)
        return event("updated-message", data)

    def record(self, data: dict, kind: str = "new-message") -> dict:
        """A message that reached the Mac (a contact's, or one typed on the Mac): the message
        query route returns it from now on; the webhook the server posts for it is returned,
        for a test to deliver, late or never."""
        self.sent.append(data)
        return event(kind, copy.deepcopy(data))

    # --- webhooks (the demo, and tests of the simulator itself) -------------------------------

    def post_webhook(self, payload: dict) -> int | str:
        """POST ``payload`` to the webhook URL as the server does (JSON, nothing signed); the
        HTTP status, or what went wrong."""
        url = self.webhook_url
        if not url.startswith(("http://", "https://")):
            outcome: int | str = "error: not an http(s) URL"
        else:
            request = urllib.request.Request(  # noqa: S310  (http(s) only, checked above)
                url,
                data=json.dumps(payload).encode(),
                headers={
                    "Content-Type": "application/json",
                    SIMULATOR_HEADER[0]: SIMULATOR_HEADER[1],
                },
                method="POST",
            )
            try:
                with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                    outcome = response.status
            except urllib.error.HTTPError as exc:
                outcome = exc.code
            except OSError as exc:
                outcome = f"error: {exc}"
        with self.lock:
            self.webhook_log.append((payload["type"], outcome))
        return outcome

    def play_send(self, sent: dict) -> None:
        """What the Mac reports after one of our sends: the echoes, delivered, then read, and
        the contact typing a reply (in a one-to-one chat, with ``typing``)."""
        chat_guid = sent["chats"][0]["guid"]
        one_to_one = ";-;" in chat_guid
        time.sleep(self.webhook_delay)
        self.post_webhook(self.echo(sent))
        self.post_webhook(self.echo(sent, with_temp_guid=False))
        time.sleep(self.webhook_delay)
        with self.lock:
            sent.update(dateDelivered=now_millis(), isDelivered=True)
        self.post_webhook(self.updated(sent))
        if not one_to_one:
            return
        time.sleep(self.webhook_delay * 2)
        with self.lock:
            sent["dateRead"] = now_millis()
        self.post_webhook(self.updated(sent))
        if self.typing:
            time.sleep(self.webhook_delay)
            self.post_webhook(event("typing-indicator", {"display": True, "guid": chat_guid}))
            time.sleep(self.webhook_delay * 3)
            self.post_webhook(event("typing-indicator", {"display": False, "guid": chat_guid}))


class _Handler(BaseHTTPRequestHandler):
    server: BlueBubblesSimulator

    def log_message(self, *args) -> None:
        pass

    def handle_one_request(self) -> None:
        self.after_reply: list[Callable[[], object]] = []
        super().handle_one_request()
        # Only once the answer went out: the Mac reports a send after recording it.
        if self.after_reply:
            steps = self.after_reply
            threading.Thread(target=lambda: [step() for step in steps], daemon=True).start()

    # --- plumbing -----------------------------------------------------------------------------

    def _query(self) -> dict:
        return parse_qs(urlsplit(self.path).query)

    def _path(self) -> str:
        return urlsplit(self.path).path

    def _reply(self, status: int, payload: dict) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header(*SIMULATOR_HEADER)
        self.end_headers()
        self.wfile.write(body)

    def _ok(self, message: str, data=None) -> None:
        payload = {"status": 200, "message": message}
        if data is not None:
            payload["data"] = data
        self._reply(200, payload)

    def _error(self, status: int, message: str, kind: str, detail: str, data=None) -> None:
        payload = {"status": status, "message": message, "error": {"type": kind, "message": detail}}
        if data is not None or status == 500:
            payload["data"] = data
        self._reply(status, payload)

    def _authorized(self) -> bool:
        query = self._query()
        token = (query.get("guid") or query.get("password") or query.get("token") or [None])[0]
        if token is None:
            self._error(401, "Unauthorized", "Authentication Error", "Missing server password!")
            return False
        if token.strip() != self.server.password:
            self._error(401, "Unauthorized", "Authentication Error", "Unauthorized")
            return False
        return True

    def _private_api(self) -> bool:
        if self.server.private_api:
            return True
        self._error(
            500,
            "Please make sure you have completed the setup for the Private API, and your helper "
            "is connected!",
            "iMessage Error",
            "iMessage Private API is not enabled!",
        )
        return False

    def _body(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        content_type = self.headers.get("Content-Type", "")
        if content_type.startswith("multipart/form-data"):
            message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                f"Content-Type: {content_type}\r\n\r\n".encode() + raw
            )
            form: dict = {}
            for part in message.iter_parts():
                name = part.get_param("name", header="content-disposition")
                if part.get_filename():
                    form[name] = (part.get_filename(), part.get_payload(decode=True))
                else:
                    form[name] = part.get_content().strip()
            return form
        return json.loads(raw or b"{}")

    def _sent_message(self, *, chat_guid: str, address: str, text: str, temp_guid: str) -> dict:
        data = message_data(
            text=text, address=address, is_from_me=True, chat_guid=chat_guid, isDelivered=False
        )
        if ";+;" in chat_guid:
            data["handle"], data["handleId"] = None, 0  # our own message in a group
        data["error"] = self.server.send_errors.get(address, 0)
        data["tempGuid"] = temp_guid
        self.server.sent.append(data)
        if self.server.webhook_url and not data["error"]:
            self.after_reply.append(partial(self.server.play_send, data))
        return data

    # --- routes -------------------------------------------------------------------------------

    def do_GET(self) -> None:
        path = self._path()
        self.server.requests.append(("GET", path, {k: v[0] for k, v in self._query().items()}))
        if not self._authorized():
            return
        if self.server.down:
            return self._error(500, "Server Error", "Server Error", "Down for the test.")
        if path == "/api/v1/ping":
            return self._ok("Ping received!", "pong")
        if path == "/api/v1/server/info":
            return self._ok(
                "Successfully fetched information",
                {
                    "computer_id": "test-mac",
                    "os_version": "15.5",
                    "server_version": "1.9.9",
                    "private_api": self.server.private_api,
                    "helper_connected": self.server.private_api,
                    "proxy_service": "lan-url",
                    "detected_icloud": "shop@icloud.com",
                    "detected_imessage": "shop@icloud.com",
                    "macos_time_sync": None,
                    "local_ipv4s": ["127.0.0.1"],
                    "local_ipv6s": [],
                },
            )
        if path == "/api/v1/handle/availability/imessage":
            if not self._private_api():
                return
            address = self._query()["address"][0]
            return self._ok("Success", {"available": address not in self.server.not_imessage})
        if path.startswith("/api/v1/attachment/") and path.endswith("/download"):
            guid = unquote(path.removeprefix("/api/v1/attachment/").removesuffix("/download"))
            if guid not in self.server.attachments:
                return self._error(404, "Not found", "Database Error", "Attachment does not exist!")
            content, content_type = self.server.attachments[guid]
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(content)))
            self.send_header(*SIMULATOR_HEADER)
            self.end_headers()
            self.wfile.write(content)
            return None
        return self._error(404, "Not found", "Server Error", "Route not found")

    def do_DELETE(self) -> None:
        self.do_POST()

    def do_POST(self) -> None:
        path = self._path()
        body = self._body()
        self.server.requests.append((self.command, path, body))
        if not self._authorized():
            return
        if self.server.down:
            return self._error(500, "Server Error", "Server Error", "Down for the test.")
        if path == "/api/v1/message/text":
            if not body.get("chatGuid"):
                return self._error(
                    400,
                    "You've made a bad request! Please check your request params & body",
                    "Validation Error",
                    "The chatGuid field is required.",
                )
            chat_guid = body["chatGuid"]
            address = chat_guid.split(";-;", 1)[-1]
            return self._sent(
                self._sent_message(
                    chat_guid=chat_guid,
                    address=address,
                    text=body.get("message", ""),
                    temp_guid=body.get("tempGuid", ""),
                ),
                "Message sent!",
            )
        if path == "/api/v1/chat/new":
            [address] = body["addresses"]
            chat_guid = dm_guid(address, body.get("service") or "iMessage")
            sent = self._sent_message(
                chat_guid=chat_guid,
                address=address,
                text=body.get("message", ""),
                temp_guid=body.get("tempGuid", ""),
            )
            if sent["error"]:
                return self._sent(sent, "")
            chat = {**sent["chats"][0], "participants": [], "messages": [sent]}
            return self._ok("Successfully created chat!", chat)
        if path == "/api/v1/message/attachment":
            filename, content = body["attachment"]
            chat_guid = body["chatGuid"]
            sent = self._sent_message(
                chat_guid=chat_guid,
                address=chat_guid.split(";-;", 1)[-1],
                text="\ufffc",
                temp_guid=body.get("tempGuid", ""),
            )
            sent["attachments"] = [
                {
                    "guid": body.get("tempGuid", ""),
                    "transferName": body.get("name") or filename,
                    "totalBytes": len(content),
                }
            ]
            return self._sent(
                {k: v for k, v in sent.items() if k != "tempGuid"}, "Attachment sent!"
            )
        if path.startswith("/api/v1/chat/") and path.endswith(("/typing", "/read")):
            if not self._private_api():
                return None
            if path.endswith("/read"):
                if self.server.webhook_url:
                    # The server tells every webhook that the chat was read (our side).
                    chat_guid = unquote(path.removeprefix("/api/v1/chat/").removesuffix("/read"))
                    read = event("chat-read-status-changed", {"chatGuid": chat_guid, "read": True})
                    self.after_reply.append(partial(self.server.post_webhook, read))
                return self._ok("Successfully marked chat as read!")
            return self._ok("Successfully started typing!")
        if path == "/api/v1/message/query":
            after = body.get("after") or 0
            found = [m for m in self.server.sent if m["dateCreated"] > after]
            offset = body.get("offset") or 0
            page = found[offset : offset + body.get("limit", 100)]
            return self._ok("Successfully fetched messages!", page)
        return self._error(404, "Not found", "Server Error", "Route not found")

    def _sent(self, data: dict, message: str) -> None:
        if data.get("error"):
            return self._error(
                500,
                "Message sent with an error. See attached message",
                "iMessage Error",
                "Message failed to send!",
                data,
            )
        return self._ok(message, data)


def start(
    password: str = PASSWORD,
    *,
    webhook_url: str = "",
    webhook_delay: float = 0.5,
    typing: bool = False,
) -> BlueBubblesSimulator:
    """Run a simulator on a free port in a background thread;
    ``server.shutdown(); server.server_close()`` stops it."""
    server = BlueBubblesSimulator(
        password=password, webhook_url=webhook_url, webhook_delay=webhook_delay, typing=typing
    )
    threading.Thread(target=server.serve_forever, name="bluebubbles-simulator", daemon=True).start()
    return server


@dataclass(frozen=True)
class InboundRequest:
    path: str  # the inbox's webhook path (and query); the caller chooses the server
    data: dict  # the JSON payload
    headers: dict[str, str]
    message_id: str


def inbound_request(
    inbox, *, sender: str, body: str, media_urls=(), profile_name: str = "", base_url=None
) -> InboundRequest:
    """The ``new-message`` webhook the server posts when ``sender`` (E.164 or an email)
    writes to ``inbox`` in a one-to-one chat (what ``manage.py simulate_inbound`` posts).
    BlueBubbles signs nothing: the URL carries the inbox's secret token, and the server
    password when the inbox asks for it, so ``base_url`` (what Twilio signs for) plays no
    part; nor does ``profile_name``: iMessage sends none."""
    from django.conf import settings

    from inbox.providers import webhook_url

    if media_urls:
        raise ValueError(
            "The BlueBubbles simulator plays text messages only (its attachments live on the "
            "Mac): leave out --media-url."
        )
    path = webhook_url(inbox, "events").removeprefix(settings.PUBLIC_BASE_URL.rstrip("/"))
    credentials = inbox.get_credentials()
    if credentials.get("webhook_password"):
        path += "?password=" + quote(credentials.get("password", ""), safe="")
    data = message_data(text=body, address=sender)
    return InboundRequest(
        path=path,
        data=event("new-message", data),
        headers={"Content-Type": "application/json", SIMULATOR_HEADER[0]: SIMULATOR_HEADER[1]},
        message_id=data["guid"],
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="A fake BlueBubbles server for local demos (not BlueBubbles)."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--password", default=PASSWORD, help="The server password it accepts.")
    parser.add_argument(
        "--webhook-url",
        default=os.environ.get(WEBHOOK_URL_ENV, ""),
        help=f"Where to post the webhooks of its sends (default: ${WEBHOOK_URL_ENV}).",
    )
    parser.add_argument("--webhook-delay", type=float, default=1.0)
    parser.add_argument(
        "--typing", action="store_true", help="The contact types a reply once they read ours."
    )
    parser.add_argument(
        "--not-imessage",
        action="append",
        default=[],
        metavar="ADDRESS",
        help="An address availability reports as not on iMessage (repeatable).",
    )
    args = parser.parse_args(argv)
    server = BlueBubblesSimulator(
        (args.host, args.port),
        password=args.password,
        webhook_url=args.webhook_url,
        webhook_delay=args.webhook_delay,
        typing=args.typing,
    )
    server.not_imessage.update(args.not_imessage)

    target = urlsplit(args.webhook_url)
    serve_until_stopped(
        server,
        f"BlueBubbles simulator (a local fake, not BlueBubbles) on {server.base_url}"
        + (f", posting webhooks to {target.scheme}://{target.netloc}" if args.webhook_url else ""),
    )


if __name__ == "__main__":
    main()
