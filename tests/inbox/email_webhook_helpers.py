"""The one way email webhook tests talk to Centro: real-format ESP fixtures, authenticated the
ESP's way (anymail's basic-auth webhook secret; Mailgun's HMAC signature with the signing key),
posted through the real URL routing.

``tests/fixtures/<esp>/<name>.json`` holds the ESP's payload; a name starts with the kind of
webhook it is (``inbound…`` or ``tracking…``), and a kind that
``inbox.webhooks.anymail.EVENT_HANDLERS`` does not declare fails the test.
"""

import base64
import hashlib
import hmac
import json
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from inbox.webhooks.anymail import EVENT_HANDLERS
from tests.inbox.conftest import MAILGUN_SIGNING_KEY, WEBHOOK_SECRET

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
KINDS = {"inbound": "inbound", "tracking": "status"}


def load(esp: str, name: str) -> dict:
    return json.loads((FIXTURES / esp / f"{name}.json").read_text())


def fixture_bytes(esp: str, filename: str) -> bytes:
    return (FIXTURES / esp / filename).read_bytes()


def _path(inbox, name: str, token: str | None) -> str:
    kind = name.split("_")[0]
    if KINDS.get(kind) not in EVENT_HANDLERS:
        pytest.fail(
            f"Fixture {name!r} is a {kind!r} webhook, which inbox.webhooks.anymail."
            f"EVENT_HANDLERS does not declare ({sorted(EVENT_HANDLERS)})."
        )
    return reverse("webhooks:receive", args=["anymail", token or inbox.webhook_token, kind])


def basic_auth(secret: str | None) -> dict:
    if not secret:
        return {}
    return {"Authorization": "Basic " + base64.b64encode(secret.encode()).decode()}


def set_header(payload: dict, name: str, value: str) -> dict:
    """Set (or add) a header in a Postmark inbound payload's ``Headers`` list."""
    headers = [h for h in payload["Headers"] if h["Name"].lower() != name.lower()]
    headers.append({"Name": name, "Value": value})
    payload["Headers"] = headers
    return payload


def post_postmark(
    inbox,
    name: str,
    payload: dict | None = None,
    *,
    secret: str | None = WEBHOOK_SECRET,
    token: str | None = None,
    raw: bytes | None = None,
    client: Client | None = None,
):
    """POST Postmark fixture ``name`` (or ``payload``, or ``raw`` bytes) as Postmark does: JSON,
    with the webhook secret as basic auth in the URL."""
    body = raw if raw is not None else json.dumps(payload or load("postmark", name)).encode()
    return (client or Client()).post(
        _path(inbox, name, token),
        data=body,
        content_type="application/json",
        headers=basic_auth(secret),
    )


def mailgun_signature(key: str, timestamp: str, token: str) -> str:
    return hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()


def post_mailgun_inbound(
    inbox,
    name: str = "inbound",
    *,
    fields: dict | None = None,
    signing_key: str = MAILGUN_SIGNING_KEY,
    secret: str | None = WEBHOOK_SECRET,
    token: str | None = None,
    client: Client | None = None,
):
    """POST Mailgun's forward() payload (multipart/form-data with the attachment files),
    signed with HMAC-SHA256(signing key, timestamp + token) like Mailgun."""
    data = {**load("mailgun", name), **(fields or {})}
    data["signature"] = mailgun_signature(signing_key, data["timestamp"], data["token"])
    for index in range(1, int(data.get("attachment-count") or 0) + 1):
        filename = f"{name}.attachment-{index}.bin"
        data[f"attachment-{index}"] = SimpleUploadedFile(
            "comprobante.bin", fixture_bytes("mailgun", filename), "application/octet-stream"
        )
    return (client or Client()).post(
        _path(inbox, name, token), data=data, headers=basic_auth(secret)
    )


def post_mailgun_tracking(
    inbox,
    name: str,
    *,
    message_id: str,
    signing_key: str = MAILGUN_SIGNING_KEY,
    secret: str | None = WEBHOOK_SECRET,
):
    payload = load("mailgun", name)
    payload["event-data"]["message"]["headers"]["message-id"] = message_id
    block = payload["signature"]
    block["signature"] = mailgun_signature(signing_key, block["timestamp"], block["token"])
    return Client().post(
        _path(inbox, name, None),
        data=json.dumps(payload),
        content_type="application/json",
        headers=basic_auth(secret),
    )


# Webhooks an ESP posts as a multipart form; every other one is JSON.
FORM_WEBHOOKS = {("mailgun", "inbound"), ("sendgrid", "inbound")}


def post_email_webhook(
    inbox,
    esp: str,
    name: str,
    payload,
    *,
    ensure_ascii: bool = True,
    client: Client | None = None,
):
    """POST ``payload`` (fixture ``name``'s shape, possibly altered) to ``inbox``'s webhook the
    way ``esp`` posts it: a multipart form (Mailgun and SendGrid inbound, with the fixture's
    attachment files) or JSON (``ensure_ascii=False`` sends raw UTF-8, lone surrogates as
    they encode), signed where the ESP signs (Mailgun), with the webhook secret as basic auth.
    """
    kind = name.split("_")[0]
    path = _path(inbox, name, None)
    client = client or Client()
    headers = basic_auth(WEBHOOK_SECRET)
    if esp == "mailgun" and kind == "tracking":
        block = payload["signature"]
        block["signature"] = mailgun_signature(
            MAILGUN_SIGNING_KEY, block["timestamp"], block["token"]
        )
    if (esp, kind) in FORM_WEBHOOKS:
        data = dict(payload)
        if esp == "mailgun":
            data["signature"] = mailgun_signature(
                MAILGUN_SIGNING_KEY, data["timestamp"], data["token"]
            )
            declared = int(load(esp, name).get("attachment-count") or 0)
            for index in range(1, declared + 1):
                data[f"attachment-{index}"] = SimpleUploadedFile(
                    "comprobante.bin",
                    fixture_bytes(esp, f"{name}.attachment-{index}.bin"),
                    "application/octet-stream",
                )
        return client.post(path, data=data, headers=headers)
    body = json.dumps(payload, ensure_ascii=ensure_ascii).encode("utf-8", "surrogatepass")
    return client.post(path, data=body, content_type="application/json", headers=headers)
