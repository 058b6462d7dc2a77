"""manage.py create_inbox: connect a Twilio number or an email address; prints the inbox as JSON."""

import secrets

from django.core.management.base import BaseCommand, CommandError

from inbox.actions.inboxes import do_create_inbox
from inbox.models import Provider
from omnichannel.actions import ActionError
from omnichannel.channels import Channel
from omnichannel.models import Tenant

# --option -> credential key, for email inboxes.
EMAIL_OPTIONS = {
    "esp": "esp",
    "server_token": "server_token",
    "api_key": "api_key",
    "secret_key": "secret_key",
    "api_url": "api_url",
    "sender_domain": "sender_domain",
    "smtp_host": "host",
    "smtp_port": "port",
    "smtp_username": "username",
    "smtp_password": "password",
    "webhook_secret": "webhook_secret",
    "webhook_signing_key": "webhook_signing_key",
    "webhook_esp": "webhook_esp",
}


class Command(BaseCommand):
    help = (
        "Create an inbox for a tenant (a Twilio SMS/WhatsApp number, or an email address sent "
        "through an ESP or SMTP server with anymail) and print it as JSON, the same as "
        "GET /api/v1/inboxes/{id} (with its webhook_urls, never a secret)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--tenant", required=True, type=int, help="The tenant's id.")
        parser.add_argument("--provider", default=Provider.TWILIO, choices=Provider.values)
        parser.add_argument(
            "--kind", required=True, choices=[Channel.SMS, Channel.WHATSAPP, Channel.EMAIL]
        )
        parser.add_argument(
            "--address", required=True, help="The sender: a number (E.164) or an email address."
        )
        parser.add_argument("--name", default="", help="Defaults to the kind and the address.")
        twilio = parser.add_argument_group("Twilio (--provider twilio)")
        twilio.add_argument("--account-sid", help="AC followed by 32 hex digits.")
        twilio.add_argument("--auth-token")
        twilio.add_argument("--api-base-url", help="Another Twilio API host (a simulator).")
        twilio.add_argument("--messaging-service-sid", help="Send through this MG… service.")
        email = parser.add_argument_group("Email (--provider anymail --kind email)")
        email.add_argument(
            "--esp",
            help="smtp, postmark, mailgun, sendgrid, brevo or mailjet.",
        )
        email.add_argument("--server-token", help="Postmark's server token.")
        email.add_argument("--api-key", help="Mailgun, SendGrid, Brevo or Mailjet API key.")
        email.add_argument("--secret-key", help="Mailjet's secret key.")
        email.add_argument("--api-url", help="Another API base URL (an EU region, a fake).")
        email.add_argument("--sender-domain", help="Mailgun's sending domain.")
        email.add_argument("--smtp-host")
        email.add_argument("--smtp-port", type=int)
        email.add_argument("--smtp-username")
        email.add_argument("--smtp-password")
        email.add_argument("--smtp-use-tls", action="store_true", help="STARTTLS (port 587).")
        email.add_argument("--smtp-use-ssl", action="store_true", help="Implicit TLS (port 465).")
        email.add_argument(
            "--webhook-secret",
            help="user:password for the webhooks' basic auth (generated when omitted).",
        )
        email.add_argument("--webhook-signing-key", help="Mailgun's HTTP webhook signing key.")
        email.add_argument(
            "--webhook-esp", help="The ESP posting inbound mail when it differs (SMTP inboxes)."
        )

    def handle(self, *args, **options) -> None:
        from inbox.api import inbox_json

        tenant = Tenant.objects.filter(pk=options["tenant"], is_active=True).first()
        if tenant is None:
            raise CommandError(f"There is no active tenant with id {options['tenant']}.")
        if options["provider"] == Provider.ANYMAIL:
            credentials = {
                key: options[option]
                for option, key in EMAIL_OPTIONS.items()
                if options[option] not in (None, "")
            }
            if options["smtp_use_tls"]:
                credentials["use_tls"] = True
            if options["smtp_use_ssl"]:
                credentials["use_ssl"] = True
            generated = "webhook_secret" not in credentials
            if generated:
                credentials["webhook_secret"] = (
                    f"centro:{secrets.token_urlsafe(24).replace(':', '')}"
                )
        else:
            generated = False
            credentials = {
                "account_sid": options["account_sid"],
                "auth_token": options["auth_token"],
                "api_base_url": options["api_base_url"],
                "messaging_service_sid": options["messaging_service_sid"],
            }
            credentials = {k: v for k, v in credentials.items() if v is not None}
        try:
            inbox = do_create_inbox(
                tenant,
                name=options["name"],
                kind=options["kind"],
                provider=options["provider"],
                address=options["address"],
                credentials=credentials,
                settings={},
            )
        except ActionError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(inbox_json(inbox))
        if generated:
            # Shown once: it goes into the ESP's webhook URLs as https://user:password@…
            self.stderr.write(f"webhook secret (basic auth): {credentials['webhook_secret']}")
