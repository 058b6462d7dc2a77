"""A fake Postmark API on 127.0.0.1 speaking Postmark's wire format (POST /email).

anymail's REAL Postmark backend is pointed at it through the inbox's ``api_url``. It checks
the ``X-Postmark-Server-Token`` header (401 with ErrorCode 10 otherwise, as Postmark does),
keeps every accepted request, and answers scripted errors queued with ``queue_response``,
e.g. ``queue_response(422, {"ErrorCode": 406, "Message": "You tried to send to recipient(s)
that have been marked as inactive. …"})`` or a ``500``.
"""

import json
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class PostmarkRequest:
    path: str
    headers: dict[str, str]
    json: dict


class FakePostmark:
    def __init__(self, server_token: str = "pm-server-token") -> None:  # noqa: S107
        self.server_token = server_token
        self.requests: list[PostmarkRequest] = []
        self.sent: dict[str, dict] = {}  # MessageID -> request body
        self._script: list[tuple[int, dict]] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    return self._answer(422, {"ErrorCode": 402, "Message": "Invalid JSON"})
                request = PostmarkRequest(self.path, dict(self.headers), body)
                with fake._lock:
                    fake.requests.append(request)
                    scripted = fake._script.pop(0) if fake._script else None
                if self.headers.get("X-Postmark-Server-Token") != fake.server_token:
                    return self._answer(
                        401,
                        {
                            "ErrorCode": 10,
                            "Message": "The Server Token you provided in the "
                            "X-Postmark-Server-Token request header was invalid.",
                        },
                    )
                if self.path != "/email":
                    return self._answer(404, {"ErrorCode": 0, "Message": "Not found"})
                if scripted is not None:
                    return self._answer(*scripted)
                message_id = str(uuid.uuid4())
                with fake._lock:
                    fake.sent[message_id] = body
                return self._answer(
                    200,
                    {
                        "To": body.get("To", ""),
                        "SubmittedAt": datetime.now(UTC).isoformat(),
                        "MessageID": message_id,
                        "ErrorCode": 0,
                        "Message": "OK",
                    },
                )

            def _answer(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def queue_response(self, status: int, payload: dict | None = None) -> None:
        self._script.append((status, payload or {"ErrorCode": 0, "Message": "Server error"}))

    def start(self) -> "FakePostmark":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
