"""manage.py create_tenant --name N --owner-email E [--owner-password P]: prints JSON."""

import json

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from omnichannel.actions import ActionError, do_create_api_token, do_create_tenant
from omnichannel.permissions import BuiltinRole


class Command(BaseCommand):
    help = (
        "Create a tenant with its owner and print {tenant_id, api_token} as JSON. The token has "
        "the Owner role (every permission) and is shown this once only."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--name", required=True, help="The tenant's display name.")
        parser.add_argument(
            "--owner-email", required=True, help="The owner's email (an existing user is reused)."
        )
        parser.add_argument(
            "--owner-password",
            help="Password for a new owner account; without it the owner sets one by reset.",
        )

    def handle(self, *args, **options) -> None:
        try:
            with transaction.atomic():
                tenant, membership = do_create_tenant(
                    name=options["name"],
                    owner_email=options["owner_email"],
                    owner_password=options["owner_password"],
                )
                _, raw = do_create_api_token(
                    tenant,
                    name="Created with the tenant",
                    role=tenant.roles.get(builtin=BuiltinRole.OWNER),
                )
        except ActionError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(
            json.dumps(
                {
                    "tenant_id": tenant.pk,
                    "tenant_slug": tenant.slug,
                    "owner_email": membership.user.email,
                    "api_token": raw,
                }
            )
        )
