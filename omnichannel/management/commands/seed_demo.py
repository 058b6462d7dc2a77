import json
import os
import secrets

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from omnichannel.actions import do_create_tenant, get_or_create_user
from omnichannel.models import Membership, Role, Tenant

DEMO_TENANT = "Demo Travel"
DEMO_TEAM = [
    ("supervisor@centro.local", "supervisor"),
    ("agent@centro.local", "agent"),
    ("viewer@centro.local", "viewer"),
]
# Twilio's documented test numbers; the inboxes talk to the local simulator, never to Twilio.
DEMO_INBOXES = [
    ("sms", "Demo SMS (simulator)", "+15005550006"),
    ("whatsapp", "Demo WhatsApp (simulator)", "+15005550007"),
]
DEMO_CUSTOMERS = [
    ("sms", "+525512345678", "", "Hola, ¿tienen disponibilidad para el viaje a Oaxaca en marzo?"),
    ("whatsapp", "+34612345678", "Lucía Gómez", "Hi! Can I change the date of my booking?"),
]


class Command(BaseCommand):
    help = (
        "Create the demo tenant, its team and simulator inboxes once; later runs only "
        "re-point the inboxes at DEMO_TWILIO_URL."
    )

    @transaction.atomic
    def handle(self, *args, **options) -> None:
        email = os.environ.get("DEMO_EMAIL", "demo@centro.local")
        password = os.environ.get("DEMO_PASSWORD", "centro-demo")
        simulator = os.environ.get("DEMO_TWILIO_URL", "http://127.0.0.1:8765")
        tenant = Tenant.objects.filter(slug="demo-travel").first()
        created = tenant is None
        if created:
            tenant, _ = do_create_tenant(
                name=DEMO_TENANT,
                owner_email=email,
                owner_password=password,
                timezone_name="America/Mexico_City",
                default_region="MX",
            )
            for member_email, builtin in DEMO_TEAM:
                user, _ = get_or_create_user(member_email, password=password)
                Membership.objects.get_or_create(
                    tenant=tenant,
                    user=user,
                    defaults={"role": Role.objects.get(tenant=tenant, builtin=builtin)},
                )
        inboxes = self._demo_inboxes(tenant, simulator)
        from notifications.defaults import install_default_templates

        install_default_templates(tenant)  # lifecycle notifications (idempotent)
        if created:
            self._demo_crm(tenant, inboxes)
            self._demo_conversations(inboxes)
            self._demo_campaign(tenant, inboxes)
        self.stdout.write(
            json.dumps(
                {
                    "tenant_id": tenant.pk,
                    "created": created,
                    "login": email,
                    "team": [m for m, _ in DEMO_TEAM],
                    "inboxes": {kind: inbox.pk for kind, inbox in inboxes.items()},
                    "simulator": simulator,
                }
            )
        )

    def _demo_inboxes(self, tenant: Tenant, simulator: str) -> dict:
        from inbox.actions.inboxes import do_create_inbox
        from inbox.models import Inbox

        inboxes = {}
        for kind, name, address in DEMO_INBOXES:
            inbox = Inbox.objects.for_tenant(tenant).filter(kind=kind, address=address).first()
            if inbox is None:
                inbox = do_create_inbox(
                    tenant,
                    name=name,
                    kind=kind,
                    provider="twilio",
                    address=address,
                    credentials={
                        "account_sid": "AC" + secrets.token_hex(16),
                        "auth_token": secrets.token_hex(16),
                    },
                    settings={"api_base_url": simulator, "simulator": True},
                )
            elif inbox.settings.get("api_base_url") != simulator:
                inbox.settings["api_base_url"] = simulator
                inbox.save(update_fields=["settings"])
            inboxes[kind] = inbox
        return inboxes

    def _demo_crm(self, tenant: Tenant, inboxes: dict) -> None:
        """Custom attributes, a front-desk team answering SMS round robin, and a household."""
        from contacts.households import do_add_household_member
        from contacts.models import AttributeDefinition
        from contacts.services import do_create_contact
        from inbox.actions.teams import (
            do_add_team_member,
            do_configure_inbox_assignment,
            do_create_team,
        )

        AttributeDefinition.objects.create(
            tenant=tenant,
            key="plan",
            label="Plan",
            type=AttributeDefinition.Type.CHOICE,
            choices=["basic", "gold", "platinum"],
        )
        AttributeDefinition.objects.create(
            tenant=tenant, key="trips", label="Trips booked", type=AttributeDefinition.Type.NUMBER
        )
        team = do_create_team(tenant, name="Front desk", description="Answers the SMS line.")
        for member in Membership.objects.filter(tenant=tenant).select_related("user", "role"):
            if member.has_permission("conversations.reply"):
                do_add_team_member(team, member.user)
        do_configure_inbox_assignment(inboxes["sms"], team=team, auto_assign=True)
        customer = do_create_contact(
            tenant,
            fields={"first_name": "Lucía", "last_name": "Gómez", "language": "es"},
            phones=["+34612345678"],
            emails=["lucia@example.com"],
            attributes={"plan": "gold", "trips": 3},
        )
        do_add_household_member(customer, name="Pablo Gómez", relationship="spouse")

    def _demo_campaign(self, tenant: Tenant, inboxes: dict) -> None:
        """A template, a list of every demo contact and a draft campaign ready to launch
        (through the simulator inbox, like every demo send)."""
        from campaigns.lifecycle import do_save_campaign
        from campaigns.services import do_save_template
        from contacts.lists import add_members, do_create_list
        from contacts.models import Contact

        template = do_save_template(
            tenant,
            name="Winter offers",
            channel="sms",
            body='Hola {{firstName|default:"viajero"}}: 20 % off winter trips this week. '
            "Reply STOP to opt out.",
        )
        newsletter = do_create_list(tenant, name="Newsletter", description="Demo audience")
        add_members(
            newsletter, list(Contact.objects.for_tenant(tenant).values_list("pk", flat=True))
        )
        do_save_campaign(
            tenant,
            {
                "name": "Winter offers (demo)",
                "inbox": inboxes["sms"].pk,
                "template": template.pk,
                "lists": [newsletter.pk],
                "pacing": "rate",
                "rate_per_second": 2,
                "quiet_hours": False,
            },
        )

    def _demo_conversations(self, inboxes: dict) -> None:
        from inbox.actions.receive import do_receive_message
        from inbox.providers import MessageReceived

        for kind, phone, profile_name, body in DEMO_CUSTOMERS:
            inbox = inboxes[kind]
            do_receive_message(
                inbox,
                MessageReceived(
                    external_id="SM" + secrets.token_hex(16),
                    sender=phone,
                    recipient=inbox.address,
                    body=body,
                    profile_name=profile_name,
                    received_at=timezone.now(),
                ),
            )
