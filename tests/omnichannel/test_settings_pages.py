"""The settings area renders for admins, lists what it should, and keeps queries bounded."""

import pytest

from omnichannel.actions import (
    authenticate_api_token,
    do_create_api_token,
    do_create_role,
    do_invite_member,
)
from omnichannel.models import ApiToken, AuditEvent, Membership, Role


def owner_membership(tenant):
    return Membership.objects.select_related("role", "user").get(
        tenant=tenant, role__builtin="owner"
    )


@pytest.mark.parametrize(
    ("url", "text"),
    [
        ("/settings/general/", "Require two-factor authentication"),
        ("/settings/members/", "owner@acme.test"),
        ("/settings/roles/", "Supervisor"),
        ("/settings/api-tokens/", "Create a token"),
        ("/settings/audit/", "Tenant created"),
    ],
)
def test_it_renders_each_settings_page_for_an_admin(tenant, make_member, login, url, text):
    client = login(make_member(tenant, "admin"))
    response = client.get(url)
    assert response.status_code == 200
    body = response.content.decode()
    assert text in body
    assert 'class="settings-nav"' in body


def test_it_sends_settings_index_to_general(tenant, owner, login):
    response = login(owner).get("/settings/")
    assert response.status_code == 302
    assert response["Location"] == "/settings/general/"


def test_it_redirects_anonymous_users_to_login(tenant, client):
    response = client.get("/settings/members/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/settings/members/")


def test_it_saves_general_settings_and_audits_the_changed_fields(tenant, owner, login):
    client = login(owner)
    response = client.post(
        "/settings/general/",
        {"name": "Acme Travel EU", "timezone": "Europe/Madrid", "default_region": "es"},
    )
    assert response.status_code == 302
    tenant.refresh_from_db()
    assert (tenant.name, tenant.timezone, tenant.default_region) == (
        "Acme Travel EU",
        "Europe/Madrid",
        "ES",
    )
    event = AuditEvent.objects.get(action=AuditEvent.Action.TENANT_SETTINGS_CHANGED)
    assert event.actor == owner
    assert event.data["changed"] == {
        "name": ["Acme Travel", "Acme Travel EU"],
        "timezone": ["UTC", "Europe/Madrid"],
        "default_region": ["US", "ES"],
    }


def test_it_refuses_an_unknown_time_zone_and_a_bad_region(tenant, owner, login):
    response = login(owner).post(
        "/settings/general/",
        {"name": "Acme", "timezone": "Mars/Olympus", "default_region": "1X"},
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "is not a known time zone" in body
    assert "two-letter country code" in body
    tenant.refresh_from_db()
    assert tenant.timezone == "UTC"
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.TENANT_SETTINGS_CHANGED).exists()


def test_it_changes_the_mfa_requirement_through_the_general_page(tenant, owner, login):
    client = login(owner)
    response = client.post(
        "/settings/general/",
        {"name": tenant.name, "timezone": "UTC", "default_region": "US", "require_mfa": "on"},
    )
    assert response.status_code == 302
    tenant.refresh_from_db()
    assert tenant.require_mfa is True
    event = AuditEvent.objects.get(action=AuditEvent.Action.MFA_REQUIREMENT_CHANGED)
    assert event.data == {"required": True}
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.TENANT_SETTINGS_CHANGED).exists()


def test_it_shows_general_settings_read_only_to_a_supervisor(tenant, make_member, login):
    client = login(make_member(tenant, "supervisor"))
    response = client.get("/settings/general/")
    assert response.status_code == 200
    assert "an admin can change them" in response.content.decode()
    response = client.post(
        "/settings/general/", {"name": "Hijacked", "timezone": "UTC", "default_region": "US"}
    )
    assert response.status_code == 403
    tenant.refresh_from_db()
    assert tenant.name == "Acme Travel"


def test_it_answers_405_to_a_get_on_a_write_url(tenant, owner, login):
    token, _ = do_create_api_token(
        tenant, name="CRM", role=Role.objects.get(tenant=tenant, builtin="agent")
    )
    response = login(owner).get(f"/settings/api-tokens/{token.pk}/revoke/")
    assert response.status_code == 405
    token.refresh_from_db()
    assert token.revoked_at is None


