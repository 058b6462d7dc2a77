"""Which built-in role reaches which settings page, and every settings view declares one."""

import pytest
from django.urls import URLResolver, get_resolver

from omnichannel import permissions

PAGES = ["/settings/general/", "/settings/members/", "/settings/roles/", "/settings/api-tokens/"]
PAGES += ["/settings/audit/", "/settings/roles/new/"]

# role -> the pages (by index in PAGES) it may open; every other page answers 403.
ALLOWED = {
    "owner": {0, 1, 2, 3, 4, 5},
    "admin": {0, 1, 2, 3, 4, 5},
    "supervisor": {0, 1},
    "agent": set(),
    "viewer": set(),
}


@pytest.mark.parametrize("role", list(ALLOWED))
def test_it_answers_each_settings_page_by_role(tenant, make_member, login, role):
    client = login(make_member(tenant, role))
    statuses = {url: client.get(url).status_code for url in PAGES}
    expected = {url: 200 if i in ALLOWED[role] else 403 for i, url in enumerate(PAGES)}
    assert statuses == expected


@pytest.mark.parametrize("role", ["supervisor", "agent", "viewer"])
def test_it_forbids_writes_to_roles_without_the_permission(tenant, make_member, login, role):
    from omnichannel.models import Role

    client = login(make_member(tenant, role))
    viewer = Role.objects.get(tenant=tenant, builtin="viewer")
    writes = [
        ("/settings/members/invite/", {"email": "x@example.test", "role": viewer.pk}),
        ("/settings/roles/new/", {"name": "Mine", "permissions": ["members.view"]}),
        ("/settings/api-tokens/new/", {"name": "Mine", "role": viewer.pk}),
    ]
    for url, data in writes:
        assert client.post(url, data).status_code == 403, url
    assert not Role.objects.filter(tenant=tenant, name="Mine").exists()


def _views(patterns):
    """The URL patterns, those of the apps' included settings URLconfs too."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _views(pattern.url_patterns)
        else:
            yield pattern


def test_it_names_a_declared_permission_on_every_settings_view():
    resolver = get_resolver()
    settings_patterns = resolver.url_patterns
    namespace = next(p for p in settings_patterns if getattr(p, "namespace", None) == "settings")
    views = list(_views(namespace.url_patterns))
    assert {"teams", "canned-edit", "channels", "notification-rules"} <= {p.name for p in views}
    for pattern in views:
        codename = getattr(pattern.callback, "required_permission", None)
        assert codename is not None, f"{pattern.name} has no require_permission"
        assert permissions.is_known(codename), codename


def test_it_lets_a_custom_role_in_by_its_codenames(tenant, make_member, login):
    from omnichannel.actions import do_create_role

    role = do_create_role(tenant, name="Auditor", codenames=["audit.view"])
    client = login(make_member(tenant, role))
    assert client.get("/settings/audit/").status_code == 200
    assert client.get("/settings/members/").status_code == 403
