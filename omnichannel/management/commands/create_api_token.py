"""manage.py create_api_token --tenant ID [--name N] [--role ROLE]: prints JSON with the token."""

import json

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q

from omnichannel.actions import ActionError, do_create_api_token
from omnichannel.models import Role, Tenant
from omnichannel.permissions import BuiltinRole


class Command(BaseCommand):
    help = (
        "Create an API token for a tenant and print it as JSON (shown this once only; only its "
        "hash is stored)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--tenant", type=int, required=True, help="The tenant's id.")
        parser.add_argument("--name", default="Created by command", help="What uses the token.")
        parser.add_argument(
            "--role",
            default=BuiltinRole.AGENT.value,
            help="A built-in role (owner, admin, supervisor, agent, viewer) or a custom role's "
            "name. Default: agent (never owner unless asked for).",
        )

    def handle(self, *args, **options) -> None:
        tenant = Tenant.objects.filter(pk=options["tenant"]).first()
        if tenant is None:
            raise CommandError(f"There is no tenant with id {options['tenant']}.")
        if not tenant.is_active:
            raise CommandError(f"Tenant {tenant.pk} ({tenant.name}) is inactive; its tokens fail.")
        wanted = options["role"].strip()
        role = (
            Role.objects.filter(tenant=tenant)
            .filter(Q(builtin=wanted.lower()) | Q(name__iexact=wanted))
            .order_by("-builtin")
            .first()
        )
        if role is None:
            names = ", ".join(tenant.roles.order_by("id").values_list("name", flat=True))
            raise CommandError(f"Tenant {tenant.pk} has no role “{wanted}”. Its roles: {names}.")
        try:
            token, raw = do_create_api_token(tenant, name=options["name"], role=role)
        except ActionError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(
            json.dumps(
                {
                    "token_id": token.pk,
                    "tenant_id": tenant.pk,
                    "name": token.name,
                    "role": role.name,
                    "api_token": raw,
                }
            )
        )
