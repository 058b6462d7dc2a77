"""Settings > Teams & assignment: teams, their members, and each inbox's assignment."""

import pytest

from inbox.models import Team, TeamMember
from tests.inbox.api_factories import make_inbox

pytestmark = pytest.mark.django_db


def test_an_admin_builds_a_team_and_sets_an_inbox_to_assign_within_it(
    tenant, owner, make_member, login
):
    agent = make_member(tenant, "agent")
    inbox = make_inbox(tenant)
    client = login(owner)

    assert client.post("/settings/teams/new/", {"name": "  Front   desk "}).status_code == 302
    team = Team.objects.get(tenant=tenant)
    assert team.name == "Front desk"
    response = client.post("/settings/teams/new/", {"name": "Front desk"})
    assert response.status_code == 409
    assert "already a team called" in response.content.decode()

    client.post(f"/settings/teams/{team.pk}/members/", {"user": agent.pk})
    assert list(TeamMember.objects.filter(team=team).values_list("user", flat=True)) == [agent.pk]

    response = client.post(
        f"/settings/inboxes/{inbox.pk}/assignment/", {"team": team.pk, "auto_assign": "on"}
    )
    assert response.status_code == 302
    inbox.refresh_from_db()
    assert (inbox.team, inbox.auto_assign) == (team, True)

    page = client.get("/settings/teams/").content.decode()
    assert "Front desk" in page and agent.email in page

    client.post(f"/settings/teams/{team.pk}/members/{agent.pk}/remove/")
    assert not TeamMember.objects.filter(team=team).exists()


def test_agents_cannot_manage_teams(tenant, make_member, login):
    client = login(make_member(tenant, "agent"))
    assert client.get("/settings/teams/").status_code == 403
    assert client.post("/settings/teams/new/", {"name": "Rogue"}).status_code == 403
    assert not Team.objects.exists()


def test_another_tenants_teams_members_and_inboxes_are_out_of_reach(
    tenant, other_tenant, owner, make_member, login
):
    their_team = Team.objects.create(tenant=other_tenant, name="Globex team")
    their_inbox = make_inbox(other_tenant)
    stranger = make_member(other_tenant, "agent", email="stranger@globex.test")
    ours = Team.objects.create(tenant=tenant, name="Ours")
    inbox = make_inbox(tenant)
    client = login(owner)

    assert client.post(f"/settings/teams/{their_team.pk}/delete/").status_code == 404
    assert (
        client.post(f"/settings/teams/{ours.pk}/members/", {"user": stranger.pk}).status_code == 404
    )
    assert client.post(f"/settings/inboxes/{their_inbox.pk}/assignment/", {}).status_code == 404
    response = client.post(f"/settings/inboxes/{inbox.pk}/assignment/", {"team": their_team.pk})
    assert response.status_code == 404
    assert Team.objects.filter(pk=their_team.pk).exists()
    assert not TeamMember.objects.exists()
    inbox.refresh_from_db()
    assert inbox.team is None
