"""A fake BlueBubbles server on 127.0.0.1 speaking its REST wire format (routes, the
``password`` query parameter, the ``{status, message, data}`` envelope, error shapes), plus
builders of the webhook payloads it posts (``new-message`` with ``chats``, the ``tempGuid``
echo, ``updated-message`` without ``chats``). Facts: ../shared/providers/bluebubbles.md.
"""

import copy
import email.parser
import email.policy
import itertools
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "bluebubbles"
PASSWORD = "bb-server-password"
_rowids = itertools.count(48300)


def fixture(name: str) -> dict:
    """A payload from tests/fixtures/bluebubbles/<name>.json (a fresh copy)."""
    return json.loads((FIXTURES / f"{name}.json").read_text())


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
    data = copy.deepcopy(fixture("new_message")["data"])
    chat = data["chats"][0]
    chat["guid"] = chat_guid or dm_guid(address)
    chat["chatIdentifier"] = address
    data.update(
        originalROWID=next(_rowids),
        guid=guid or str(uuid.uuid4()).upper(),
        text=text,
        isFromMe=is_from_me,
        isDelivered=not is_from_me,
        dateCreated=int(time.time() * 1000),
        handle={**data["handle"], "address": address},
    )
    data.update(fields)
    if not with_chats:
        del data["chats"]
    return data


def event(kind: str, data: dict) -> dict:
    return {"type": kind, "data": data}


class BlueBubblesServer(ThreadingHTTPServer):
    def __init__(self, password: str = PASSWORD) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.password = password
        self.reset()

    def reset(self) -> None:
        self.requests: list[tuple[str, str, dict]] = []  # (method, path, body or form)
        self.sent: list[dict] = []  # every message the server "sent", in its Message shape
        self.private_api = True
        self.not_imessage: set[str] = set()  # availability says no
        self.send_errors: dict[str, int] = {}  # address -> the error code a send records
        self.attachments: dict[str, tuple[bytes, str]] = {}  # guid -> (content, content type)
        self.down = False  # every route answers 500

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

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


class _Handler(BaseHTTPRequestHandler):
    server: BlueBubblesServer

    def log_message(self, *args) -> None:
        pass

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
                return self._ok("Successfully marked chat as read!")
            return self._ok("Successfully started typing!")
        if path == "/api/v1/message/query":
            after = body.get("after") or 0
            found = [m for m in self.server.sent if m["dateCreated"] > after]
            return self._ok("Successfully fetched messages!", found[: body.get("limit", 100)])
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


def start(password: str = PASSWORD) -> BlueBubblesServer:
    server = BlueBubblesServer(password)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
