"""The web server: the ASGI application on ``HOST``:``PORT``, in ``WEB_CONCURRENCY`` processes.

``python -m omnichannel.serve`` is what `make run`, the Dockerfile and docker-compose start.

``WEB_SERVER=uvicorn`` (the default) runs uvicorn (uvloop, httptools, websockets) with one
process per core unless ``WEB_CONCURRENCY`` says otherwise. Its parent process only holds the
listening socket and watches its workers: a worker that dies is started again, SIGTERM or
SIGINT stops them all after the open requests finish (at most ``GRACEFUL_SECONDS``); open
websockets are closed with 1012 (service restart), and the pages reconnect to the processes
that remain or come back. Websockets, Channels groups and the realtime pushes work across
processes because the channel layer is Redis.

``WEB_SERVER=daphne`` runs daphne, as before: one process, whatever ``WEB_CONCURRENCY`` says.

Both behave alike for the application: request bodies are streamed to it (so
``omnichannel.request_limits`` answers before a large body is in; daphne through
``omnichannel.daphne_stream``), X-Forwarded-For is not trusted (``REMOTE_ADDR`` is the peer;
``BEHIND_PROXY`` only trusts X-Forwarded-Proto, in Django), no access log (the application logs
what matters, as JSON), and ASGI lifespan is off (Django has none).
"""

import logging.config
import os

from omnichannel.logging import json_logging

APPLICATION = "omnichannel.asgi:application"
SERVERS = ("uvicorn", "daphne")
# The supervisor waits 15 s for every child before killing it.
GRACEFUL_SECONDS = 10


def cores() -> int:
    """The cores this process may run on (a container's cpuset, not the whole host's)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def concurrency() -> int:
    """``WEB_CONCURRENCY``, else one process per core."""
    value = os.environ.get("WEB_CONCURRENCY", "").strip()
    if not value:
        return cores()
    try:
        count = int(value)
    except ValueError:
        count = 0
    if count < 1:
        raise SystemExit(
            f"WEB_CONCURRENCY must be a whole number of processes, 1 or more: {value!r}"
        )
    return count


def server() -> str:
    name = os.environ.get("WEB_SERVER", "uvicorn").strip().lower() or "uvicorn"
    if name not in SERVERS:
        raise SystemExit(f"WEB_SERVER must be one of {', '.join(SERVERS)}: {name!r}")
    return name


def _log_as_json() -> None:
    """The parent's own lines (workers started, died, stopped) in the application's format;
    each worker's logging is set by Django's settings once it loads the application."""
    logging.config.dictConfig(json_logging(os.environ.get("LOG_LEVEL", "INFO")))


def main() -> None:
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "8000"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omnichannel.settings")
    if server() == "daphne":
        from daphne.cli import CommandLineInterface

        CommandLineInterface().run(["-b", host, "-p", str(port), APPLICATION])
        return

    import uvicorn

    _log_as_json()
    uvicorn.run(
        APPLICATION,
        host=host,
        port=port,
        workers=concurrency(),
        loop="uvloop",
        http="httptools",
        ws="websockets-sansio",
        # As daphne: pushes are small htmx fragments, sent to many sockets at once; compressing
        # each costs CPU in the process that fans them out.
        ws_per_message_deflate=False,
        lifespan="off",
        log_config=None,
        access_log=False,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=GRACEFUL_SECONDS,
    )


if __name__ == "__main__":
    main()
