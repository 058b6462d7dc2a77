"""Assignment: to an agent or a team from the page and the API, round-robin auto-assignment
of new conversations among available agents, and each agent's availability."""

import pytest

from inbox.actions.assignment import do_set_availability
from inbox.models import Conversation, Message, Team, TeamMember
from omnichannel.models import Membership
from tests.inbox.webhook_helpers import receive

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def incoming(inbox, sender: str, body: str = "Hola") -> Conversation:
    """The conversation (as stored now) a new inbound message landed in."""
    return Conversation.objects.select_related("assignee", "team").get(
        pk=receive(inbox, sender, body).conversation_id
    )


def membership(tenant, user) -> Membership:
    return Membership.objects.get(tenant=tenant, user=user)


@pytest.fixture
def agents(tenant, make_member):
    return [make_member(tenant, "agent", email=f"agent{n}@acme.test") for n in range(3)]


@pytest.fixture
def auto_inbox(tenant, sms_inbox, owner):
    sms_inbox.auto_assign = True
    sms_inbox.save()
    # The owner is away: only the agents share the work.
    do_set_availability(membership(tenant, owner), Membership.Availability.AWAY)
    return sms_inbox


def test_new_conversations_go_round_robin_to_available_agents(tenant, auto_inbox, agents):
    do_set_availability(membership(tenant, agents[2]), Membership.Availability.BUSY)
    assignees = [incoming(auto_inbox, f"+1415555{n:04d}").assignee for n in range(200, 204)]
    assert assignees == [agents[0], agents[1], agents[0], agents[1]]
    # The thread says who did it.
    line = Message.objects.filter(sender_type="system").order_by("id").first()
    assert line.body == f"Assigned to {agents[0].email} by auto-assignment."


def test_a_conversation_keeps_its_agent_and_nobody_available_leaves_it_unassigned(
    tenant, auto_inbox, agents
):
    first = incoming(auto_inbox, "+14155550300")
    again = incoming(auto_inbox, "+14155550300", "¿Hola?")
    assert again.pk == first.pk and again.assignee == first.assignee == agents[0]
    for agent in agents:
        do_set_availability(membership(tenant, agent), Membership.Availability.AWAY)
    assert incoming(auto_inbox, "+14155550301").assignee is None


def test_an_inbox_with_a_team_assigns_only_within_the_team(tenant, auto_inbox, agents):
    team = Team.objects.create(tenant=tenant, name="Reservations")
    TeamMember.objects.create(tenant=tenant, team=team, user=agents[2])
    auto_inbox.team = team
    auto_inbox.save()
    conversations = [incoming(auto_inbox, f"+1415555{n:04d}") for n in (400, 401)]
    assert [c.assignee for c in conversations] == [agents[2], agents[2]]
    assert {c.team for c in conversations} == {team}


def test_an_inbox_without_auto_assignment_leaves_conversations_alone(sms_inbox, agents):
    assert incoming(sms_inbox, "+14155550500").assignee is None


def test_the_page_assigns_to_an_agent_and_a_team(tenant, owner, login, sms_inbox, agents):
    conversation = incoming(sms_inbox, "+14155550600")
    team = Team.objects.create(tenant=tenant, name="Front desk")
    client = login(owner)
    page = client.get(f"/inbox/c/{conversation.pk}/").content.decode()
    assert f'<option value="{agents[1].pk}">agent1@acme.test</option>' in page
    assert f'<option value="{team.pk}">Front desk</option>' in page

    response = client.post(
        f"/inbox/c/{conversation.pk}/assignee/",
        {"assignee": agents[1].pk, "team": team.pk},
        headers=HTMX,
    )
    assert response.status_code == 200
    assert "Assigned to agent1@acme.test" in response.content.decode()
    conversation.refresh_from_db()
    assert (conversation.assignee, conversation.team) == (agents[1], team)
    lines = Message.objects.filter(conversation=conversation, sender_type="system")
    assert {m.metadata["event"] for m in lines} == {"assignee_changed", "team_changed"}


def test_the_page_refuses_members_and_teams_of_another_tenant(
    tenant, other_tenant, owner, login, sms_inbox, make_member
):
    conversation = incoming(sms_inbox, "+14155550700")
    stranger = make_member(other_tenant, "agent", email="stranger@globex.test")
    their_team = Team.objects.create(tenant=other_tenant, name="Globex team")
    client = login(owner)
    url = f"/inbox/c/{conversation.pk}/assignee/"
    assert client.post(url, {"assignee": stranger.pk}, headers=HTMX).status_code == 404
    assert client.post(url, {"team": their_team.pk}, headers=HTMX).status_code == 404
    conversation.refresh_from_db()
    assert conversation.assignee is None and conversation.team is None


def test_the_api_sets_and_removes_a_team(tenant, api_token, sms_inbox, client):
    conversation = incoming(sms_inbox, "+14155550800")
    team = Team.objects.create(tenant=tenant, name="Sales")
    headers = {"Authorization": f"Bearer {api_token}"}
    url = f"/api/v1/conversations/{conversation.pk}"
    response = client.patch(
        url, {"team_id": team.pk}, content_type="application/json", headers=headers
    )
    assert response.status_code == 200, response.content
    assert response.json()["team_id"] == team.pk
    response = client.patch(
        url, {"team_id": None}, content_type="application/json", headers=headers
    )
    assert response.json()["team_id"] is None
    response = client.patch(
        url, {"team_id": 999999}, content_type="application/json", headers=headers
    )
    assert response.status_code == 400
    assert "no team with id 999999" in response.json()["error"]["message"]


def test_agents_set_their_availability(tenant, owner, login):
    client = login(owner)
    response = client.post("/inbox/availability/", {"availability": "busy", "next": "/inbox/"})
    assert response.status_code == 302 and response["Location"] == "/inbox/"
    assert membership(tenant, owner).availability == "busy"
    assert client.post("/inbox/availability/", {"availability": "asleep"}).status_code == 400
    page = client.get("/inbox/").content.decode()
    assert '<option value="busy" selected>Busy</option>' in page


def test_agents_take_conversations_but_only_supervisors_give_them_to_others(
    tenant, sms_inbox, agents, make_member, login
):
    conversation = incoming(sms_inbox, "+14155550900")
    url = f"/inbox/c/{conversation.pk}/assignee/"
    agent = login(agents[0])
    assert 'id="assignee-select"' not in agent.get(f"/inbox/c/{conversation.pk}/").content.decode()
    assert agent.post(url, {"assignee": agents[1].pk}, headers=HTMX).status_code == 403
    assert agent.post(url, {"assignee": "me"}, headers=HTMX).status_code == 200
    conversation.refresh_from_db()
    assert conversation.assignee == agents[0]

    supervisor = login(make_member(tenant, "supervisor"))
    assert supervisor.post(url, {"assignee": agents[1].pk}, headers=HTMX).status_code == 200
    conversation.refresh_from_db()
    assert conversation.assignee == agents[1]
