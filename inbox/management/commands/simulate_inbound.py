"""manage.py simulate_inbound: post a correctly signed inbound message webhook to the server.

The request is what the inbox's provider sends for an incoming message, signed the way it
signs for the URL it is posted to (for Twilio, X-Twilio-Signature over ``--url``, else
PUBLIC_BASE_URL, + the inbox's inbound path; BlueBubbles signs nothing, its URL carries the
inbox's secret), built by the provider's local simulator
(``inbox/providers/<key>/simulator.py``, ``inbound_request``), so the running server handles it
exactly like a real one. Prints {status_code, message_sid} as JSON (the message's id at the
provider: a Twilio SID, an iMessage GUID).
"""

import json

import httpx
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils.module_loading import import_module

from contacts.phones import InvalidPhone, normalize_phone
from inbox.models import Inbox
from inbox.providers import provider_class


class Command(BaseCommand):
    help = (
        "Post an inbound message webhook for an inbox (Twilio SMS/WhatsApp, Evolution "
        "WhatsApp, BlueBubbles iMessage) to the running server, as its provider would."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--inbox", required=True, type=int, help="The inbox's id.")
        parser.add_argument("--from", dest="sender", required=True, help="The contact, E.164.")
        parser.add_argument("--body", required=True, help="The message text.")
        parser.add_argument(
            "--url",
            help="The server's base URL, signed for (default: the PUBLIC_BASE_URL setting).",
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
        simulator = _simulator(inbox)
        try:
            sender = normalize_phone(options["sender"], inbox.tenant.default_region)
        except InvalidPhone as exc:
            raise CommandError(f"--from: {exc}") from exc
        if len(options["media_url"]) > 10:
            raise CommandError("Twilio sends at most 10 media items per message.")
        for url in options["media_url"]:
            if not url.startswith(("http://", "https://")):
                raise CommandError(f"--media-url {url!r} is not an http(s) URL.")

        try:
            request = simulator.inbound_request(
                inbox,
                sender=sender,
                body=options["body"],
                media_urls=options["media_url"],
                profile_name=options["profile_name"],
                base_url=options["url"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        target = (options["url"] or settings.PUBLIC_BASE_URL).rstrip("/") + request.path
        # Twilio posts a form, BlueBubbles JSON: the request says which.
        as_json = request.headers.get("Content-Type") == "application/json"
        body = {"json": request.data} if as_json else {"data": request.data}
        try:
            response = httpx.post(
                target, headers=request.headers, timeout=options["timeout"], **body
            )
        except httpx.HTTPError as exc:
            raise CommandError(f"Could not reach {target}: {exc}") from exc
        self.stdout.write(
            json.dumps({"status_code": response.status_code, "message_sid": request.message_id})
        )
        if response.status_code >= 400:
            raise CommandError(
                f"The server answered {response.status_code} to {target}: {response.text[:300]}"
            )


def _simulator(inbox: Inbox):
    """The local simulator module of the inbox's provider, if it can fake inbound messages."""
    package = provider_class(inbox.provider).__module__.rpartition(".")[0]
    try:
        simulator = import_module(f"{package}.simulator")
    except ImportError:
        simulator = None
    if simulator is None or not hasattr(simulator, "inbound_request"):
        raise CommandError(
            f"{provider_class(inbox.provider).label} inboxes have no local simulator of "
            "inbound messages."
        )
    return simulator
