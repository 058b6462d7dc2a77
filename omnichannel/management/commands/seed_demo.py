import json
import os

from django.core.management.base import BaseCommand
from django.db import transaction

from omnichannel import demo
from omnichannel.actions import do_create_tenant, get_or_create_user
from omnichannel.models import Membership, Role, Tenant

DEMO_TENANT = "Demo Travel"
DEMO_TEAM = [
    ("supervisor@centro.local", "supervisor"),
    ("agent@centro.local", "agent"),
    ("viewer@centro.local", "viewer"),
]


class Command(BaseCommand):
    help = (
        "Create the demo tenant, its team and simulator inboxes once; later runs only "
        "re-point the inboxes at DEMO_TWILIO_URL and DEMO_BLUEBUBBLES_URL."
    )

    @transaction.atomic
    def handle(self, *args, **options) -> None:
        email = os.environ.get("DEMO_EMAIL", "demo@centro.local")
        password = os.environ.get("DEMO_PASSWORD", "centro-demo")
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
        # The apps' parts (omnichannel.demo), by position: 10 inboxes and 20 notification
        # templates (every run), 30 team, 40 contacts, 50 conversations, 60 campaign.
        seed = demo.DemoSeed(tenant)
        for step in demo.steps(created=created):
            step(seed)
        self.stdout.write(
            json.dumps(
                {
                    "tenant_id": tenant.pk,
                    "created": created,
                    "login": email,
                    "team": [m for m, _ in DEMO_TEAM],
                    **seed.output,
                }
            )
        )
