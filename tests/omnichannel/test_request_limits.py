"""Request limits on the stream, before Django reads a body: 413, 408 and 431 from the real
ASGI servers (daphne, streaming bodies through omnichannel.daphne_stream, and uvicorn as
`make run` starts it), and the middleware on its own with a plain ASGI harness."""

import asyncio
import csv
import io
import secrets
import select
import socket
import time

import httpx
import pytest
from django.conf import settings

from inbox.models import Message
from omnichannel.channels import Channel
from omnichannel.request_limits import RequestLimitMiddleware, limit_for
from tests.asgi_server import AsgiServer
from tests.inbox.webhook_helpers import signed_twilio_request
from tests.web_server import web_server

MiB = 1024 * 1024
IDLE_SECONDS = 1
DEADLINE_SECONDS = 3
HEADERS_MAX_BYTES = 8192  # below Twisted's own 16 KiB, which answers a bare 400


LIMITS = {
    "REQUEST_BODY_IDLE_SECONDS": IDLE_SECONDS,
    "REQUEST_BODY_DEADLINE_SECONDS": DEADLINE_SECONDS,
    "REQUEST_HEADERS_MAX_BYTES": HEADERS_MAX_BYTES,
}


@pytest.fixture(scope="module", params=["daphne", pytest.param("uvicorn", marks=pytest.mark.slow)])
def server(request, django_db_setup, django_db_blocker, tmp_path_factory):
    """The real application with short body timeouts and a smaller header limit (the body
    sizes are the defaults): on daphne in a forked test process; and as `make run` serves it,
    uvicorn in two processes, the limits set through the environment."""
    if request.param == "uvicorn":
        env = {name: str(value) for name, value in LIMITS.items()}
        with web_server(tmp_path_factory.mktemp("web"), workers=2, **env) as server:
            yield server
        return
    server = AsgiServer(settings=LIMITS)
    with django_db_blocker.unblock():
        server.start()
    yield server
    server.stop()


