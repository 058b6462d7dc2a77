"""Member roles: changes are audited from/to; a tenant always keeps an owner."""

from omnichannel.actions import do_create_role
from omnichannel.models import AuditEvent, Membership, Role


def membership_of(tenant, user) -> Membership:
    return Membership.objects.select_related("role").get(tenant=tenant, user=user)


def role(tenant, builtin) -> Role:
    return Role.objects.get(tenant=tenant, builtin=builtin)


def test_it_changes_a_members_role_and_audits_from_and_to(tenant, owner, make_member, login):
    agent = membership_of(tenant, make_member(tenant, "agent"))
    response = login(owner).post(
        f"/settings/members/{agent.pk}/role/", {"role": role(tenant, "supervisor").pk}
    )
    assert response.status_code == 302
    assert membership_of(tenant, agent.user).role.builtin == "supervisor"
    event = AuditEvent.objects.get(action=AuditEvent.Action.MEMBER_ROLE_CHANGED)
    assert event.data == {"from": "Agent", "to": "Supervisor"}
    assert (event.tenant, event.actor, event.target_id) == (tenant, owner, str(agent.user.pk))
    assert event.ip_address == "127.0.0.1"


def test_it_refuses_to_demote_the_last_owner_with_409(tenant, owner, login):
    me = membership_of(tenant, owner)
    response = login(owner).post(
        f"/settings/members/{me.pk}/role/", {"role": role(tenant, "admin").pk}
    )
    assert response.status_code == 409
    assert "A tenant must keep at least one owner." in response.content.decode()
    assert membership_of(tenant, owner).role.builtin == "owner"
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.MEMBER_ROLE_CHANGED).exists()


def test_it_refuses_to_remove_the_last_owner_with_409(tenant, owner, login):
    me = membership_of(tenant, owner)
    response = login(owner).post(f"/settings/members/{me.pk}/remove/")
    assert response.status_code == 409
    assert "A tenant must keep at least one owner." in response.content.decode()
    assert Membership.objects.filter(pk=me.pk).exists()


def test_it_lets_an_owner_step_down_when_another_owner_remains(tenant, owner, make_member, login):
    make_member(tenant, "owner", email="second-owner@example.test")
    me = membership_of(tenant, owner)
    response = login(owner).post(
        f"/settings/members/{me.pk}/role/", {"role": role(tenant, "admin").pk}
    )
    assert response.status_code == 302
    assert membership_of(tenant, owner).role.builtin == "admin"


def test_it_forbids_an_admin_to_demote_or_remove_an_owner(tenant, owner, make_member, login):
    client = login(make_member(tenant, "admin"))
    make_member(tenant, "owner", email="second-owner@example.test")
    me = membership_of(tenant, owner)
    response = client.post(f"/settings/members/{me.pk}/role/", {"role": role(tenant, "agent").pk})
    assert response.status_code == 403
    assert "Only an owner can change another owner" in response.content.decode()
    response = client.post(f"/settings/members/{me.pk}/remove/")
    assert response.status_code == 403
    assert "Only an owner can remove an owner." in response.content.decode()
    assert membership_of(tenant, owner).role.builtin == "owner"


def test_it_forbids_an_admin_to_make_someone_owner(tenant, make_member, login):
    client = login(make_member(tenant, "admin"))
    agent = membership_of(tenant, make_member(tenant, "agent"))
    response = client.post(
        f"/settings/members/{agent.pk}/role/", {"role": role(tenant, "owner").pk}
    )
    assert response.status_code == 403
    assert membership_of(tenant, agent.user).role.builtin == "agent"


def test_it_removes_a_member_and_audits_it(tenant, owner, make_member, login):
    agent_user = make_member(tenant, "agent")
    agent = membership_of(tenant, agent_user)
    response = login(owner).post(f"/settings/members/{agent.pk}/remove/")
    assert response.status_code == 302
    assert not Membership.objects.filter(pk=agent.pk).exists()
    event = AuditEvent.objects.get(action=AuditEvent.Action.MEMBER_REMOVED)
    assert event.data == {"role": "Agent"}
    assert event.target_id == str(agent_user.pk)


def test_it_refuses_a_custom_role_granting_more_than_the_granter_holds(tenant, make_member, login):
    lead_role = do_create_role(tenant, name="Team lead", codenames=["roles.manage", "members.view"])
    client = login(make_member(tenant, lead_role))
    response = client.post(
        "/settings/roles/new/", {"name": "Bigger", "permissions": ["members.view", "audit.view"]}
    )
    assert response.status_code == 403
    assert "You cannot grant permissions you do not have: audit.view." in (
        response.content.decode()
    )
    assert not Role.objects.filter(tenant=tenant, name="Bigger").exists()
    # Nor by widening an existing role.
    response = client.post(
        f"/settings/roles/{lead_role.pk}/",
        {"name": "Team lead", "permissions": ["roles.manage", "members.view", "tenant.delete"]},
    )
    assert response.status_code == 403
    lead_role.refresh_from_db()
    assert "tenant.delete" not in lead_role.permissions


def test_it_refuses_an_admin_creating_a_role_with_owner_only_permissions(
    tenant, make_member, login
):
    client = login(make_member(tenant, "admin"))
    response = client.post(
        "/settings/roles/new/", {"name": "Deleters", "permissions": ["tenant.delete"]}
    )
    assert response.status_code == 403
    assert not Role.objects.filter(tenant=tenant, name="Deleters").exists()


def test_it_refuses_unknown_permission_codenames(tenant, owner, login):
    response = login(owner).post(
        "/settings/roles/new/", {"name": "Odd", "permissions": ["made.up"]}
    )
    assert response.status_code == 400
    assert not Role.objects.filter(tenant=tenant, name="Odd").exists()
