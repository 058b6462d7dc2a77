"""An ASGI live server (daphne) running the real application, for tests over real sockets.

pytest-django's live_server is WSGI: it cannot upgrade websockets, and it reads each request
its own way. Daphne's own test process runs the real ASGI application (HTTP and /ws/) in a
forked child: it shares the test database (tests must be transactional) and the Redis channel
layer with this process, so events published here reach its consumers as in production.
"""

import logging
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

_inherited_connections = []


def _forget_parent_connections() -> None:
    """In the child: open fresh database connections instead of the parent's sockets.

    The inherited connection objects are kept (never closed or collected): closing one would
    end the parent's session on the server."""
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        _inherited_connections.append(connection.connection)
        connection.connection = None


def _child_setup(overrides: dict, log_path: Path | None) -> None:
    _forget_parent_connections()
    if log_path is not None:
        # What the server logs (daphne's "Exception inside application", our own errors) also
        # goes to a file the tests can read: its stderr is the test process's, captured away.
        handler = logging.FileHandler(log_path)
        handler.setLevel(logging.WARNING)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
        logging.getLogger().addHandler(handler)
    # The parent's channel layer holds Redis connections made on its own event loops: start
    # from a new layer instead of sharing those sockets.
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    # asgiref's executor for thread-sensitive calls (the consumers' database access) had its
    # thread in the parent: a forked copy believes it has one and never runs anything.
    from concurrent.futures import ThreadPoolExecutor

    from asgiref.sync import SyncToAsync

    SyncToAsync.single_thread_executor = ThreadPoolExecutor(max_workers=1)
    # Deliveries run where the reply is sent (no worker in this test process tree): the real
    # task code, executed eagerly.
    from omnichannel.celery import app

    app.conf.task_always_eager = True
    # Settings this server runs with (e.g. shorter request timeouts), as the environment
    # would set them in a deployment.
    from django.conf import settings

    for name, value in overrides.items():
        setattr(settings, name, value)


def _application():
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    from omnichannel import daphne_stream
    from omnichannel.asgi import application

    # The test process may have imported the application before daphne (a communicator test),
    # and this forked server inherits that import: install daphne's streaming here too.
    daphne_stream.install()
    return ASGIStaticFilesHandler(application)


@dataclass
class AsgiServer:
    port: int = 0
    settings: dict = field(default_factory=dict)
    log_path: Path | None = None
    process: object = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        from daphne.testing import DaphneProcess

        process = DaphneProcess(
            "127.0.0.1",
            _application,
            setup=partial(_child_setup, self.settings, self.log_path),
            port=self.port or None,
        )
        process.start()
        if not process.ready.wait(timeout=20):
            process.terminate()
            raise RuntimeError("daphne did not start")
        self.port = process.port.value
        self.process = process

    def stop(self) -> None:
        """Kill the server (open websockets drop as on a crash or a deploy)."""
        if self.process is not None:
            self.process.kill()
            self.process.join(timeout=10)
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_mark(self) -> int:
        """Where the server's log ends now: pass it to ``log_since``."""
        return self.log_path.stat().st_size if self.log_path and self.log_path.exists() else 0

    def log_since(self, mark: int) -> str:
        """What the server logged (warnings and errors) after ``mark``."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        with self.log_path.open(encoding="utf-8", errors="replace") as log:
            log.seek(mark)
            return log.read()
