"""How every provider simulator runs on its own (``python -m inbox.providers.<key>.simulator``,
a child of ``make run``): serve until SIGTERM or SIGINT, then close the socket. Imports
nothing of Django: the simulators start without it."""

import signal
import threading
from http.server import HTTPServer


def serve_until_stopped(server: HTTPServer, banner: str) -> None:
    """Print ``banner`` (what is running where) and serve ``server`` until a signal stops it."""

    def stop(signum, frame) -> None:
        # shutdown() waits for serve_forever() to return: call it from another thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(banner, flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