def test_it_lists_members_with_role_mfa_and_pending_invitations(tenant, owner, make_member, login):
    agent = make_member(tenant, "agent")
    do_invite_member(
        tenant,
        email="newbie@example.test",
        role=Role.objects.get(tenant=tenant, builtin="viewer"),
        acting=owner_membership(tenant),
    )
    body = login(owner).get("/settings/members/").content.decode()
    assert agent.email in body
    assert "newbie@example.test" in body
    assert "Pending invitations" in body
    assert '<span class="badge">Off</span>' in body


def test_it_lists_members_in_a_bounded_number_of_queries(
    tenant, owner, make_member, login, django_assert_max_num_queries
):
    client = login(owner)
    acting = owner_membership(tenant)
    for n in range(3):
        make_member(tenant, "agent", email=f"agent{n}@example.test")
        do_invite_member(
            tenant,
            email=f"invitee{n}@example.test",
            role=Role.objects.get(tenant=tenant, builtin="viewer"),
            acting=acting,
        )
    with django_assert_max_num_queries(13) as few:
        client.get("/settings/members/")
    for n in range(3, 15):
        make_member(tenant, "agent", email=f"agent{n}@example.test")
        do_invite_member(
            tenant,
            email=f"invitee{n}@example.test",
            role=Role.objects.get(tenant=tenant, builtin="viewer"),
            acting=acting,
        )
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get("/settings/members/")
    assert "agent14@example.test" in response.content.decode()


def test_it_lists_tokens_and_audit_events_in_a_bounded_number_of_queries(
    tenant, owner, login, django_assert_max_num_queries
):
    client = login(owner)
    role = Role.objects.get(tenant=tenant, builtin="agent")
    for n in range(20):
        do_create_api_token(tenant, name=f"Token {n}", role=role, acting=owner_membership(tenant))
    with django_assert_max_num_queries(11):
        response = client.get("/settings/api-tokens/")
    assert "Token 19" in response.content.decode()
    with django_assert_max_num_queries(11):
        response = client.get("/settings/audit/")
    assert "API token created" in response.content.decode()
    with django_assert_max_num_queries(11):
        response = client.get("/settings/roles/")
    assert response.status_code == 200


def test_it_creates_an_api_token_and_shows_it_once(tenant, owner, login):
    client = login(owner)
    agent_role = Role.objects.get(tenant=tenant, builtin="agent")
    response = client.post("/settings/api-tokens/new/", {"name": "CRM sync", "role": agent_role.pk})
    assert response.status_code == 201
    assert "no-store" in response["Cache-Control"]
    raw = response.context["raw_token"]
    body = response.content.decode()
    assert raw in body
    assert 'data-copy="new-api-token"' in body
    token = ApiToken.objects.get(tenant=tenant, name="CRM sync")
    assert token.role == agent_role
    listing = client.get("/settings/api-tokens/").content.decode()
    assert token.hint in listing
    assert raw not in listing
    assert authenticate_api_token(raw) == token


def test_it_revokes_an_api_token(tenant, owner, login):
    token, _ = do_create_api_token(
        tenant, name="CRM", role=Role.objects.get(tenant=tenant, builtin="agent")
    )
    response = login(owner).post(f"/settings/api-tokens/{token.pk}/revoke/")
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.API_TOKEN_REVOKED, target_id=str(token.pk)
    ).exists()


def test_it_refuses_an_api_token_without_a_name(tenant, owner, login):
    role = Role.objects.get(tenant=tenant, builtin="agent")
    response = login(owner).post("/settings/api-tokens/new/", {"name": "  ", "role": role.pk})
    assert response.status_code == 400
    assert not ApiToken.objects.filter(tenant=tenant).exists()


