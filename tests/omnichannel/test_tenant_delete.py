"""Deleting a tenant (``tenant.delete``, owners only) from Settings → General's danger zone."""

import pytest
from django.core.files.storage import default_storage

from campaigns.models import Campaign
from campaigns.services import do_save_template
from inbox.actions.macros import do_add_macro_step, do_create_macro
from omnichannel.actions import (
    ActionError,
    _tenant_tables,
    do_create_role,
    do_delete_tenant,
)
from omnichannel.models import AuditEvent, Membership, Role, Tenant, UserPreference
from omnichannel.tenancy import MissingPermission
from tests.test_audit_coverage import World

pytestmark = pytest.mark.django_db
DELETED = AuditEvent.Action.TENANT_DELETED


@pytest.fixture
def busy_tenant(tenant, owner, make_member):
    """A tenant with rows in every app, including the PROTECT chains (a launched campaign on an
    inbox and a template with media, conversations of a contact, members of roles)."""
    world = World(tenant, owner, make_member)
    conversation = world.conversation()
    campaign = world.campaign(launched=True)
    world.media(do_save_template(tenant, name="Promo", channel="sms", body="Look!"))
    assert Campaign.objects.filter(pk=campaign.pk, status=Campaign.Status.RUNNING).exists()
    world.segment()
    team, canned = world.team(), world.canned()
    macro = do_create_macro(tenant, name="Triage", acting_user=owner)
    do_add_macro_step(macro, kind="add_label", target_id=world.label().pk)
    do_add_macro_step(macro, kind="assign_team", target_id=team.pk)
    do_add_macro_step(macro, kind="send_canned", target_id=canned.pk)
    world.token()
    world.invitation()
    world.notification()
    world.household_member()
    world.import_job(started=True)
    do_create_role(tenant, name="Helpers", codenames=["conversations.view"])
    make_member(tenant, Role.objects.get(tenant=tenant, name="Helpers"))
    UserPreference.objects.create(user=owner, last_tenant=tenant)
    assert conversation.messages.exists()
    return tenant


def _rows_of(tenant_id: int) -> dict[str, int]:
    owned, _ = _tenant_tables()
    counts = {}
    for model, field in owned:
        count = model.objects.filter(**{field.attname: tenant_id}).count()
        if count:
            counts[model._meta.label] = count
    return counts


def test_the_action_deletes_every_row_and_file_of_the_tenant_only(
    busy_tenant, other_tenant, owner, django_capture_on_commit_callbacks
):
    tenant_id, name = busy_tenant.pk, busy_tenant.name
    other_rows = _rows_of(other_tenant.pk)
    assert len(_rows_of(tenant_id)) > 20
    assert default_storage.listdir(f"tenants/{tenant_id}")[0]
    acting = Membership.objects.get(tenant=busy_tenant, user=owner)
    with django_capture_on_commit_callbacks(execute=True):
        counts = do_delete_tenant(busy_tenant, confirm_name=name, acting=acting)
    assert counts["inbox.Message"] == 1 and counts["campaigns.Campaign"] == 1
    assert _rows_of(tenant_id) == {}
    assert not Tenant.objects.filter(pk=tenant_id).exists()
    assert _rows_of(other_tenant.pk) == other_rows
    folders, files = default_storage.listdir(f"tenants/{tenant_id}")
    assert not files and all(
        not default_storage.listdir(f"tenants/{tenant_id}/{f}")[1] for f in folders
    )
    owner.refresh_from_db()  # people keep their accounts
    assert UserPreference.objects.get(user=owner).last_tenant is None
    row = AuditEvent.objects.get(action=DELETED)
    assert row.tenant is None and row.actor == owner
    assert row.data["tenant_id"] == tenant_id and row.data["name"] == name
    assert row.target_type == "omnichannel.Tenant" and row.target_id == str(tenant_id)


def test_it_needs_the_exact_name(tenant, owner):
    acting = Membership.objects.get(tenant=tenant, user=owner)
    with pytest.raises(ActionError, match="Type the tenant's name"):
        do_delete_tenant(tenant, confirm_name="acme travel", acting=acting)
    assert Tenant.objects.filter(pk=tenant.pk).exists()


