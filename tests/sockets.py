"""Websockets in tests: the real ASGI application, the real Redis channel layer, and the
session cookie of a signed-in user (as browsers authenticate). The consumer reads the database
from another thread, so tests using sockets must be transactional.

Fixtures ``signed_in`` and ``private_channel_prefix`` live in tests/conftest.py.
"""

from contextlib import asynccontextmanager

from channels.testing import WebsocketCommunicator
from django.test import Client

from omnichannel.asgi import application

ORIGIN = "http://testserver"
QUIET = 0.3  # seconds a socket must stay silent to count as "received nothing"


def _headers(client: Client | None, origin: str) -> list[tuple[bytes, bytes]]:
    headers = [(b"origin", origin.encode()), (b"host", b"testserver")]
    if client is not None:
        cookies = "; ".join(f"{name}={morsel.value}" for name, morsel in client.cookies.items())
        headers.append((b"cookie", cookies.encode()))
    return headers


def _communicator(client=None, *, path="/ws/", origin=ORIGIN) -> WebsocketCommunicator:
    return WebsocketCommunicator(application, path, headers=_headers(client, origin))


@asynccontextmanager
async def socket(client, *, path="/ws/"):
    """An accepted, joined socket for ``client``; disconnected (groups left) afterwards."""
    communicator = _communicator(client, path=path)
    connected, _ = await communicator.connect()
    try:
        assert connected
        yield communicator
    finally:
        await communicator.disconnect()
