"""Named registries through which the product apps take part in what the core does.

The core imports no product app; each app registers, in its ``AppConfig.ready()``, what it does
when the core does something:

- ``on_tenant_created``: ``hook(tenant)`` runs inside ``do_create_tenant``'s transaction, after
  the owner's membership exists (notifications installs its default templates).
"""

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from omnichannel.models import Tenant

TenantCreatedHook = Callable[["Tenant"], object]

on_tenant_created: list[TenantCreatedHook] = []


def register_tenant_created(hook: TenantCreatedHook) -> TenantCreatedHook:
    """Call ``hook`` for every new tenant (once, however often this runs)."""
    if hook not in on_tenant_created:
        on_tenant_created.append(hook)
    return hook
