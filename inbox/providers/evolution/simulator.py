"""A local Evolution API simulator (not Evolution, not WhatsApp) speaking its REST wire format:
the ``apikey`` header, instance routes with the QR code flow, sends answering the message
record, the base64 media route, group infos, webhook set; plus builders of the webhooks it
posts (the envelope, ``messages.upsert``, ``messages.update`` acks, ``connection.update``).
The tests' fake server, and with ``--webhooks`` the demo's: it then posts to the URL Centro
registered, with the registered headers, a scan of the QR code a few seconds after it was
shown, and the echo and acks of every send. Facts: ../shared/providers/evolution-api.md.

Run alone: ``python -m inbox.providers.evolution.simulator --port 8767 --webhooks``.
"""

import argparse
import base64
import copy
import itertools
import json
import logging
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

import httpx

from inbox.providers.simulator_serving import serve_until_stopped

logger = logging.getLogger(__name__)

API_KEY = "evo-instance-token"
INSTANCE = "acme"
OWN_JID = "5511988888888@s.whatsapp.net"
# A 1x1 PNG: what the connect route's data URL holds.
QR_PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5Er"
    "kJggg=="
)
_ids = itertools.count(1)


def new_id() -> str:
    return f"3EB0{next(_ids):016X}"


def envelope(event: str, data: dict, instance: str = INSTANCE) -> dict:
    return {
        "event": event,
        "instance": instance,
        "data": data,
        "destination": "https://centro.example/",
        "date_time": "2026-01-01T00:00:00.000Z",
        "sender": OWN_JID,
        "server_url": "https://evo.example",
        "apikey": None,
    }


# What the phone does after a send when the simulator posts webhooks: (seconds, ack).
ACKS = ((0.5, "SERVER_ACK"), (1.5, "DELIVERY_ACK"), (4.0, "READ"))


class EvolutionServer(ThreadingHTTPServer):
    def __init__(
        self,
        api_key: str = API_KEY,
        instance: str = INSTANCE,
        *,
        address: tuple[str, int] = ("127.0.0.1", 0),
        webhooks: bool = False,
        scan_after: float = 5.0,
    ) -> None:
        super().__init__(address, _Handler)
        self.api_key = api_key
        self.instance = instance
        self.webhooks = webhooks  # post the webhooks a real instance would (the demo)
        self.scan_after = scan_after
        self.reset()

    def reset(self) -> None:
        self.requests: list[tuple[str, str, dict]] = []  # (method, path, JSON body or query)
        self.sent: list[dict] = []  # the message records of every send
        self.state = "close"
        self.qr_count = 0
        self.webhook: dict = {}  # what /webhook/set was given
        self.not_on_whatsapp: set[str] = set()  # numbers whose sends answer 400 exists: false
        self.media: dict[str, tuple[bytes, str]] = {}  # message id -> (content, mimetype)
        self.groups: dict[str, dict] = {}  # group JID -> findGroupInfos answer

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def paths(self, method: str = "") -> list[str]:
        return [path for m, path, _ in self.requests if not method or m == method]

    def scan(self) -> dict:
        """The phone scanned the QR code: the state is open; the webhook it posts."""
        self.state = "open"
        return envelope(
            "connection.update",
            {
                "instance": self.instance,
                "wuid": OWN_JID,
                "profileName": "Loja Acme",
                "profilePictureUrl": None,
                "state": "open",
                "statusReason": 200,
            },
            self.instance,
        )

    def ack(self, record: dict, status: str) -> dict:
        """The ``messages.update`` webhook for one of our messages reaching ``status``."""
        key = record["key"]
        return envelope(
            "messages.update",
            {
                "keyId": key["id"],
                "remoteJid": key["remoteJid"],
                "fromMe": True,
                "participant": None,
                "status": status,
                "instanceId": "b1d2c3e4",
                "messageId": f"cm{key['id'].lower()}",
            },
            self.instance,
        )

    def echo(self, record: dict, event: str = "messages.upsert") -> dict:
        """Our send as a ``fromMe`` upsert (or its ``send.message`` copy)."""
        data = {k: v for k, v in copy.deepcopy(record).items() if k != "request"}
        return envelope(event, data, self.instance)

    def from_phone(self, number: str, text: str) -> dict:
        """A message typed on the paired phone itself: a ``fromMe`` upsert nobody asked for."""
        return envelope(
            "messages.upsert",
            {
                "key": {"remoteJid": f"{number}@s.whatsapp.net", "fromMe": True, "id": new_id()},
                "pushName": "Você",
                "status": "SERVER_ACK",
                "message": {"conversation": text},
                "contextInfo": None,
                "messageType": "conversation",
                "messageTimestamp": int(time.time()),
                "instanceId": "b1d2c3e4",
                "source": "android",
            },
            self.instance,
        )

    def webhook_headers(self) -> dict:
        """The HTTP headers Evolution sends with each webhook (those registered)."""
        return dict(self.webhook.get("headers") or {})

    # --- posting webhooks (``webhooks``: the demo) ---------------------------------------------

    def post_later(self, delay: float, payload_of) -> None:
        """POST ``payload_of()`` to the registered URL after ``delay`` seconds."""
        if not self.webhooks:
            return
        timer = threading.Timer(delay, lambda: self.post_webhook(payload_of()))
        timer.daemon = True
        timer.start()

    def post_webhook(self, payload: dict) -> int | None:
        """POST ``payload`` as Evolution does: JSON, the registered headers; the status."""
        url = self.webhook.get("url")
        if not url or not self.webhook.get("enabled", True):
            return None
        try:
            response = httpx.post(url, json=payload, headers=self.webhook_headers(), timeout=10)
        except httpx.HTTPError as exc:
            logger.warning("Could not post %s to %s: %s", payload.get("event"), url, exc)
            return None
        return response.status_code

    def after_connect(self) -> None:
        """The QR code was shown: the phone "scans" it a moment later."""
        self.post_later(self.scan_after, self.scan)

    def after_send(self, record: dict) -> None:
        """What follows a send: its ``send.message`` copy, then the phone's acks."""
        echo = self.echo(record, "send.message")
        self.post_later(0.1, lambda: echo)
        for delay, status in ACKS:
            self.post_later(delay, lambda status=status: self.ack(record, status))