def test_it_creates_edits_and_deletes_a_custom_role(tenant, owner, login):
    client = login(owner)
    page = client.get("/settings/roles/new/").content.decode()
    assert 'value="members.invite"' in page
    assert "<legend>Members</legend>" in page
    response = client.post(
        "/settings/roles/new/",
        {"name": "Team lead", "description": "Runs a team", "permissions": ["members.view"]},
    )
    assert response.status_code == 302
    role = Role.objects.get(tenant=tenant, name="Team lead")
    assert role.permissions == ["members.view"]
    response = client.post(
        f"/settings/roles/{role.pk}/",
        {"name": "Team lead", "permissions": ["members.view", "members.invite"]},
    )
    assert response.status_code == 302
    role.refresh_from_db()
    assert role.permissions == ["members.invite", "members.view"]
    changed = AuditEvent.objects.get(action=AuditEvent.Action.ROLE_CHANGED)
    assert changed.data == {"added": ["members.invite"], "removed": []}
    listing = client.get("/settings/roles/").content.decode()
    assert "Team lead" in listing
    response = client.post(f"/settings/roles/{role.pk}/delete/")
    assert response.status_code == 302
    assert not Role.objects.filter(pk=role.pk).exists()


def test_it_refuses_to_delete_a_role_in_use_with_409_or_400(tenant, owner, make_member, login):
    role = do_create_role(tenant, name="Helpers", codenames=["members.view"])
    make_member(tenant, role)
    response = login(owner).post(f"/settings/roles/{role.pk}/delete/")
    assert response.status_code == 400
    assert "Move the members and tokens" in response.content.decode()
    assert Role.objects.filter(pk=role.pk).exists()


def test_it_refuses_to_edit_a_builtin_role(tenant, owner, login):
    viewer = Role.objects.get(tenant=tenant, builtin="viewer")
    client = login(owner)
    assert "cannot be changed" in client.get(f"/settings/roles/{viewer.pk}/").content.decode()
    response = client.post(
        f"/settings/roles/{viewer.pk}/", {"name": "Viewer", "permissions": ["members.invite"]}
    )
    assert response.status_code == 400
    assert "Built-in roles cannot be edited" in response.content.decode()


def test_it_refuses_a_duplicate_role_name_with_409(tenant, owner, login):
    do_create_role(tenant, name="Helpers", codenames=[])
    response = login(owner).post("/settings/roles/new/", {"name": "helpers", "permissions": []})
    assert response.status_code == 409
    assert "already exists" in response.content.decode()


def test_it_filters_and_paginates_the_audit_trail_newest_first(tenant, owner, login):
    acting = owner_membership(tenant)
    role = Role.objects.get(tenant=tenant, builtin="agent")
    for n in range(55):
        do_create_api_token(tenant, name=f"T{n}", role=role, acting=acting)
    client = login(owner)
    first = client.get("/settings/audit/", {"action": "api_token.created"})
    assert first.status_code == 200
    page = first.context["page"]
    assert page.paginator.count == 55
    assert len(page.object_list) == 50
    assert page.object_list[0].target_repr.startswith("T54 ")
    assert {event.action for event in page.object_list} == {"api_token.created"}
    second = client.get("/settings/audit/", {"action": "api_token.created", "page": 2})
    assert [e.target_repr.split()[0] for e in second.context["page"].object_list] == [
        "T4",
        "T3",
        "T2",
        "T1",
        "T0",
    ]
    everything = client.get("/settings/audit/").content.decode()
    assert "<td>Login succeeded</td>" in everything
    assert "127.0.0.1" in everything
    assert owner.email in everything


@pytest.mark.parametrize(
    ("url", "form"),
    [("/settings/members/", "invite_form"), ("/settings/api-tokens/", "form")],
)
def test_invitations_and_api_tokens_default_to_the_agent_role(tenant, owner, login, url, form):
    """Safe defaults: a form submitted without a second look grants Agent, never Owner."""
    response = login(owner).get(url)
    agent = Role.objects.get(tenant=tenant, builtin="agent")
    assert response.context[form]["role"].value() == agent.pk
    assert f'<option value="{agent.pk}" selected>Agent</option>' in response.content.decode()


def test_the_role_editor_names_permission_groups_in_words(tenant, owner, login):
    page = login(owner).get("/settings/roles/new/").content.decode()
    for legend in ("AI agent", "API tokens", "Canned responses", "Members"):
        assert f"<legend>{legend}</legend>" in page
    assert "Ai_agent" not in page and "Canned_responses" not in page
