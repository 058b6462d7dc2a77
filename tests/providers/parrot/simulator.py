"""A fake Parrot server on 127.0.0.1: answers sends with a guid and records them."""

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class ParrotServer(ThreadingHTTPServer):
    def __init__(self, password: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.password = password
        self.sent: list[dict] = []
        self.signals: list[tuple[str, dict]] = []  # (path, body) of typing and read calls
        self.unreachable: set[str] = set()  # addresses that are not on Parrot
        self.availability_checks: list[str] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: ParrotServer

    def log_message(self, *args) -> None:
        pass

    def _authorized(self) -> bool:
        query = parse_qs(urlsplit(self.path).query)
        return query.get("password") == [self.server.password]

    def _reply(self, status: int, payload: dict) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if not self._authorized():
            return self._reply(401, {"message": "Unauthorized"})
        if path == "/api/v1/ping":
            return self._reply(200, {"message": "pong"})
        if path == "/api/v1/handle/availability":
            [address] = parse_qs(urlsplit(self.path).query)["address"]
            self.server.availability_checks.append(address)
            available = address not in self.server.unreachable
            return self._reply(200, {"data": {"available": available}})
        self._reply(404, {"message": "Not found"})

    def do_POST(self) -> None:
        if not self._authorized():
            return self._reply(401, {"message": "Unauthorized"})
        length = int(self.headers.get("Content-Length") or 0)
        payload = json.loads(self.rfile.read(length) or b"{}")
        path = urlsplit(self.path).path
        if path.startswith("/api/v1/chat/"):
            self.server.signals.append((path, payload))
            return self._reply(200, {"message": "ok"})
        if payload["chatGuid"].removeprefix("any;-;") in self.server.unreachable:
            return self._reply(400, {"error": "not-registered"})
        self.server.sent.append(payload)
        self._reply(200, {"data": {"guid": f"p:{uuid.uuid4()}", "tempGuid": payload["tempGuid"]}})


def start(password: str) -> ParrotServer:
    server = ParrotServer(password)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
