"""manage.py create_inbox: connect a Twilio number or an email address; prints the inbox as JSON."""

from django.core.management.base import BaseCommand, CommandError

from inbox.actions.inboxes import do_create_inbox, schema_for
from inbox.providers import provider_keys
from omnichannel.actions import ActionError
from omnichannel.channels import Channel
from omnichannel.models import Tenant

# --option -> credential key; the provider's schema refuses keys it does not take.
CREDENTIAL_OPTIONS = {
    "account_sid": "account_sid",
    "auth_token": "auth_token",
    "api_base_url": "api_base_url",
    "messaging_service_sid": "messaging_service_sid",
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
        parser.add_argument("--provider", default="twilio", choices=provider_keys())
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
        try:
            schema = schema_for(options["provider"])
        except ActionError as exc:
            raise CommandError(exc.message) from exc
        credentials = {
            key: options[option]
            for option, key in CREDENTIAL_OPTIONS.items()
            if options[option] not in (None, "")
        }
        if options["smtp_use_tls"]:
            credentials["use_tls"] = True
        if options["smtp_use_ssl"]:
            credentials["use_ssl"] = True
        generated = schema.generate(credentials)
        credentials.update(generated)
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
        for field in schema.fields(credentials):
            if field.key in generated:  # shown once: the provider's console needs it
                self.stderr.write(f"{field.label.lower()}: {generated[field.key]}")
