"""Settings → Teams: the page keeps the shell's tenant switcher honest and offers, for each
team, only the people who can still join it."""

import re

import pytest

from inbox.models import Team, TeamMember
from omnichannel.models import Membership, Role

pytestmark = pytest.mark.django_db


def options_of(page: str, select_id: str) -> list[str]:
    """The labels of the options of the ``<select id=select_id>`` in ``page``."""
    select = re.search(rf'<select id="{select_id}"[^>]*>(.*?)</select>', page, re.S)
    assert select, f"no <select id={select_id}>"
    return [label.strip() for label in re.findall(r"<option[^>]*>(.*?)</option>", select[1], re.S)]


def test_a_single_tenant_user_sees_no_tenant_switcher(tenant, owner, make_member, login):
    # Several people in the tenant: the page's list of them must not stand in for the shell's
    # list of the user's own tenants.
    for n in range(3):
        make_member(tenant, "agent", email=f"agent{n}@acme.test")
    page = login(owner).get("/settings/teams/").content.decode()
    assert 'id="tenant-select"' not in page
    assert '<span class="tenant-name">Acme Travel</span>' in page


def test_a_user_of_two_tenants_still_switches_from_the_teams_page(
    tenant, other_tenant, owner, login
):
    agent_role = Role.objects.get(tenant=other_tenant, builtin="agent")
    Membership.objects.create(tenant=other_tenant, user=owner, role=agent_role)
    page = login(owner).get("/settings/teams/").content.decode()
    assert sorted(options_of(page, "tenant-select")) == ["Acme Travel", "Globex"]


def test_add_a_member_offers_only_people_not_in_the_team(tenant, owner, make_member, login):
    inside = make_member(tenant, "agent", email="inside@acme.test")
    outside = make_member(tenant, "agent", email="outside@acme.test")
    team = Team.objects.create(tenant=tenant, name="Front desk")
    TeamMember.objects.create(tenant=tenant, team=team, user=inside)
    everyone = Team.objects.create(tenant=tenant, name="Everyone")
    for user in (owner, inside, outside):
        TeamMember.objects.create(tenant=tenant, team=everyone, user=user)

    page = login(owner).get("/settings/teams/").content.decode()
    assert options_of(page, f"team-{team.pk}-user") == [outside.email, owner.email]
    # Everybody is in "Everyone": nobody is left to add, so there is no form to add them with.
    assert f'id="team-{everyone.pk}-user"' not in page
    assert "Everybody in the tenant is already in this team." in page