def test_only_an_owner_can_even_with_the_permission(tenant, make_member):
    delegated = do_create_role(tenant, name="Closer", codenames=["tenant.delete"])
    user = make_member(tenant, delegated)
    acting = Membership.objects.get(tenant=tenant, user=user)
    with pytest.raises(MissingPermission, match=r"Only an owner can delete the tenant\."):
        do_delete_tenant(tenant, confirm_name=tenant.name, acting=acting)
    assert Tenant.objects.filter(pk=tenant.pk).exists()


def test_the_danger_zone_shows_for_owners_only(tenant, owner, make_member, login):
    assert 'id="tenant-delete"' in login(owner).get("/settings/general/").content.decode()
    admin = make_member(tenant, "admin")
    page = login(admin).get("/settings/general/").content.decode()
    assert 'id="tenant-delete"' not in page and "Danger zone" not in page


def test_an_owner_deletes_and_lands_in_another_tenant(tenant, other_tenant, owner, login):
    Membership.objects.create(
        tenant=other_tenant, user=owner, role=Role.objects.get(tenant=other_tenant, builtin="agent")
    )
    client = login(owner)
    response = client.post("/settings/general/delete/", {"confirm_name": tenant.name})
    assert response.status_code == 302 and response["Location"] == "/"
    assert not Tenant.objects.filter(pk=tenant.pk).exists()
    landing = client.get("/", follow=True)
    assert landing.request["PATH_INFO"] == "/inbox/"
    assert landing.context["request"].tenant == other_tenant
    assert f"The tenant “{tenant.name}” and all its data were deleted." in landing.content.decode()
    assert AuditEvent.objects.get(action=DELETED).ip_address == "127.0.0.1"


def test_members_without_another_tenant_see_that_they_have_none(tenant, owner, make_member, login):
    agent_client = login(make_member(tenant, "agent"))
    assert (
        login(owner).post("/settings/general/delete/", {"confirm_name": tenant.name}).status_code
        == 302
    )
    page = agent_client.get("/", follow=True)
    assert page.status_code == 403  # the "no tenant" page
    assert "You are not a member of any tenant" in page.content.decode()


def test_a_wrong_name_is_refused_with_400(tenant, owner, login):
    response = login(owner).post("/settings/general/delete/", {"confirm_name": "Acme"})
    assert response.status_code == 400
    assert "name, “Acme Travel”, exactly to confirm" in response.content.decode()
    assert Tenant.objects.filter(pk=tenant.pk).exists()
    assert not AuditEvent.objects.filter(action=DELETED).exists()


def test_an_admin_gets_403_and_the_refusal_is_audited(tenant, make_member, login):
    admin = make_member(tenant, "admin")
    response = login(admin).post("/settings/general/delete/", {"confirm_name": tenant.name})
    assert response.status_code == 403
    assert Tenant.objects.filter(pk=tenant.pk).exists()
    refusal = AuditEvent.objects.get(action=AuditEvent.Action.PERMISSION_DENIED)
    assert refusal.actor == admin and refusal.data["permission"] == "tenant.delete"


def test_a_member_deletes_only_the_tenant_they_are_in(tenant, other_tenant, owner, login):
    """The view deletes the session's tenant: another tenant's name deletes nothing."""
    response = login(owner).post("/settings/general/delete/", {"confirm_name": other_tenant.name})
    assert response.status_code == 400
    assert Tenant.objects.filter(pk__in=[tenant.pk, other_tenant.pk]).count() == 2


def test_another_tenants_audit_trail_does_not_show_the_deletion(tenant, other_tenant, owner, login):
    other_owner = Membership.objects.get(tenant=other_tenant, role__builtin="owner").user
    Membership.objects.create(
        tenant=other_tenant, user=owner, role=Role.objects.get(tenant=other_tenant, builtin="agent")
    )
    login(owner).post("/settings/general/delete/", {"confirm_name": tenant.name})
    trail = login(other_owner).get("/settings/audit/").content.decode()
    assert "<td>Tenant deleted</td>" not in trail and tenant.name not in trail
