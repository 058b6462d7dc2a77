"""manage.py rotate_encryption_keys: re-encrypt every credential with the first key.

Put the new key first in CENTRO_ENCRYPTION_KEYS (keep the old ones after it), run this, then
remove the old keys. Everything runs in one transaction: a value no key can decrypt stops the
command and changes nothing.
"""

import json

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from omnichannel import crypto


class Command(BaseCommand):
    help = "Re-encrypt every encrypted field with the first CENTRO_ENCRYPTION_KEYS key."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--batch-size", type=int, default=500, help="Rows per batch.")

    def handle(self, *args, **options) -> None:
        batch_size = options["batch_size"]
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        try:
            crypto.fernet()
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
        report = []
        with transaction.atomic():
            for model, field in crypto.encrypted_fields():
                rows = self._rotate(model, field, batch_size)
                report.append({"model": model._meta.label, "field": field.name, "rows": rows})
        self.stdout.write(
            json.dumps({"fields": report, "rows": sum(entry["rows"] for entry in report)})
        )

    def _rotate(self, model, field, batch_size: int) -> int:
        manager = model._base_manager
        rows = 0
        last_pk = None
        while True:
            queryset = manager.filter(**{f"{field.name}__isnull": False}).order_by("pk")
            if last_pk is not None:
                queryset = queryset.filter(pk__gt=last_pk)
            try:
                # Locked so a concurrent write is not overwritten with the value read here.
                batch = list(queryset.select_for_update().only("pk", field.name)[:batch_size])
            except ImproperlyConfigured as exc:
                raise CommandError(
                    f"{model._meta.label}.{field.name}: {exc} Nothing was changed."
                ) from exc
            if not batch:
                return rows
            last_pk = batch[-1].pk
            # Saving the decrypted value encrypts it again with the first key.
            changed = [obj for obj in batch if getattr(obj, field.attname)]
            manager.bulk_update(changed, [field.name])
            rows += len(changed)
