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
        if urlsplit(self.path).path != "/api/v1/ping":
            return self._reply(404, {"message": "Not found"})
        if not self._authorized():
            return self._reply(401, {"message": "Unauthorized"})
        self._reply(200, {"message": "pong"})

    def do_POST(self) -> None:
        if not self._authorized():
            return self._reply(401, {"message": "Unauthorized"})
        payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.sent.append(payload)
        self._reply(200, {"data": {"guid": f"p:{uuid.uuid4()}", "tempGuid": payload["tempGuid"]}})


def start(password: str) -> ParrotServer:
    server = ParrotServer(password)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
