"""The web server of `make run` (``omnichannel.supervisor.WEB_COMMAND``) as a child of a test,
on the test database and Redis of this test worker, for tests over real sockets against
several processes. Tests that use it must be transactional (the server is another process).
"""

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import psutil

from omnichannel.supervisor import BASE_DIR, WEB_COMMAND
from tests.supervised import free_port

START_SECONDS = 90


@dataclass
class WebServer:
    process: subprocess.Popen
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def workers(self) -> list[psutil.Process]:
        """uvicorn's worker processes (its parent also has multiprocessing's resource tracker)."""
        workers = []
        for child in psutil.Process(self.process.pid).children():
            with contextlib.suppress(psutil.Error):
                if "spawn_main" in " ".join(child.cmdline()):
                    workers.append(child)
        return workers

    def connections(self) -> dict[tuple, int]:
        """Every open client connection: the client's address -> pid of the worker holding it."""
        held = {}
        for worker in self.workers():
            with contextlib.suppress(psutil.Error):
                for conn in worker.net_connections(kind="tcp"):
                    if conn.status == psutil.CONN_ESTABLISHED and conn.laddr.port == self.port:
                        held[tuple(conn.raddr)] = worker.pid
        return held


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@contextlib.contextmanager
def web_server(log_dir: Path, *, workers: int, **env: str) -> Iterator[WebServer]:
    """``workers`` uvicorn processes (0: daphne), with ``env`` added to this test's environment."""
    from django.db import connection

    from omnichannel.celery import app

    database = urlsplit(os.environ["DATABASE_URL"])._replace(
        path="/" + connection.settings_dict["NAME"]
    )
    port = free_port()
    env = os.environ | {
        "DATABASE_URL": urlunsplit(database),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WEB_SERVER": "uvicorn" if workers else "daphne",
        "WEB_CONCURRENCY": str(workers or 1),
        "PYTHONUNBUFFERED": "1",
        **env,
    }
    log_path = log_dir / "web.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            WEB_COMMAND, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    server = WebServer(process, port, log_path)
    try:
        deadline = time.monotonic() + START_SECONDS
        while len(server.workers()) < workers or not _answers(f"{server.url}/healthz"):
            assert process.poll() is None, server.log
            assert time.monotonic() < deadline, server.log
            time.sleep(0.3)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        # Tasks it queued (deliveries, imports) have no worker here: none is left for later.
        app.control.purge()
