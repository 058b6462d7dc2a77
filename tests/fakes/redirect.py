"""A host on 127.0.0.1 that answers every request with a redirect (a media URL, an ESP API
URL or a provider's storage gone rogue): for checking that the next hop is checked too."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class RedirectServer:
    """Answers every GET and POST with ``status`` and ``Location: location``; keeps the
    paths it was asked for in ``requests``."""

    def __init__(self, location: str, status: int = 302) -> None:
        self.location, self.status = location, status
        self.requests: list[tuple[str, str]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _redirect(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                fake.requests.append((self.command, self.path))
                self.send_response(fake.status)
                self.send_header("Location", fake.location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = _redirect

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> "RedirectServer":
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
