"""manage.py simulate_inbound: post a correctly signed Twilio inbound webhook to the server.

The form is what Twilio sends for an incoming SMS / WhatsApp message, signed the way Twilio
signs it (X-Twilio-Signature over PUBLIC_BASE_URL + the inbox's inbound path), so the running
server handles it exactly like a real one. Prints {status_code, message_sid} as JSON.
"""

import json
import mimetypes
import secrets

import httpx
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse
from twilio.request_validator import RequestValidator

from contacts.phones import InvalidPhone, normalize_phone
from inbox.models import Inbox, Provider
from omnichannel.channels import Channel


def inbound_params(
    inbox: Inbox, *, sender: str, body: str, media_urls=(), profile_name: str = ""
) -> dict[str, str]:
    """The form fields of a Twilio inbound message from ``sender`` (E.164) to ``inbox``."""
    sid = "SM" + secrets.token_hex(16)
    credentials = inbox.get_credentials()
    prefix = "whatsapp:" if inbox.kind == Channel.WHATSAPP else ""
    params = {
        "MessageSid": sid,
        "SmsMessageSid": sid,
        "SmsSid": sid,
        "AccountSid": credentials.get("account_sid", ""),
        "From": prefix + sender,
        "To": prefix + inbox.address,
        "Body": body,
        "NumMedia": str(len(media_urls)),
        "NumSegments": "1",
        "SmsStatus": "received",
        "ApiVersion": "2010-04-01",
    }
    service_sid = (inbox.settings or {}).get("messaging_service_sid") or credentials.get(
        "messaging_service_sid"
    )
    if service_sid:
        params["MessagingServiceSid"] = service_sid
    if inbox.kind == Channel.WHATSAPP:
        params["ProfileName"] = profile_name
        params["WaId"] = sender.lstrip("+")
    for index, url in enumerate(media_urls):
        content_type, _ = mimetypes.guess_type(url.split("?", 1)[0])
        params[f"MediaUrl{index}"] = url
        params[f"MediaContentType{index}"] = content_type or "application/octet-stream"
    return params


def sign(inbox: Inbox, url: str, params: dict[str, str]) -> str:
    return RequestValidator(inbox.get_credentials().get("auth_token", "")).compute_signature(
        url, params
    )


class Command(BaseCommand):
    help = "Post a signed Twilio inbound message webhook for an inbox to the running server."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--inbox", required=True, type=int, help="The inbox's id.")
        parser.add_argument("--from", dest="sender", required=True, help="The contact, E.164.")
        parser.add_argument("--body", required=True, help="The message text.")
        parser.add_argument(
            "--url", help="The server's base URL (default: the PUBLIC_BASE_URL setting)."
        )
        parser.add_argument(
            "--media-url", action="append", default=[], help="An attachment URL (repeatable)."
        )
        parser.add_argument(
            "--profile-name",
            default="WhatsApp Contact",
            help="The WhatsApp profile name Twilio sends (WhatsApp inboxes only).",
        )
        parser.add_argument("--timeout", type=float, default=10.0)

    def handle(self, *args, **options) -> None:
        inbox = Inbox.objects.select_related("tenant").filter(pk=options["inbox"]).first()
        if inbox is None:
            raise CommandError(f"There is no inbox with id {options['inbox']}.")
        if inbox.provider != Provider.TWILIO or inbox.kind not in (
            Channel.SMS,
            Channel.WHATSAPP,
        ):
            raise CommandError("Only Twilio SMS and WhatsApp inboxes receive simulated messages.")
        if not inbox.get_credentials().get("auth_token"):
            raise CommandError("The inbox has no Twilio auth token to sign with.")
        try:
            sender = normalize_phone(options["sender"], inbox.tenant.default_region)
        except InvalidPhone as exc:
            raise CommandError(f"--from: {exc}") from exc
        if len(options["media_url"]) > 10:
            raise CommandError("Twilio sends at most 10 media items per message.")
        for url in options["media_url"]:
            if not url.startswith(("http://", "https://")):
                raise CommandError(f"--media-url {url!r} is not an http(s) URL.")

        path = reverse("webhooks:twilio-inbound", args=[inbox.webhook_token])
        signed_url = settings.PUBLIC_BASE_URL.rstrip("/") + path
        target = (options["url"] or settings.PUBLIC_BASE_URL).rstrip("/") + path
        params = inbound_params(
            inbox,
            sender=sender,
            body=options["body"],
            media_urls=options["media_url"],
            profile_name=options["profile_name"],
        )
        try:
            response = httpx.post(
                target,
                data=params,
                headers={
                    "X-Twilio-Signature": sign(inbox, signed_url, params),
                    "User-Agent": "TwilioProxy/1.1 (centro simulate_inbound)",
                },
                timeout=options["timeout"],
            )
        except httpx.HTTPError as exc:
            raise CommandError(f"Could not reach {target}: {exc}") from exc
        self.stdout.write(
            json.dumps({"status_code": response.status_code, "message_sid": params["MessageSid"]})
        )
        if response.status_code >= 400:
            raise CommandError(
                f"The server answered {response.status_code} to {target}: {response.text[:300]}"
            )