class _Handler(BaseHTTPRequestHandler):
    server: EvolutionServer

    def log_message(self, *args) -> None:
        pass

    def _reply(self, status: int, payload) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, error: str, message) -> None:
        self._reply(status, {"status": status, "error": error, "response": {"message": message}})

    def _route(self) -> tuple[str, str] | None:
        """(route, instance) of ``/<group>/<action>/<instance>``; 401/404 answered if not ours."""
        path = urlsplit(self.path).path
        if self.headers.get("apikey") != self.server.api_key:
            self._error(401, "Unauthorized", "Unauthorized")
            return None
        route, _, instance = path.rpartition("/")
        if unquote(instance) != self.server.instance:
            self._error(404, "Not Found", [f'The "{unquote(instance)}" instance does not exist'])
            return None
        return route, instance

    def do_GET(self) -> None:
        query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
        self.server.requests.append(("GET", urlsplit(self.path).path, query))
        found = self._route()
        if found is None:
            return
        route, _ = found
        server = self.server
        if route == "/instance/connectionState":
            return self._reply(
                200, {"instance": {"instanceName": server.instance, "state": server.state}}
            )
        if route == "/instance/connect":
            if server.state == "open":
                return self._reply(
                    200, {"instance": {"instanceName": server.instance, "state": "open"}}
                )
            server.state = "connecting"
            server.qr_count += 1
            server.after_connect()
            return self._reply(
                200,
                {
                    "pairingCode": None,
                    "code": f"2@fake-qr-{server.qr_count}",
                    "base64": f"data:image/png;base64,{QR_PNG}",
                    "count": server.qr_count,
                },
            )
        if route == "/group/findGroupInfos":
            group = server.groups.get(query.get("groupJid", ""))
            if group is None:
                return self._error(400, "Bad Request", ["Group not found"])
            return self._reply(200, group)
        return self._error(404, "Not Found", [f"Cannot GET {self.path}"])

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        self.server.requests.append(("POST", urlsplit(self.path).path, body))
        found = self._route()
        if found is None:
            return
        route, _ = found
        server = self.server
        if route == "/webhook/set":
            server.webhook = copy.deepcopy(body["webhook"])
            return self._reply(201, {"id": "wh1", **server.webhook})
        if route in ("/message/sendText", "/message/sendMedia", "/message/sendWhatsAppAudio"):
            return self._send(route, body)
        if route == "/chat/getBase64FromMediaMessage":
            message_id = body.get("message", {}).get("key", {}).get("id", "")
            if message_id not in server.media:
                return self._error(400, "Bad Request", ["Message not found"])
            content, mimetype = server.media[message_id]
            return self._reply(
                201,
                {
                    "mediaType": "imageMessage",
                    "fileName": None,
                    "size": {"fileLength": str(len(content))},
                    "mimetype": mimetype,
                    "base64": base64.b64encode(content).decode(),
                    "buffer": None,
                },
            )
        return self._error(404, "Not Found", [f"Cannot POST {self.path}"])

    def _send(self, route: str, body: dict) -> None:
        number = body.get("number", "")
        if self.server.state != "open":
            return self._error(400, "Bad Request", ["Connection Closed"])
        if number in self.server.not_on_whatsapp:
            return self._error(
                400,
                "Bad Request",
                [{"exists": False, "jid": f"{number}@s.whatsapp.net", "number": number}],
            )
        jid = number if "@" in number else f"{number}@s.whatsapp.net"
        if route == "/message/sendText":
            message, kind = {"conversation": body["text"]}, "conversation"
        elif route == "/message/sendWhatsAppAudio":
            message = {"audioMessage": {"mimetype": "audio/ogg; codecs=opus", "ptt": True}}
            kind = "audioMessage"
        else:
            kind = f"{body['mediatype']}Message"
            message = {
                kind: {
                    "mimetype": body.get("mimetype", ""),
                    "caption": body.get("caption", ""),
                    "fileName": body.get("fileName", ""),
                }
            }
        record = {
            "key": {"remoteJid": jid, "fromMe": True, "id": new_id()},
            "pushName": "",
            "status": "PENDING",
            "message": message,
            "contextInfo": None,
            "messageType": kind,
            "messageTimestamp": int(time.time()),
            "instanceId": "b1d2c3e4",
            "source": "unknown",
            "request": copy.deepcopy(body),  # not Evolution's: what the test sent, to check
        }
        self.server.sent.append(record)
        answer = {k: v for k, v in record.items() if k != "request"}
        self._reply(201, answer)
        self.server.after_send(answer)
        return None


