"""An admin of one tenant can neither see nor touch another tenant's rows through the UI."""

import pytest

from omnichannel.actions import do_create_api_token, do_create_role, do_invite_member
from omnichannel.models import ApiToken, Invitation, Membership, Role


@pytest.fixture
def globex(other_tenant, make_member):
    """Rows of the other tenant that tenant A's admin must never reach."""
    owner = Membership.objects.select_related("role").get(
        tenant=other_tenant, role__builtin="owner"
    )
    agent = make_member(other_tenant, "agent", email="agent@globex.test")
    role = do_create_role(other_tenant, name="Globex secret role", codenames=["members.view"])
    token, _ = do_create_api_token(other_tenant, name="Globex CRM token", role=role)
    invitation, _ = do_invite_member(
        other_tenant, email="invitee@globex.test", role=role, acting=owner
    )
    return {
        "tenant": other_tenant,
        "member": Membership.objects.get(tenant=other_tenant, user=agent),
        "role": role,
        "token": token,
        "invitation": invitation,
    }


@pytest.fixture
def acme_admin(tenant, make_member, login):
    return login(make_member(tenant, "admin"))


def test_it_answers_404_to_changes_on_another_tenants_rows(acme_admin, globex, tenant):
    acme_viewer = Role.objects.get(tenant=tenant, builtin="viewer")
    member, role = globex["member"], globex["role"]
    token, invitation = globex["token"], globex["invitation"]
    attempts = [
        (f"/settings/members/{member.pk}/role/", {"role": acme_viewer.pk}),
        (f"/settings/members/{member.pk}/remove/", {}),
        (f"/settings/roles/{role.pk}/", {"name": "Pwned", "permissions": []}),
        (f"/settings/roles/{role.pk}/delete/", {}),
        (f"/settings/api-tokens/{token.pk}/revoke/", {}),
        (f"/settings/invitations/{invitation.pk}/revoke/", {}),
    ]
    for url, data in attempts:
        assert acme_admin.post(url, data).status_code == 404, url
    assert acme_admin.get(f"/settings/roles/{role.pk}/").status_code == 404

    member.refresh_from_db()
    assert member.role.builtin == "agent"
    role.refresh_from_db()
    assert role.name == "Globex secret role"
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None
    assert Invitation.objects.get(pk=invitation.pk).revoked_at is None


def test_it_refuses_another_tenants_role_in_a_form(acme_admin, globex, tenant, make_member):
    agent = Membership.objects.get(tenant=tenant, user=make_member(tenant, "agent"))
    foreign_role = globex["role"]
    response = acme_admin.post(f"/settings/members/{agent.pk}/role/", {"role": foreign_role.pk})
    assert response.status_code == 400
    response = acme_admin.post(
        "/settings/members/invite/", {"email": "new@example.test", "role": foreign_role.pk}
    )
    assert response.status_code == 400
    response = acme_admin.post(
        "/settings/api-tokens/new/", {"name": "Sneaky", "role": foreign_role.pk}
    )
    assert response.status_code == 400
    agent.refresh_from_db()
    assert agent.role.tenant_id == tenant.pk
    assert not Invitation.objects.filter(email="new@example.test").exists()
    assert not ApiToken.objects.filter(name="Sneaky").exists()


def test_it_never_shows_another_tenants_data_on_the_settings_pages(acme_admin, globex):
    pages = [
        "/settings/general/",
        "/settings/members/",
        "/settings/roles/",
        "/settings/api-tokens/",
        "/settings/audit/",
        "/settings/roles/new/",
    ]
    leaks = [
        "Globex",
        "globex.test",
        "Globex secret role",
        "Globex CRM token",
        globex["token"].hint,
    ]
    for url in pages:
        body = acme_admin.get(url).content.decode()
        for leak in leaks:
            assert leak not in body, (url, leak)


def test_it_shows_a_shared_members_logins_to_both_tenants_but_not_tenant_rows(
    tenant, other_tenant, make_member, login
):
    """Account events (logins) follow the person; tenant events stay in their tenant."""
    user = make_member(tenant, "admin", email="both@example.test")
    Membership.objects.create(
        tenant=other_tenant, user=user, role=Role.objects.get(tenant=other_tenant, builtin="admin")
    )
    do_create_role(other_tenant, name="Globex only role", codenames=[])
    client = login(user)
    body = client.get("/settings/audit/").content.decode()
    assert "both@example.test" in body
    assert "Globex only role" not in body
