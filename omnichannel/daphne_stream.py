"""Daphne, streaming request bodies to the application as they arrive.

Daphne's request (a Twisted ``http.Request``) starts the ASGI application only once Twisted
has read the whole body into a temporary file: no application code, the request limits of
``omnichannel.request_limits`` included, could answer a 300 MB upload before all 300 MB had
arrived, or notice a body that stopped coming. :class:`StreamingWebRequest` starts the
application as soon as the headers are in and hands it each piece of the body as Twisted reads
it. Requests without a body (websocket upgrades among them) go daphne's usual way.

:func:`install` makes daphne's HTTP factory use it. ``omnichannel.asgi`` calls it when daphne
serves it (``WEB_SERVER=daphne``, daphne's CLI), and so does the tests' live server
(``daphne.testing``); other ASGI servers (uvicorn, granian) stream by themselves and never
import this module.
"""

import io

from daphne import http_protocol
from twisted.web import http

EMPTY_BODY = {"type": "http.request", "body": b"", "more_body": False}


class StreamingWebRequest(http_protocol.WebRequest):
    _streaming = False
    _body_complete = False

    def gotLength(self, length: int | None) -> None:
        """The headers are in (``length``: Content-Length, None when chunked): start now."""
        super().gotLength(length)
        if length == 0 or not isinstance(self.channel, http.HTTPChannel):
            return  # no body; or HTTP/2 (with TLS and h2 installed), which this does not cover
        self._streaming = True
        self.content.close()
        self.content = io.BytesIO()
        channel = self.channel
        # What Twisted does once the body is in (method, path, arguments, then daphne's
        # process(), which builds the scope and starts the application), done now; Twisted keeps
        # the request line on the channel until then.
        http.Request.requestReceived(self, channel._command, channel._path, channel._version)
        if self.application_queue is None:
            return  # refused by daphne (a bad header or path) or the client already left
        # process() queued the body it had, none: the body follows as it arrives instead.
        if self.application_queue.get_nowait() != EMPTY_BODY:
            raise RuntimeError("daphne's process() no longer queues the body as expected")

    def handleContentChunk(self, data: bytes) -> None:
        if not self._streaming:
            super().handleContentChunk(data)
        elif self.application_queue is not None and not self.finished and data:
            self.application_queue.put_nowait(
                {"type": "http.request", "body": data, "more_body": True}
            )

    def requestReceived(self, command: bytes, path: bytes, version: bytes) -> None:
        if not self._streaming:
            super().requestReceived(command, path, version)
            return
        self._body_complete = True
        if self.application_queue is not None and not self.finished:
            self.application_queue.put_nowait(EMPTY_BODY.copy())

    def finish(self) -> None:
        channel = getattr(self, "channel", None)
        if self._streaming and not self._body_complete and channel is not None:
            # Answered before the body was in (a 413): the rest of the body is never read, so
            # the connection cannot carry another request; it closes after the answer, and
            # what still comes in is dropped (as Twisted drops data after a closing request).
            channel.persistent = False
            channel.dataReceived = channel.rawDataReceived = _ignore
        super().finish()


def _ignore(data: bytes) -> None:
    pass


def install() -> None:
    """Make daphne build :class:`StreamingWebRequest` for every HTTP request."""
    http_protocol.WebRequest = StreamingWebRequest
