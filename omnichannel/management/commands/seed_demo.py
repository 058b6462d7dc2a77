import json
import os

from django.core.management.base import BaseCommand
from django.db import transaction

from omnichannel.actions import do_create_tenant, get_or_create_user
from omnichannel.models import Membership, Role, Tenant

DEMO_TENANT = "Demo Travel"
DEMO_TEAM = [
    ("supervisor@centro.local", "supervisor"),
    ("agent@centro.local", "agent"),
    ("viewer@centro.local", "viewer"),
]


class Command(BaseCommand):
    help = "Create the demo tenant and its users once; later runs change nothing."

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
        self.stdout.write(
            json.dumps(
                {
                    "tenant_id": tenant.pk,
                    "created": created,
                    "login": email,
                    "team": [m for m, _ in DEMO_TEAM],
                }
            )
        )
