"""manage.py create_inbox: connect a Twilio SMS or WhatsApp number; prints the inbox as JSON."""

from django.core.management.base import BaseCommand, CommandError

from inbox.actions.inboxes import do_create_inbox
from inbox.models import Channel, Provider
from omnichannel.actions import ActionError
from omnichannel.models import Tenant


class Command(BaseCommand):
    help = (
        "Create a Twilio inbox for a tenant and print it as JSON, the same as "
        "GET /api/v1/inboxes/{id} (with its webhook_urls, never the auth token)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--tenant", required=True, type=int, help="The tenant's id.")
        parser.add_argument("--provider", default=Provider.TWILIO, choices=Provider.values)
        parser.add_argument("--kind", required=True, choices=[Channel.SMS, Channel.WHATSAPP])
        parser.add_argument("--address", required=True, help="The sender number, E.164.")
        parser.add_argument("--account-sid", required=True, help="AC followed by 32 hex digits.")
        parser.add_argument("--auth-token", required=True)
        parser.add_argument("--api-base-url", help="Another Twilio API host (a simulator).")
        parser.add_argument("--messaging-service-sid", help="Send through this MG… service.")
        parser.add_argument("--name", default="", help="Defaults to the kind and the number.")

    def handle(self, *args, **options) -> None:
        from inbox.api import inbox_json

        tenant = Tenant.objects.filter(pk=options["tenant"], is_active=True).first()
        if tenant is None:
            raise CommandError(f"There is no active tenant with id {options['tenant']}.")
        credentials = {
            "account_sid": options["account_sid"],
            "auth_token": options["auth_token"],
            "api_base_url": options["api_base_url"],
            "messaging_service_sid": options["messaging_service_sid"],
        }
        try:
            inbox = do_create_inbox(
                tenant,
                name=options["name"],
                kind=options["kind"],
                provider=options["provider"],
                address=options["address"],
                credentials={k: v for k, v in credentials.items() if v is not None},
                settings={},
            )
        except ActionError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(inbox_json(inbox))
