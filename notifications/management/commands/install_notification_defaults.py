import json

from django.core.management.base import BaseCommand, CommandError

from notifications.defaults import install_default_templates
from omnichannel.models import Tenant


class Command(BaseCommand):
    help = (
        "Give tenants the default lifecycle notification templates (Spanish and English), event "
        "types and rules they lack; never changes existing ones."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--tenant", type=int, help="Only this tenant id (default: all).")

    def handle(self, *args, **options) -> None:
        tenants = Tenant.objects.order_by("pk")
        if options["tenant"]:
            tenants = tenants.filter(pk=options["tenant"])
            if not tenants.exists():
                raise CommandError(f"No tenant {options['tenant']}.")
        for tenant in tenants:
            counts = install_default_templates(tenant)
            self.stdout.write(json.dumps({"tenant_id": tenant.pk, **counts}))
