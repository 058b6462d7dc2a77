"""The core's hooks: what the apps registered runs when the core creates a tenant."""

import pytest

from notifications.models import NotificationTemplate
from omnichannel import hooks
from omnichannel.actions import do_create_tenant

pytestmark = pytest.mark.django_db


def test_a_new_tenant_runs_every_registered_hook_in_its_transaction(monkeypatch):
    seen = []

    def record(tenant) -> None:
        seen.append((tenant.name, NotificationTemplate.objects.filter(tenant=tenant).count()))

    monkeypatch.setattr(hooks, "on_tenant_created", list(hooks.on_tenant_created))
    hooks.register_tenant_created(record)
    hooks.register_tenant_created(record)
    tenant, _ = do_create_tenant(name="Viajes Luna", owner_email="luna@example.test")
    # Notifications registered first (its AppConfig.ready): the templates are already there.
    assert seen == [("Viajes Luna", 24)]
    assert NotificationTemplate.objects.filter(tenant=tenant).count() == 24