def connect(server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def head(path: str, *headers: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", *headers, "", ""]
    return "\r\n".join(lines).encode()


def read_response(sock: socket.socket, timeout: float = 10) -> tuple[int, dict, bytes]:
    """The status, headers and body of the response on ``sock``."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data or len(data.partition(b"\r\n\r\n")[2]) < _length(data):
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    header_block, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = header_block.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body


def _length(data: bytes) -> int:
    for line in data.partition(b"\r\n\r\n")[0].split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


def closed_by_server(sock: socket.socket) -> bool:
    sock.settimeout(5)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def readable(sock: socket.socket) -> bool:
    return bool(select.select([sock], [], [], 0)[0])


# --- the real server -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "declared", "limit"),
    [
        ("/webhooks/twilio/some-token/inbound/", 300 * MiB, "2 MB"),
        ("/accounts/login/", 100 * MiB, "2 MB"),
        ("/webhooks/anymail/some-token/inbound/", 300 * MiB, "40 MB"),
        ("/api/v1/contacts/import", 300 * MiB, "51 MB"),
    ],
)
def test_a_declared_body_over_the_limit_is_refused_before_it_is_sent(server, path, declared, limit):
    with connect(server) as sock:
        sock.sendall(
            head(path, "Content-Type: application/octet-stream", f"Content-Length: {declared}")
        )
        started = time.monotonic()
        status, headers, body = read_response(sock)  # not a byte of the body was sent
        closed = closed_by_server(sock)

    assert status == 413
    assert f"takes at most {limit}" in body.decode()
    assert headers["connection"] == "close"
    assert closed  # the body is never read: the connection cannot carry another request
    assert time.monotonic() - started < 5


def test_a_chunked_body_is_refused_once_it_passes_the_limit(server):
    chunk = b"x" * 65536
    sent = 0
    with connect(server) as sock:
        sock.sendall(
            head(
                "/accounts/login/",
                "Content-Type: application/x-www-form-urlencoded",
                "Transfer-Encoding: chunked",
            )
        )
        # Keep sending until the server answers; an endless body never ends otherwise.
        while not readable(sock) and sent < 20 * MiB:
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        status, _, body = read_response(sock)

    assert status == 413
    assert "takes at most 2 MB" in body.decode()
    assert sent < 20 * MiB  # answered while the body was still coming


def test_a_body_that_stops_arriving_gets_408(server):
    with connect(server) as sock:
        # 50 MB declared (the import takes that much), 2 bytes sent.
        sock.sendall(head("/api/v1/contacts/import", f"Content-Length: {50 * MiB}") + b"lo")
        started = time.monotonic()
        status, _, body = read_response(sock)

    assert status == 408
    assert f"nothing for {IDLE_SECONDS} seconds" in body.decode()
    assert IDLE_SECONDS - 0.2 < time.monotonic() - started < IDLE_SECONDS + 3


def test_a_trickling_body_gets_408_at_the_deadline(server):
    with connect(server) as sock:
        sock.sendall(head("/accounts/login/", "Content-Length: 1000"))
        started = time.monotonic()
        while not readable(sock) and time.monotonic() - started < DEADLINE_SECONDS + 5:
            sock.sendall(b"a")  # a byte now and then: never idle long enough for the idle limit
            time.sleep(IDLE_SECONDS / 4)
        status, _, body = read_response(sock)

    assert status == 408
    assert f"within {DEADLINE_SECONDS} seconds" in body.decode()
    assert DEADLINE_SECONDS - 0.2 < time.monotonic() - started < DEADLINE_SECONDS + 3


def test_headers_over_the_limit_get_431(server):
    with connect(server) as sock:
        cookies = [f"Cookie: c{n}={'v' * 3000}" for n in range(3)]
        sock.sendall(head("/accounts/login/", *cookies, "Content-Length: 0"))
        status, _, body = read_response(sock)

    assert status == 431
    assert f"headers are too large: at most {HEADERS_MAX_BYTES} bytes" in body.decode()


def test_a_kept_alive_connection_carries_another_request_after_a_streamed_body(server):
    form = b"login=ana%40example.com&password=" + b"x" * 200_000  # several reads of the socket
    with connect(server) as sock:
        sock.sendall(
            head(
                "/accounts/login/",
                "Content-Type: application/x-www-form-urlencoded",
                f"Content-Length: {len(form)}",
            )
            + form
        )
        first, _, _ = read_response(sock)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        second, _, _ = read_response(sock)

    assert first == 403  # Django read the whole body (and found no CSRF token)
    assert second == 200


@pytest.mark.django_db(transaction=True)
def test_a_twilio_webhook_still_arrives(server, tenant):
    from tests.fakes.twilio import make_twilio_inbox

    inbox = make_twilio_inbox(tenant, kind=Channel.SMS)
    sid = "SM" + secrets.token_hex(16)
    path, params, headers = signed_twilio_request(
        inbox, "inbound_sms", MessageSid=sid, SmsSid=sid, SmsMessageSid=sid, Body="Hola"
    )

    response = httpx.post(f"{server.url}{path}", data=params, headers=headers, timeout=10)

    assert response.status_code in (200, 204), response.text[:500]
    assert Message.objects.get(inbox=inbox, external_id=sid).body == "Hola"


@pytest.mark.django_db(transaction=True)
def test_a_contact_import_larger_than_the_default_limit_still_uploads(server, api_token):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["name", "phone", "notes"])
    for n in range(3000):
        writer.writerow([f"Contact {n}", f"+1415555{n:04d}", "n" * 800])
    data = out.getvalue().encode()
    assert settings.REQUEST_BODY_MAX_BYTES < len(data) < settings.CONTACTS_IMPORT_MAX_BYTES

    response = httpx.post(
        f"{server.url}/api/v1/contacts/import",
        files={"file": ("contacts.csv", data, "text/csv")},
        data={"mapping": '{"name": "name", "phone": "phone"}'},
        headers={"Authorization": f"Bearer {api_token}"},
        timeout=30,
    )

    assert response.status_code == 202, response.text[:500]


# --- the middleware with a plain ASGI harness ------------------------------------------------


class Harness:
    """An ASGI server of sorts: feeds ``messages`` to the app, collects what it sends."""

    def __init__(self, messages: list[dict]) -> None:
        self.incoming: asyncio.Queue = asyncio.Queue()
        for message in messages:
            self.incoming.put_nowait(message)
        self.sent: list[dict] = []

    async def receive(self) -> dict:
        return await self.incoming.get()

    async def send(self, message: dict) -> None:
        self.sent.append(message)

    @property
    def status(self) -> int | None:
        starts = [m for m in self.sent if m["type"] == "http.response.start"]
        return starts[0]["status"] if starts else None


def scope(path: str = "/accounts/login/", headers=()) -> dict:
    return {"type": "http", "method": "POST", "path": path, "headers": list(headers)}


async def reading_app(scope, receive, send):
    """Reads the whole body as Django does, then answers 200 with its size."""
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            await send({"type": "http.response.start", "status": 499, "headers": []})
            return
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(size).encode()})


def run(app, scope, harness) -> None:
    asyncio.run(asyncio.wait_for(app(scope, harness.receive, harness.send), timeout=10))


def test_the_middleware_answers_413_once_the_streamed_body_passes_the_limit(settings):
    settings.REQUEST_BODY_MAX_BYTES = 1000
    piece = {"type": "http.request", "body": b"x" * 400, "more_body": True}
    harness = Harness([piece, piece, piece, piece])  # never ends: it must not be waited for

    run(RequestLimitMiddleware(reading_app), scope(), harness)

    # The app got http.disconnect and its own answer (499) was dropped.
    assert [m.get("status") for m in harness.sent if "status" in m] == [413]
    assert harness.incoming.qsize() == 1  # the fourth piece was never read


def test_the_middleware_passes_a_body_within_the_limit(settings):
    settings.REQUEST_BODY_MAX_BYTES = 1000
    harness = Harness(
        [
            {"type": "http.request", "body": b"x" * 600, "more_body": True},
            {"type": "http.request", "body": b"x" * 400, "more_body": False},
        ]
    )

    run(RequestLimitMiddleware(reading_app), scope(), harness)

    assert harness.status == 200
    assert harness.sent[1]["body"] == b"1000"


def test_the_middleware_refuses_a_declared_length_without_calling_the_app(settings):
    settings.REQUEST_BODY_MAX_BYTES = 1000
    called = []

    async def app(scope, receive, send):
        called.append(scope)

    harness = Harness([])
    run(RequestLimitMiddleware(app), scope(headers=[(b"content-length", b"1001")]), harness)

    assert harness.status == 413
    assert called == []


def test_the_middleware_answers_408_when_the_body_stops(settings):
    settings.REQUEST_BODY_IDLE_SECONDS = 0.2
    harness = Harness([{"type": "http.request", "body": b"x", "more_body": True}])

    run(RequestLimitMiddleware(reading_app), scope(), harness)

    assert harness.status == 408


def test_the_middleware_leaves_websockets_alone(settings):
    settings.REQUEST_HEADERS_MAX_BYTES = 10
    seen = []

    async def app(scope, receive, send):
        seen.append(scope["type"])

    websocket = {"type": "websocket", "path": "/ws/", "headers": [(b"cookie", b"x" * 100)]}
    run(RequestLimitMiddleware(app), websocket, Harness([]))

    assert seen == ["websocket"]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/accounts/login/", "REQUEST_BODY_MAX_BYTES"),
        ("/webhooks/twilio/abc/inbound/", "REQUEST_BODY_MAX_BYTES"),
        ("/api/v1/messages", "REQUEST_BODY_MAX_BYTES"),
        ("/webhooks/anymail/abc/inbound/", "EMAIL_WEBHOOK_MAX_BYTES"),
        ("/webhooks/anymail/abc/tracking/", "EMAIL_WEBHOOK_MAX_BYTES"),
    ],
)
def test_each_route_has_its_limit(path, expected):
    assert limit_for(path).max_bytes == getattr(settings, expected)


def test_upload_routes_take_their_files_plus_the_form_around_them():
    files = settings.ATTACHMENT_UPLOADS_PER_MESSAGE * settings.ATTACHMENT_UPLOAD_MAX_BYTES
    for path, least in [
        ("/contacts/import/", settings.CONTACTS_IMPORT_MAX_BYTES),
        ("/api/v1/contacts/import", settings.CONTACTS_IMPORT_MAX_BYTES),
        ("/inbox/c/12/messages/", files),
        ("/campaigns/templates/3/media/", settings.ATTACHMENT_UPLOAD_MAX_BYTES),
    ]:
        assert least < limit_for(path).max_bytes <= least + MiB, path
    assert limit_for("/contacts/import/12/mapping/").max_bytes == settings.REQUEST_BODY_MAX_BYTES
