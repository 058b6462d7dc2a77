import re

import pytest

from omnichannel.actions import do_create_tenant
from omnichannel.models import Membership, Role, UserPreference
from omnichannel.tenancy import SESSION_KEY

pytestmark = pytest.mark.django_db


def test_it_sends_anonymous_visitors_to_the_login_page(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_it_opens_the_inbox_for_a_member(tenant, owner, login):
    response = login(owner).get("/", follow=True)
    assert response.redirect_chain[-1][0] == "/inbox/"
    assert b"<h1>Inbox</h1>" in response.content


def test_it_tells_a_user_without_tenant_what_to_do(db, login):
    from omnichannel.actions import get_or_create_user
    from tests.conftest import PASSWORD

    user, _ = get_or_create_user("lonely@example.test", password=PASSWORD)
    response = login(user).get("/", follow=True)
    assert response.status_code == 403
    assert b"not a member of any tenant" in response.content


@pytest.mark.parametrize(
    ("role", "visible", "hidden"),
    [
        ("owner", ["Inbox", "Campaigns", "Reports", "Settings"], []),
        ("supervisor", ["Inbox", "Reports", "Settings"], []),
        ("agent", ["Inbox", "Contacts", "Calls"], ["Reports", "Settings"]),
        ("viewer", ["Inbox", "Calendar"], ["Reports", "Settings"]),
    ],
)
def test_it_shows_only_the_navigation_the_role_allows(
    tenant, make_member, login, role, visible, hidden
):
    user = make_member(tenant, role)
    html = login(user).get("/inbox/").content.decode()
    nav = re.search(r'<nav class="mainnav".*?</nav>', html, re.S).group(0)
    labels = re.findall(r'<a href="[^"]*"[^>]*>([^<]+?)\s*(?:<span id="nav-unread"|</a>)', nav)
    for label in visible:
        assert label in labels
    for label in hidden:
        assert label not in labels


def test_it_refuses_a_section_the_role_lacks_with_403(tenant, make_member, login):
    viewer = make_member(tenant, "viewer")
    assert login(viewer).get("/reports/").status_code == 403


def test_it_answers_404_for_an_unknown_section(tenant, owner, login):
    assert login(owner).get("/nowhere/").status_code == 404


def test_it_remembers_the_theme_the_user_chose(tenant, owner, login):
    client = login(owner)
    assert 'data-theme="dark"' in client.get("/inbox/").content.decode()
    response = client.post("/preferences/theme/", {"theme": "light", "next": "/inbox/"})
    assert response.status_code == 302
    assert response["Location"] == "/inbox/"
    assert UserPreference.objects.get(user=owner).theme == "light"
    assert 'data-theme="light"' in client.get("/inbox/").content.decode()


def test_it_refuses_an_unknown_theme_and_an_offsite_redirect(tenant, owner, login):
    client = login(owner)
    assert client.post("/preferences/theme/", {"theme": "neon"}).status_code == 400
    response = client.post("/preferences/theme/", {"theme": "dark", "next": "https://evil.test/"})
    assert response["Location"] == "/"


def test_it_switches_between_the_users_tenants(tenant, owner, login):
    second, _ = do_create_tenant(name="Second Co", owner_email=owner.email)
    client = login(owner)
    response = client.post("/tenants/switch/", {"tenant": second.pk}, follow=True)
    assert client.session[SESSION_KEY] == second.pk
    assert b"Switched to Second Co" in response.content
    assert UserPreference.objects.get(user=owner).last_tenant == second


def test_it_refuses_to_switch_into_a_tenant_the_user_is_not_in(tenant, other_tenant, owner, login):
    client = login(owner)
    client.get("/inbox/")
    response = client.post("/tenants/switch/", {"tenant": other_tenant.pk}, follow=True)
    assert b"not a member of that tenant" in response.content
    assert client.session[SESSION_KEY] == tenant.pk
    response = client.post("/tenants/switch/", {"tenant": "garbage"}, follow=True)
    assert response.status_code == 200
    assert client.session[SESSION_KEY] == tenant.pk


def test_it_drops_a_tenant_from_the_session_once_the_membership_is_gone(tenant, owner, login):
    second, _ = do_create_tenant(name="Second Co", owner_email=owner.email)
    client = login(owner)
    client.post("/tenants/switch/", {"tenant": second.pk})
    Membership.objects.filter(tenant=second, user=owner).delete()
    client.get("/inbox/")
    assert client.session[SESSION_KEY] == tenant.pk


def test_it_serves_every_static_asset_the_shell_references(tenant, owner, login):
    html = login(owner).get("/inbox/").content.decode()
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert len(assets) >= 3
    for asset in assets:
        response = login(owner).get(asset)
        assert response.status_code == 200, asset


def test_it_sends_a_nonce_based_content_security_policy(tenant, owner, login):
    response = login(owner).get("/inbox/")
    policy = response["Content-Security-Policy"]
    nonce = re.search(r"'nonce-([^']+)'", policy).group(1)
    assert "script-src 'self' 'nonce-" in policy
    assert "frame-ancestors 'none'" in policy
    scripts = re.findall(r"<script[^>]*>", response.content.decode())
    assert scripts and all(f'nonce="{nonce}"' in tag for tag in scripts)


def test_it_keeps_builtin_roles_in_step_with_the_registry(tenant):
    from omnichannel.permissions import all_codenames

    owner_role = Role.objects.get(tenant=tenant, builtin="owner")
    viewer_role = Role.objects.get(tenant=tenant, builtin="viewer")
    assert owner_role.codenames() == all_codenames()
    assert "conversations.view" in viewer_role.codenames()
    assert "conversations.reply" not in viewer_role.codenames()
    assert len(all_codenames()) >= 45
