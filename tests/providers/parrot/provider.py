"""Parrot: a chat service that exists only in the tests, plugged in by registration alone.

It looks like the chat providers that come next: one webhook URL for every event type (in the
JSON ``type``), an HMAC signature, a thread handle (``chatGuid``) and sends confirmed by an
echoed client reference (``tempGuid``).
"""

import hashlib
import hmac
import json
import uuid

import httpx

from inbox.models import Message
from inbox.providers.base import (
    Capabilities,
    MalformedWebhook,
    MessageReceived,
    NotOnChannel,
    OutboundMessage,
    ProviderError,
    ProviderResult,
    ReadChanged,
    StatusEvent,
    TypingChanged,
)
from omnichannel.channels import Channel
from tests.providers.parrot.credentials import ParrotCredentials

STATUSES = {"delivered": Message.Status.DELIVERED, "read": Message.Status.READ}


def signature(password: str, body: bytes) -> str:
    return hmac.new(password.encode(), body, hashlib.sha256).hexdigest()


class ParrotProvider:
    key = "parrot"
    label = "Parrot chat"
    kinds = (Channel.IMESSAGE,)
    credentials = ParrotCredentials()
    webhooks = "tests.providers.parrot.webhooks"
    capabilities = Capabilities(typing=True, read_receipts=True)

    def __init__(self, inbox) -> None:
        self.inbox = inbox

    def prepare(self) -> None:
        pass

    def _call(self, method: str, path: str, **kwargs) -> httpx.Response:
        credentials = self.inbox.get_credentials()
        try:
            response = httpx.request(
                method,
                f"{credentials['server_url']}{path}",
                params={"password": credentials["password"], **kwargs.pop("params", {})},
                timeout=5,
                **kwargs,
            )
        except httpx.HTTPError as exc:
            raise ProviderError(f"Parrot could not be reached: {exc}", permanent=False) from exc
        if response.status_code == 400 and response.json().get("error") == "not-registered":
            raise NotOnChannel("The address is not on Parrot chat.")
        if response.status_code >= 400:
            raise ProviderError.from_http_status(response.status_code, service="Parrot")
        return response

    def send(self, message: OutboundMessage) -> ProviderResult:
        client_ref = message.client_ref or f"temp-{uuid.uuid4()}"
        response = self._call(
            "POST",
            "/api/v1/message/text",
            json={
                "chatGuid": message.thread_ref or f"any;-;{message.recipient}",
                "message": message.body,
                "tempGuid": client_ref,
            },
        )
        return ProviderResult(
            provider_message_id=response.json()["data"]["guid"],
            status=Message.Status.SENT,
            client_ref=client_ref,
        )

    def check_availability(self, address: str) -> bool:
        answer = self._call("GET", "/api/v1/handle/availability", params={"address": address})
        return bool(answer.json()["data"]["available"])

    def send_typing(self, address: str, typing: bool) -> None:
        self._call("POST", f"/api/v1/chat/{address}/typing", json={"typing": typing})

    def mark_read(self, address: str) -> None:
        self._call("POST", f"/api/v1/chat/{address}/read")

    def verify(self, request, event_type: str = "") -> bool:
        expected = signature(self.inbox.get_credentials().get("password", ""), request.body)
        return hmac.compare_digest(expected, request.headers.get("X-Parrot-Signature", ""))

    def parse(self, request) -> list[MessageReceived | StatusEvent | TypingChanged | ReadChanged]:
        payload = _payload(request)
        data = payload.get("data") or {}
        if payload.get("type") == "typing-indicator":
            return [
                TypingChanged(
                    sender=str(data.get("handle") or ""),
                    typing=bool(data.get("display")),
                    thread_ref=str(data.get("chatGuid") or ""),
                )
            ]
        if payload.get("type") == "chat-read-status-changed":
            return [
                ReadChanged(
                    sender=str(data.get("handle") or ""),
                    read=bool(data.get("read")),
                    thread_ref=str(data.get("chatGuid") or ""),
                )
            ]
        if payload.get("type") == "new-message":
            return [
                MessageReceived(
                    external_id=str(data["guid"]),
                    sender=str(data["handle"]),
                    recipient=self.inbox.address,
                    body=str(data.get("text") or ""),
                    thread_ref=str(data.get("chatGuid") or ""),
                )
            ]
        status = STATUSES.get(str(data.get("status")))
        if status is None:
            raise MalformedWebhook(f"Unknown Parrot status {data.get('status')!r}.")
        return [StatusEvent(provider_message_id=str(data["guid"]), status=status)]


def _payload(request) -> dict:
    try:
        payload = json.loads(request.body)
    except ValueError as exc:
        raise MalformedWebhook("The Parrot webhook is not JSON.") from exc
    if not isinstance(payload, dict):
        raise MalformedWebhook("The Parrot webhook is not a JSON object.")
    return payload
