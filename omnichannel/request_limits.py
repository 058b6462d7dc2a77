"""Request limits, enforced on the request stream before Django reads a body.

Django's ASGI handler reads a whole body (spooling it to disk) before any middleware, view or
authentication runs, so a limit checked there comes after the upload. This ASGI middleware, put
around the HTTP application in ``omnichannel/asgi.py`` (websockets are not its business),
answers

- 431 when the headers are larger than ``REQUEST_HEADERS_MAX_BYTES``;
- 413 as soon as the declared ``Content-Length``, or the bytes received so far (a chunked body
  declares none), pass the route's limit (the first pattern of ``REQUEST_BODY_LIMITS`` that
  matches the path, else ``REQUEST_BODY_MAX_BYTES``), without reading the rest;
- 408 when the body stops arriving for ``REQUEST_BODY_IDLE_SECONDS`` or is not all in within
  the route's deadline.

Each of these answers closes the connection: the rest of the body is never read. The ASGI
server must hand the request over before its body is in: uvicorn and granian do, daphne does
with ``omnichannel.daphne_stream``.
"""

import asyncio
import re
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings

MiB = 1024 * 1024


@dataclass(frozen=True)
class Limit:
    max_bytes: int
    deadline_seconds: float


@lru_cache(maxsize=4)
def _compiled(limits: tuple) -> list[tuple[re.Pattern, Limit]]:
    return [(re.compile(pattern), Limit(size, deadline)) for pattern, size, deadline in limits]


def limit_for(path: str) -> Limit:
    """The body limit of ``path`` (patterns match from the start of the path)."""
    limits = tuple(tuple(entry) for entry in settings.REQUEST_BODY_LIMITS)
    for pattern, limit in _compiled(limits):
        if pattern.match(path):
            return limit
    return Limit(settings.REQUEST_BODY_MAX_BYTES, settings.REQUEST_BODY_DEADLINE_SECONDS)


def _size(n: int) -> str:
    return f"{n / MiB:g} MB" if n >= MiB else f"{n} bytes"


def too_large_text(limit: Limit) -> str:
    return (
        f"The request body is too large: this address takes at most {_size(limit.max_bytes)} "
        f"({limit.max_bytes} bytes)."
    )


async def _answer(send, status: int, text: str) -> None:
    body = (text + "\n").encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _declared_length(headers) -> int | None:
    """The Content-Length, None when there is none; -1 when it is not a number."""
    values = [value for name, value in headers if name.lower() == b"content-length"]
    if not values:
        return None
    if len(set(values)) > 1 or not values[0].strip().isdigit():
        return -1
    return int(values[0])


class RequestLimitMiddleware:
    """ASGI middleware: the limits above, for HTTP requests."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header_bytes = sum(len(name) + len(value) for name, value in scope["headers"])
        if header_bytes > settings.REQUEST_HEADERS_MAX_BYTES:
            await _answer(
                send,
                431,
                f"The request headers are too large: at most "
                f"{settings.REQUEST_HEADERS_MAX_BYTES} bytes.",
            )
            return
        path = scope["path"]
        root = scope.get("root_path") or ""
        if root and path.startswith(root):
            path = path[len(root) :] or "/"
        limit = limit_for(path)
        declared = _declared_length(scope["headers"])
        if declared == -1:
            await _answer(send, 400, "The Content-Length header is not a number.")
            return
        if declared is not None and declared > limit.max_bytes:
            await _answer(send, 413, too_large_text(limit))
            return
        body = _LimitedBody(receive, send, limit)
        await self.app(scope, body.receive, body.send)


class _LimitedBody:
    """The application's ``receive`` and ``send``, counting the body and timing its arrival.

    A body past the limit, or late, is answered here; the application then receives
    ``http.disconnect`` (Django stops reading and answers nothing) and anything it still sends
    is dropped."""

    def __init__(self, receive, send, limit: Limit) -> None:
        self._receive = receive
        self._send = send
        self.limit = limit
        self.deadline = asyncio.get_running_loop().time() + limit.deadline_seconds
        self.received = 0
        self.complete = False
        self.refused = False
        self.response_started = False

    async def receive(self) -> dict:
        if self.refused:
            return {"type": "http.disconnect"}
        if self.complete:
            return await self._receive()  # after the body: waiting for a disconnect
        idle = settings.REQUEST_BODY_IDLE_SECONDS
        left = self.deadline - asyncio.get_running_loop().time()
        try:
            async with asyncio.timeout(max(0.0, min(idle, left))):
                message = await self._receive()
        except TimeoutError:
            if left <= idle:
                text = (
                    f"The request body took too long: it must arrive within "
                    f"{self.limit.deadline_seconds:g} seconds."
                )
            else:
                text = f"The request body stopped arriving (nothing for {idle:g} seconds)."
            return await self._refuse(408, text)
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.limit.max_bytes:
                return await self._refuse(413, too_large_text(self.limit))
            if not message.get("more_body", False):
                self.complete = True
        return message

    async def _refuse(self, status: int, text: str) -> dict:
        self.refused = True
        if not self.response_started:
            self.response_started = True
            await _answer(self._send, status, text)
        return {"type": "http.disconnect"}

    async def send(self, message: dict) -> None:
        if self.refused:
            return
        if message["type"] == "http.response.start":
            self.response_started = True
        await self._send(message)
