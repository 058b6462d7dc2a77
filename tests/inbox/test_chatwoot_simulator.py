"""The fake Chatwoot server speaks Chatwoot's Application API (envelopes, errors, search
pages, merging updates) and posts the webhooks Chatwoot would, in its shapes (chatwoot.md
§2.5, the fixtures) and signed as it signs them; what people do in Chatwoot (a customer
writing, an agent replying, a private note, a status change) is simulated from Python and
over HTTP. It runs without Django (``make run`` starts it alone)."""

import hashlib
import hmac
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from tests.fakes import chatwoot
from tests.fakes.chatwoot import ACCOUNT_ID, FOREIGN_ACCOUNT_ID, INBOX_ID, fixture

BASE = f"/api/v1/accounts/{ACCOUNT_ID}"


class _Receiver(ThreadingHTTPServer):
    """A webhook receiver on loopback: what it was posted (headers, raw body)."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Receive)
        self.received: list[tuple[dict, bytes]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


class _Receive(BaseHTTPRequestHandler):
    server: _Receiver

    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append((dict(self.headers), body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture(scope="module")
def receiver():
    server = _Receiver()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def api(cw_server):
    client = httpx.Client(base_url=cw_server.base_url, headers={"api_access_token": chatwoot.TOKEN})
    yield client
    client.close()


def test_the_signature_is_chatwoots():
    # The test vector of chatwoot.md §2.2.
    body = b'{"event":"message_created","id":1}'
    assert chatwoot.signature("test-secret", "1781690400", body) == (
        "sha256=3a8856fc4c922a6324ac9bd0e93e1e62e63834029ea02f9305a89b12953ec16d"
    )


def test_tokens_and_accounts_are_checked_as_chatwoot_checks_them(cw_server, api):
    assert api.get("/api/v1/profile").json()["name"] == chatwoot.AGENT["name"]
    bad = httpx.get(f"{cw_server.base_url}/api/v1/profile", headers={"api_access_token": "x"})
    assert (bad.status_code, bad.json()) == (401, {"error": "Invalid Access Token"})
    foreign = api.get(f"/api/v1/accounts/{FOREIGN_ACCOUNT_ID}/inboxes/{INBOX_ID}")
    assert (foreign.status_code, foreign.json()) == (
        401,
        {"error": "You are not authorized to access this account"},
    )
    assert api.get("/api/v1/accounts/99/inboxes/7").status_code == 404
    assert api.get(f"{BASE}/inboxes/8").json() == {"error": "Resource could not be found"}
    assert api.get(f"{BASE}/inboxes/{INBOX_ID}").json()["channel_type"] == "Channel::Api"


def test_contacts_speak_the_envelopes_pages_and_merges(cw_server, api):
    created = api.post(
        f"{BASE}/contacts",
        json={"name": "Bob", "phone_number": "+15557654321", "inbox_id": INBOX_ID},
    ).json()["payload"]
    assert set(created) == {"contact", "contact_inbox"}
    bob = created["contact"]
    assert bob["contact_inboxes"][0]["inbox"]["id"] == INBOX_ID
    taken = api.post(f"{BASE}/contacts", json={"name": "B2", "phone_number": "+15557654321"})
    assert (taken.status_code, taken.json()["message"]) == (
        422,
        "Phone number has already been taken",
    )
    for i in range(15):
        api.post(f"{BASE}/contacts", json={"name": f"P{i}", "phone_number": f"+1555765{i:04d}"})

    first = api.get(f"{BASE}/contacts/search", params={"q": "+1555765"}).json()
    second = api.get(f"{BASE}/contacts/search", params={"q": "+1555765", "page": 2}).json()

    assert first["meta"] == {"count": 15, "current_page": 1, "has_more": True}
    assert second["meta"] == {"count": 1, "current_page": 2, "has_more": False}
    blank = api.get(f"{BASE}/contacts/search", params={"q": ""})
    assert blank.json() == {"error": "Specify search string with parameter q"}
    api.patch(f"{BASE}/contacts/{bob['id']}", json={"custom_attributes": {"plan": "gold"}})
    merged = api.patch(f"{BASE}/contacts/{bob['id']}", json={"custom_attributes": {"tier": "vip"}})
    assert merged.json()["payload"]["custom_attributes"] == {"plan": "gold", "tier": "vip"}
    assert cw_server.event_names().count("contact_updated") == 2


def test_messages_posted_through_the_api_fire_signed_webhooks_in_chatwoots_shape(
    cw_server, api, receiver
):
    receiver.received.clear()
    cw_server.configure_webhook(receiver.url, "s3cret")
    bob = api.post(f"{BASE}/contacts", json={"name": "Bob", "phone_number": "+15557654321"})
    bob_id = bob.json()["payload"]["contact"]["id"]
    conversation = api.post(
        f"{BASE}/conversations", json={"inbox_id": INBOX_ID, "contact_id": bob_id}
    ).json()
    message = api.post(
        f"{BASE}/conversations/{conversation['id']}/messages",
        json={"content": "Your order shipped", "source_id": "centro:abc"},
    ).json()
    cw_server.wait_for_webhooks()

    assert message["message_type"] == 1 and message["source_id"] == "centro:abc"
    assert cw_server.event_names() == ["contact_created", "conversation_created", "message_created"]
    assert len(receiver.received) == 3
    for headers, body in receiver.received:
        expected = hmac.new(
            b"s3cret", headers["X-Chatwoot-Timestamp"].encode() + b"." + body, hashlib.sha256
        ).hexdigest()
        assert headers["X-Chatwoot-Signature"] == f"sha256={expected}"
        assert len(headers["X-Chatwoot-Delivery"]) == 36
    posted = next(json.loads(b) for _, b in receiver.received if b"message_created" in b)
    real = fixture("message_created")
    assert list(posted) == list(real)
    assert list(posted["conversation"]) == list(real["conversation"])
    assert list(posted["conversation"]["messages"][0]) == list(real["conversation"]["messages"][0])
    assert (posted["message_type"], posted["source_id"], posted["sender"]["type"]) == (
        "outgoing",
        "centro:abc",
        "user",
    )
    inner = posted["conversation"]["messages"][0]
    assert (inner["message_type"], type(inner["created_at"])) == (1, int)
    assert isinstance(posted["created_at"], str) and posted["created_at"].endswith("Z")
    created = next(json.loads(b) for _, b in receiver.received if b"conversation_created" in b)
    assert set(fixture("conversation_created")) <= set(created)


def test_what_people_do_in_chatwoot_fires_its_webhooks(cw_server, receiver):
    receiver.received.clear()
    cw_server.configure_webhook(receiver.url, "")  # an old Chatwoot: unsigned

    incoming = cw_server.incoming("+15551234567", "Hi, where is my order?", name="Jane Doe")
    conversation_id = incoming["conversation_id"]
    reply = cw_server.agent_reply(conversation_id, "On its way")
    note = cw_server.private_note(conversation_id, "VIP customer")
    cw_server.set_status(conversation_id, "resolved")
    again = cw_server.incoming("+15551234567", "Thanks!")
    cw_server.wait_for_webhooks()

    # Resolved is done: the customer's next message opens a new conversation.
    assert again["conversation_id"] != conversation_id
    assert cw_server.event_names() == [
        "contact_created",
        "conversation_created",
        "message_created",
        "message_created",
        "message_created",
        "conversation_status_changed",
        "conversation_updated",
        "conversation_created",
        "message_created",
    ]
    messages = [e for e in cw_server.events if e["event"] == "message_created"]
    assert [(m["message_type"], m["private"], m["source_id"] is None) for m in messages] == [
        ("incoming", False, False),
        ("outgoing", False, True),
        ("outgoing", True, True),
        ("incoming", False, False),
    ]
    assert "type" not in messages[0]["sender"]  # a contact at the top level has none
    assert messages[0]["sender"]["phone_number"] == "+15551234567"
    assert (reply["id"], note["id"]) == (messages[1]["id"], messages[2]["id"])
    status = [e for e in cw_server.events if e["event"] == "conversation_status_changed"]
    assert (status[0]["status"], status[0]["changed_attributes"]) == ("resolved", None)
    updated = next(e for e in cw_server.events if e["event"] == "conversation_updated")
    assert updated["changed_attributes"][0] == {
        "status": {"previous_value": "open", "current_value": "resolved"}
    }
    assert all("X-Chatwoot-Signature" not in h for h, _ in receiver.received)
    assert len(receiver.received) == 9


def test_the_simulation_routes_work_over_http(cw_server):
    base = cw_server.base_url

    incoming = httpx.post(
        f"{base}/_simulator/incoming", json={"phone": "+15551234567", "content": "Hola"}
    ).json()
    conversation_id = incoming["message"]["conversation_id"]
    reply = httpx.post(
        f"{base}/_simulator/reply", json={"conversation_id": conversation_id, "content": "Hi"}
    ).json()
    note = httpx.post(
        f"{base}/_simulator/note", json={"conversation_id": conversation_id, "content": "psst"}
    ).json()
    status = httpx.post(
        f"{base}/_simulator/status", json={"conversation_id": conversation_id, "status": "pending"}
    ).json()
    state = httpx.get(f"{base}/_simulator/state").json()

    assert incoming["events"] == ["contact_created", "conversation_created", "message_created"]
    assert (reply["events"], reply["message"]["message_type"]) == (["message_created"], 1)
    assert note["message"]["private"] is True
    assert status["conversation"]["status"] == "pending"
    assert status["events"] == ["conversation_status_changed", "conversation_updated"]
    assert [c["id"] for c in state["conversations"]] == [conversation_id]
    unknown = httpx.post(f"{base}/_simulator/reply", json={"conversation_id": 999, "content": "x"})
    assert unknown.status_code == 404


def test_injected_failures_answer_the_next_matching_request(cw_server, api):
    cw_server.fail_next(503, {"error": "maintenance"}, path="/profile")

    assert api.get("/api/v1/profile").status_code == 503
    assert api.get("/api/v1/profile").status_code == 200


def test_it_runs_without_django_settings():
    code = (
        "import httpx; import inbox.providers.chatwoot.simulator as s; srv = s.start(); "
        "print(httpx.get(srv.base_url + '/api/v1/profile', "
        "headers={'api_access_token': s.TOKEN}).json()['id'])"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert (done.returncode, done.stdout.strip()) == (0, str(chatwoot.AGENT["id"])), done.stderr
