"""The permission registry: each app declares its codenames; roles are sets of them.

An app lists its permissions in ``<app>/permissions.py`` as ``PERMISSIONS = [Permission(...)]``;
:func:`autodiscover` (run from ``OmnichannelConfig.ready``) loads them all. Built-in roles take
each permission's ``roles`` default, so a permission added later reaches them without a migration.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import import_module
from types import ModuleType

from django.apps import apps
from django.db import models


class BuiltinRole(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    SUPERVISOR = "supervisor", "Supervisor"
    AGENT = "agent", "Agent"
    VIEWER = "viewer", "Viewer"


# Role ladders for declarations: who gets a permission by default.
OWNER_ONLY = frozenset({BuiltinRole.OWNER})
ADMINS = OWNER_ONLY | {BuiltinRole.ADMIN}
SUPERVISORS = ADMINS | {BuiltinRole.SUPERVISOR}
AGENTS = SUPERVISORS | {BuiltinRole.AGENT}
EVERYONE = AGENTS | {BuiltinRole.VIEWER}


@dataclass(frozen=True)
class Permission:
    codename: str
    label: str
    roles: frozenset[str] = field(default=OWNER_ONLY)

    def __post_init__(self) -> None:
        area, _, action = self.codename.partition(".")
        if not area or not action:
            raise ValueError(f"Permission codename {self.codename!r} must look like 'area.action'.")


_registry: dict[str, Permission] = {}


def register(permissions: list[Permission]) -> None:
    for permission in permissions:
        existing = _registry.get(permission.codename)
        if existing is not None and existing != permission:
            raise ValueError(f"Permission {permission.codename!r} is declared twice.")
        _registry[permission.codename] = permission


def app_modules(name: str) -> Iterator[ModuleType]:
    """Each installed app's module ``name`` (``api``, ``permissions``), apps in
    ``INSTALLED_APPS`` order, skipping apps without one: how the core finds what the apps
    declare without importing any of them by name."""
    for config in apps.get_app_configs():
        try:
            yield import_module(f"{config.name}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{config.name}.{name}":
                raise


def autodiscover() -> None:
    for module in app_modules("permissions"):
        register(getattr(module, "PERMISSIONS", []))


def all_permissions() -> list[Permission]:
    return sorted(_registry.values(), key=lambda p: p.codename)


def all_codenames() -> frozenset[str]:
    return frozenset(_registry)


def is_known(codename: str) -> bool:
    return codename in _registry


def builtin_role_codenames(role: str) -> frozenset[str]:
    return frozenset(p.codename for p in _registry.values() if role in p.roles)


# Words written in capitals wherever they appear in an area's name.
ACRONYMS = frozenset({"ai", "api", "sms", "sla"})


def area_label(area: str) -> str:
    """A codename's area as people read it: ``ai_agent`` -> "AI agent"."""
    text = " ".join(w.upper() if w in ACRONYMS else w for w in area.split("_"))
    return text[:1].upper() + text[1:]


def grouped() -> list[tuple[str, list[Permission]]]:
    """Permissions grouped by area (its label), for the role editor."""
    groups: dict[str, list[Permission]] = {}
    for permission in all_permissions():
        groups.setdefault(permission.codename.split(".")[0], []).append(permission)
    return [(area_label(area), perms) for area, perms in sorted(groups.items())]


# The platform's own permissions: tenant settings, members, roles, tokens, audit.
PERMISSIONS = [
    Permission("tenant.view_settings", "See tenant settings", SUPERVISORS),
    Permission("tenant.manage_settings", "Change tenant settings and security", ADMINS),
    Permission("tenant.delete", "Delete the tenant", OWNER_ONLY),
    Permission("members.view", "See members", SUPERVISORS),
    Permission("members.invite", "Invite members", ADMINS),
    Permission("members.manage", "Change members' roles and remove members", ADMINS),
    Permission("roles.manage", "Create and edit custom roles", ADMINS),
    Permission("api_tokens.manage", "Create and revoke API tokens", ADMINS),
    Permission("audit.view", "See the audit trail", ADMINS),
    Permission("credentials.manage", "Change provider credentials", ADMINS),
    Permission("reports.view", "See reports", SUPERVISORS),
]