def start(api_key: str = API_KEY, instance: str = INSTANCE, **options) -> EvolutionServer:
    server = EvolutionServer(api_key, instance, **options)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@dataclass(frozen=True)
class InboundRequest:
    path: str  # the inbox's webhook path; the caller chooses the server
    data: dict
    headers: dict[str, str]
    message_id: str


def inbound_request(
    inbox, *, sender: str, body: str, media_urls=(), profile_name: str = "", base_url=None
) -> InboundRequest:
    """The ``messages.upsert`` webhook an instance posts when ``sender`` (E.164) writes to
    ``inbox`` (what ``manage.py simulate_inbound`` posts). Evolution signs nothing: the URL
    carries the inbox's token and the registered header its secret, so ``base_url`` (what
    Twilio signs for) plays no part."""
    from django.conf import settings

    from inbox.providers import webhook_url
    from inbox.providers.evolution.provider import SECRET_HEADER

    if media_urls:
        raise ValueError(
            "The Evolution simulator plays text messages only (media come through its base64 "
            "route): leave out --media-url."
        )
    credentials = inbox.get_credentials()
    message_id = new_id()
    data = {
        "key": {
            "remoteJid": f"{sender.lstrip('+')}@s.whatsapp.net",
            "fromMe": False,
            "id": message_id,
        },
        "pushName": profile_name,
        "status": "DELIVERY_ACK",
        "message": {"conversation": body},
        "contextInfo": None,
        "messageType": "conversation",
        "messageTimestamp": int(time.time()),
        "instanceId": "b1d2c3e4",
        "source": "android",
    }
    return InboundRequest(
        path=webhook_url(inbox, "events").removeprefix(settings.PUBLIC_BASE_URL.rstrip("/")),
        data=envelope("messages.upsert", data, credentials.get("instance_name", INSTANCE)),
        headers={
            "Content-Type": "application/json",
            SECRET_HEADER: credentials.get("webhook_secret", ""),
        },
        message_id=message_id,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="A local Evolution API simulator for demos (not Evolution, not WhatsApp)."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8767)
    parser.add_argument("--instance", default=INSTANCE)
    parser.add_argument("--api-key", default=API_KEY)
    parser.add_argument(
        "--webhooks",
        action="store_true",
        help="POST the webhooks an instance would: the QR code scanned, echoes and acks.",
    )
    parser.add_argument("--scan-after", type=float, default=5.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    server = EvolutionServer(
        args.api_key,
        args.instance,
        address=(args.host, args.port),
        webhooks=args.webhooks,
        scan_after=args.scan_after,
    )

    serve_until_stopped(
        server,
        f"Evolution API simulator (a local fake, not Evolution) on {server.base_url}, "
        f"instance {server.instance!r}{' posting webhooks' if server.webhooks else ''}",
    )


if __name__ == "__main__":
    main()
