"""The fake Twilio itself: Twilio's wire format, auth, scripting, media, signed callbacks."""

import signal
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import httpx
import pytest
from twilio.request_validator import RequestValidator

from inbox.providers.twilio.simulator import start

SID, TOKEN = "AC" + "1" * 32, "secret-token"
CREATE = f"/2010-04-01/Accounts/{SID}/Messages.json"


@pytest.fixture
def sim():
    server, _ = start(accounts={SID: TOKEN})
    yield server
    server.shutdown()
    server.server_close()


def post(sim, data, auth=(SID, TOKEN)):
    return httpx.post(sim.base_url + CREATE, data=data, auth=auth)


def test_it_answers_201_with_a_twilio_message_resource(sim):
    response = post(sim, {"To": "+14155550111", "From": "+14155550100", "Body": "Hi"})

    assert response.status_code == 201
    assert response.headers["X-Twilio-Simulator"].startswith("centro")
    body = response.json()
    assert body["sid"].startswith("SM") and len(body["sid"]) == 34
    assert (body["status"], body["to"], body["from"], body["body"]) == (
        "queued",
        "+14155550111",
        "+14155550100",
        "Hi",
    )
    assert body["uri"] == f"/2010-04-01/Accounts/{SID}/Messages/{body['sid']}.json"
    fetched = httpx.get(sim.base_url + body["uri"], auth=(SID, TOKEN))
    assert fetched.json()["sid"] == body["sid"]


def test_it_refuses_wrong_credentials_like_twilio(sim):
    response = post(sim, {"To": "+14155550111", "From": "+14155550100", "Body": "Hi"}, auth=None)
    assert response.status_code == 401
    assert response.json()["code"] == 20003
    assert post(sim, {"To": "+1"}, auth=(SID, "wrong")).status_code == 401
    assert [r.authenticated for r in sim.sent] == [False, False]


def test_it_plays_scripted_answers_in_order(sim):
    sim.queue_response(status=429, code=20429, headers={"Retry-After": "2"})
    sim.queue_response(status=400, code=21610)
    data = {"To": "+14155550111", "From": "+14155550100", "Body": "Hi"}

    first, second, third = post(sim, data), post(sim, data), post(sim, data)

    assert (first.status_code, first.json()["code"], first.headers["Retry-After"]) == (
        429,
        20429,
        "2",
    )
    assert (second.status_code, second.json()["code"]) == (400, 21610)
    assert third.status_code == 201
    assert len(sim.sent) == 3


def test_it_validates_required_parameters_like_twilio(sim):
    response = post(sim, {"To": "+14155550111", "Body": "Hi"})
    assert response.status_code == 400 and response.json()["code"] == 21603


def test_it_serves_media_to_the_account_only(sim):
    url = sim.add_media(SID, b"\xff\xd8jpeg", "image/jpeg")

    response = httpx.get(url, auth=(SID, TOKEN))

    assert response.status_code == 200
    assert response.content == b"\xff\xd8jpeg"
    assert response.headers["Content-Type"] == "image/jpeg"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url.replace("/Media/ME", "/Media/MEx"), auth=(SID, TOKEN)).status_code == 404


class _Receiver(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):
        raw = self.rfile.read(int(self.headers["Content-Length"])).decode()
        params = {k: v[0] for k, v in parse_qs(raw).items()}
        self.received.append((self.path, params, self.headers["X-Twilio-Signature"]))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_it_posts_status_callbacks_signed_like_twilio():
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    server, base_url = start(callbacks=True, callback_delay=0.01)  # demo mode: any account
    callback = f"http://127.0.0.1:{receiver.server_address[1]}/webhooks/twilio/tok/status/"
    try:
        created = httpx.post(
            base_url + CREATE,
            data={
                "To": "+14155550111",
                "From": "+14155550100",
                "Body": "Hi",
                "StatusCallback": callback,
            },
            auth=(SID, TOKEN),
        ).json()
        for _ in range(200):
            if len(server.callback_log) == 2:
                break
            threading.Event().wait(0.02)
    finally:
        server.shutdown()
        server.server_close()
        receiver.shutdown()
        receiver.server_close()

    assert [params["MessageStatus"] for _, params, _ in _Receiver.received] == [
        "sent",
        "delivered",
    ]
    for _, params, signature in _Receiver.received:
        assert params["MessageSid"] == created["sid"]
        assert RequestValidator(TOKEN).validate(callback, params, signature)
    assert [outcome for *_, outcome in server.callback_log] == [204, 204]


def test_it_runs_from_the_command_line_and_stops_on_sigterm():
    process = subprocess.Popen(
        [sys.executable, "-m", "inbox.providers.twilio.simulator", "--port", "0", "--callbacks"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        banner = process.stdout.readline()
        assert "not Twilio" in banner
        base_url = banner.split(" on ", 1)[1].split()[0]
        response = httpx.post(
            base_url + CREATE,
            data={"To": "+14155550111", "From": "+14155550100", "Body": "Hi"},
            auth=(SID, TOKEN),
        )
        assert response.status_code == 201
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
