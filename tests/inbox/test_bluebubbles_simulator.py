"""The BlueBubbles simulator itself, as the demo runs it: after a send it posts the webhooks a
Mac would (the tempGuid echo and its plain copy, delivered, read, the contact typing), in the
server's shapes, to the inbox's webhook URL; the app stores the message once and follows its
status. It also runs from the command line, the way `make run` starts it."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from django.core.cache import cache
from django.test import override_settings

from inbox.actions.send import do_send_message
from inbox.models import Conversation, Message
from inbox.providers import webhook_url
from inbox.providers.bluebubbles.simulator import PASSWORD, WEBHOOK_URL_ENV, start
from tests.inbox.bluebubbles_helpers import CONTACT, deliver_all, make_bb_inbox


def wait_for(condition, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.fixture
def simulator():
    server = start(webhook_delay=0.01, typing=True)
    yield server
    server.shutdown()
    server.server_close()


class _Receiver(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):
        payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.received.append((self.path, self.headers, payload))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    _Receiver.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def send_text(simulator, **body) -> httpx.Response:
    return httpx.post(
        simulator.base_url + "/api/v1/message/text",
        params={"password": PASSWORD},
        json={"method": "apple-script", **body},
    )


def test_after_a_send_it_posts_the_echoes_delivered_read_and_typing_in_the_servers_shapes(
    simulator, receiver
):
    simulator.webhook_url = f"http://127.0.0.1:{receiver.server_address[1]}/hook/tok"
    chat = f"iMessage;-;{CONTACT}"

    response = send_text(simulator, chatGuid=chat, tempGuid="temp-1", message="Your order")

    assert response.headers["X-BlueBubbles-Simulator"].startswith("centro")
    guid = response.json()["data"]["guid"]
    wait_for(lambda: len(_Receiver.received) == 6)
    paths = {path for path, _, _ in _Receiver.received}
    assert paths == {"/hook/tok"}
    assert all(h["X-BlueBubbles-Simulator"].startswith("centro") for _, h, _ in _Receiver.received)
    echo, plain, delivered, read, typing, stopped = [p for _, _, p in _Receiver.received]
    assert (echo["type"], echo["data"]["guid"], echo["data"]["tempGuid"]) == (
        "new-message",
        guid,
        "temp-1",
    )
    assert echo["data"]["isFromMe"] is True and echo["data"]["chats"][0]["guid"] == chat
    assert plain["type"] == "new-message" and "tempGuid" not in plain["data"]
    assert delivered["type"] == "updated-message" and "chats" not in delivered["data"]
    assert delivered["data"]["dateDelivered"] and not delivered["data"]["dateRead"]
    assert read["type"] == "updated-message" and read["data"]["dateRead"]
    assert typing == {"type": "typing-indicator", "data": {"display": True, "guid": chat}}
    assert stopped["data"]["display"] is False
    assert [outcome for _, outcome in simulator.webhook_log] == [200] * 6


def test_a_group_send_is_never_reported_read_and_a_failed_one_posts_nothing(simulator, receiver):
    simulator.webhook_url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
    simulator.send_errors["+14155550199"] = 22

    send_text(simulator, chatGuid="iMessage;+;chat1234", tempGuid="temp-g", message="Team")
    failed = send_text(
        simulator, chatGuid="SMS;-;+14155550199", tempGuid="temp-f", message="Not iMessage"
    )

    assert failed.status_code == 500
    wait_for(lambda: len(_Receiver.received) == 3)
    time.sleep(0.2)  # nothing more comes
    assert [p["type"] for _, _, p in _Receiver.received] == [
        "new-message",
        "new-message",
        "updated-message",
    ]
    assert all(
        p["data"]["chats"][0]["guid"] == "iMessage;+;chat1234" for _, _, p in _Receiver.received[:2]
    )


def test_marking_a_chat_read_posts_the_read_status_change(simulator, receiver):
    simulator.webhook_url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"

    response = httpx.post(
        simulator.base_url + "/api/v1/chat/iMessage%3B-%3B%2B14155550111/read",
        params={"password": PASSWORD},
    )

    assert response.json()["message"] == "Successfully marked chat as read!"
    wait_for(lambda: len(_Receiver.received) == 1)
    assert _Receiver.received[0][2] == {
        "type": "chat-read-status-changed",
        "data": {"chatGuid": "iMessage;-;+14155550111", "read": True},
    }


@pytest.mark.django_db(transaction=True)
def test_the_app_stores_a_send_once_and_follows_it_to_read(live_server, tenant, simulator):
    cache.clear()
    inbox = make_bb_inbox(tenant, simulator)
    with override_settings(PUBLIC_BASE_URL=live_server.url):
        simulator.webhook_url = webhook_url(inbox, "events")

    message = deliver_all(do_send_message(tenant, inbox=inbox, to=CONTACT, body="Hello"))

    wait_for(lambda: len(simulator.webhook_log) == 6)
    assert [outcome for _, outcome in simulator.webhook_log] == [200] * 6
    message.refresh_from_db()
    assert message.status == Message.Status.READ
    conversation = Conversation.objects.get(inbox=inbox)
    assert list(conversation.messages.values_list("direction", "body")) == [("out", "Hello")]
    [sent] = simulator.sent
    assert message.deliveries.get().provider_message_id == sent["guid"]


def test_it_runs_from_the_command_line_and_stops_on_sigterm(receiver):
    hook = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "inbox.providers.bluebubbles.simulator", "--port", "0"),
            *("--webhook-delay", "0.01", "--not-imessage", "+14155550199"),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, WEBHOOK_URL_ENV: hook},
    )
    try:
        banner = process.stdout.readline()
        assert "not BlueBubbles" in banner
        assert "/hook" not in banner  # the URL's secret stays out of logs
        base_url = banner.split(" on ", 1)[1].split(",")[0].strip()
        ping = httpx.get(base_url + "/api/v1/ping", params={"password": PASSWORD})
        assert ping.json()["data"] == "pong"
        available = httpx.get(
            base_url + "/api/v1/handle/availability/imessage",
            params={"password": PASSWORD, "address": "+14155550199"},
        )
        assert available.json()["data"] == {"available": False}
        send = httpx.post(
            base_url + "/api/v1/message/text",
            params={"password": PASSWORD},
            json={"chatGuid": "iMessage;-;+14155550111", "tempGuid": "t", "message": "Hi"},
        )
        assert send.status_code == 200
        wait_for(lambda: len(_Receiver.received) >= 4)  # echoes, delivered, read
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
