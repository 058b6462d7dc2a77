"""Chatwoot test helpers: the provider registered, a Chatwoot inbox per tenant, the §2.5
payload fixtures, webhooks signed and posted the way Chatwoot posts them, and a small fake
Chatwoot API on 127.0.0.1 that records ``toggle_status`` calls.

Import the fixtures into a test module (``from tests.inbox.chatwoot_helpers import ...``)."""

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from inbox import providers
from inbox.models import Inbox
from inbox.providers.chatwoot.events import signature
from omnichannel.channels import Channel

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "chatwoot"
KEY = "chatwoot"
STUB = "tests.inbox.chatwoot_provider_stub.Provider"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


@pytest.fixture
def chatwoot_registered():
    """The Chatwoot provider in the registry for this test (the stub while the real class is
    not in this branch); whatever was registered before comes back afterwards."""
    before = providers.PROVIDERS.get(KEY)
    if before is None:
        providers.register(KEY, STUB)
    yield
    if before is None:
        providers.unregister(KEY)


class FakeChatwoot:
    """Chatwoot's application API, as much as the status push uses: records each request
    (method, path, headers, JSON body) and answers ``answers`` in turn (then 200)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict, dict]] = []
        self.answers: list[int] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                fake.requests.append((self.command, self.path, dict(self.headers), body))
                status = fake.answers.pop(0) if fake.answers else 200
                answer = (
                    {"payload": {"success": True, "current_status": body.get("status")}}
                    if status < 400
                    else {"error": "boom"}
                )
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_chatwoot():
    server = FakeChatwoot()
    yield server
    server.stop()


def make_chatwoot_inbox(
    tenant, *, secret: str = "", api_url: str = "http://127.0.0.1:9", **settings
) -> Inbox:
    """A Chatwoot inbox of ``tenant`` (account 1, inbox 5) with ``settings`` (mirror,
    create_contacts, allow_unsigned…)."""
    inbox = Inbox(
        tenant=tenant,
        name="Chatwoot",
        kind=Channel.CHATWOOT,
        provider=KEY,
        address=f"chatwoot-{tenant.slug}",
        settings=settings,
    )
    inbox.set_credentials(
        {
            "api_url": api_url,
            "api_access_token": f"token-of-{tenant.slug}",
            "account_id": "1",
            "inbox_id": "5",
            "webhook_secret": secret or f"secret-of-{tenant.slug}",
        }
    )
    inbox.save()
    return inbox


def post(
    inbox: Inbox,
    payload: dict | str,
    *,
    secret: str | None = None,
    timestamp: int | None = None,
    delivery: str | None = None,
    signed: bool = True,
    token: str | None = None,
):
    """POST ``payload`` (a dict, or a fixture's name) as Chatwoot does: JSON, signed with the
    inbox's webhook secret (or ``secret``) at ``timestamp`` (default now), a fresh delivery
    uuid (or ``delivery``), to the inbox's URL (or the one of ``token``)."""
    if isinstance(payload, str):
        payload = fixture(payload)
    body = json.dumps(payload).encode()
    headers = {"X-Chatwoot-Delivery": delivery or str(uuid.uuid4())}
    if signed:
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        key = inbox.get_credentials()["webhook_secret"] if secret is None else secret
        headers["X-Chatwoot-Timestamp"] = stamp
        headers["X-Chatwoot-Signature"] = signature(key, stamp, body)
    path = reverse("webhooks:receive", args=[KEY, token or inbox.webhook_token, "events"])
    return Client().post(path, data=body, content_type="application/json", headers=headers)
