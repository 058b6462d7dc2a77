from datetime import timedelta

import pytest
from django.utils import timezone

from inbox.actions.conversations import do_update_conversation
from inbox.models import Conversation, Message
from omnichannel.actions import ActionError, do_create_role
from omnichannel.events import tenant_group
from tests.inbox.api_factories import make_contact, make_conversation, make_inbox

pytestmark = [pytest.mark.django_db, pytest.mark.clock]


@pytest.fixture
def tenant_events(tenant, group_events):
    """Receives what is published to the tenant's group (a plain channel: each call may use its
    own event loop, so each call gets its own layer instance)."""
    return group_events(tenant_group(tenant.pk))


def system_messages(conversation) -> list[Message]:
    return list(
        Message.objects.filter(
            conversation=conversation, sender_type=Message.SenderType.SYSTEM
        ).order_by("id")
    )


def test_it_closes_a_conversation_with_a_system_line_and_an_event_after_commit(
    tenant, owner, tenant_events, django_capture_on_commit_callbacks
):
    conv = make_conversation(make_inbox(tenant))
    before = conv.last_message_at
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        do_update_conversation(conv, status="closed", acting_user=owner)
    assert tenant_events() == []  # nothing before commit
    for callback in callbacks:
        callback()
    events = tenant_events()
    # The system line (for the thread on every open page), then the conversation's change.
    assert [e["event"] for e in events] == ["message.created", "conversation.updated"]
    assert events[1]["payload"]["id"] == conv.pk
    assert events[1]["payload"]["status"] == "closed"
    (line,) = system_messages(conv)
    assert events[0]["payload"]["id"] == line.pk
    assert line.is_private and line.direction == "out" and line.author == owner
    assert line.body == f"Closed by {owner.email}."
    assert line.metadata["event"] == "status_changed"
    assert (line.metadata["from"], line.metadata["to"]) == ("open", "closed")
    conv.refresh_from_db()
    assert conv.status == "closed" and conv.last_message_at == before


def test_it_writes_nothing_and_publishes_nothing_when_nothing_changes(
    tenant, tenant_events, django_capture_on_commit_callbacks
):
    conv = make_conversation(make_inbox(tenant))
    with django_capture_on_commit_callbacks(execute=True):
        do_update_conversation(conv, status="open", priority=0)
    assert tenant_events() == []
    assert system_messages(conv) == []


def test_it_assigns_and_unassigns_with_system_lines(tenant, make_member):
    conv = make_conversation(make_inbox(tenant))
    agent = make_member(tenant, "agent")
    do_update_conversation(conv, assignee=agent)
    conv.refresh_from_db()
    assert conv.assignee == agent
    do_update_conversation(conv, assignee=None)
    conv.refresh_from_db()
    assert conv.assignee is None
    lines = system_messages(conv)
    assert [m.metadata["event"] for m in lines] == ["assignee_changed", "assignee_changed"]
    assert lines[0].body == f"Assigned to {agent.email} by the system."
    assert lines[1].metadata == {
        "event": "assignee_changed",
        "from": agent.pk,
        "to": None,
        "actor_token_id": None,
    }


def test_it_refuses_an_assignee_who_cannot_see_conversations(tenant, other_tenant, make_member):
    conv = make_conversation(make_inbox(tenant))
    role = do_create_role(tenant, name="Billing only", codenames=["reports.view"])
    clerk = make_member(tenant, role)
    with pytest.raises(ActionError, match="cannot see conversations"):
        do_update_conversation(conv, assignee=clerk)
    with pytest.raises(ActionError, match="not a member"):
        do_update_conversation(conv, assignee=make_member(other_tenant, "agent"))


def test_it_snoozes_only_until_a_future_time_and_clears_it_on_reopen(tenant):
    conv = make_conversation(make_inbox(tenant))
    with pytest.raises(ActionError, match="future"):
        do_update_conversation(conv, status="snoozed", snoozed_until=timezone.now())
    with pytest.raises(ActionError, match="snoozed_until"):
        do_update_conversation(conv, status="snoozed")
    with pytest.raises(ActionError, match="only goes with"):
        do_update_conversation(
            conv, status="closed", snoozed_until=timezone.now() + timedelta(hours=1)
        )
    until = timezone.now() + timedelta(hours=2)
    do_update_conversation(conv, snoozed_until=until)
    conv.refresh_from_db()
    assert (conv.status, conv.snoozed_until) == ("snoozed", until)
    do_update_conversation(conv, status="open")
    conv.refresh_from_db()
    assert (conv.status, conv.snoozed_until) == ("open", None)
    assert [m.body.split(" ")[0] for m in system_messages(conv)] == ["Snoozed", "Marked"]


def test_it_refuses_to_reopen_beside_another_active_conversation(tenant):
    inbox = make_inbox(tenant)
    contact = make_contact(tenant)
    closed = make_conversation(inbox, contact, status="closed")
    make_conversation(inbox, contact, status="pending")
    with pytest.raises(ActionError) as exc:
        do_update_conversation(closed, status="open")
    assert exc.value.code == "conflict"
    closed.refresh_from_db()
    assert closed.status == "closed"
    # Archiving a closed one is not a reopening.
    do_update_conversation(closed, status="archived")
    assert Conversation.objects.get(pk=closed.pk).status == "archived"


def test_it_reopens_a_closed_conversation_when_it_is_the_only_one(tenant):
    conv = make_conversation(make_inbox(tenant), status="closed")
    do_update_conversation(conv, status="open", priority=Conversation.Priority.URGENT)
    conv.refresh_from_db()
    assert (conv.status, conv.priority) == ("open", Conversation.Priority.URGENT)
    bodies = [m.body for m in system_messages(conv)]
    assert bodies == ["Reopened by the system.", "Priority set to urgent by the system."]


def test_it_refuses_an_unknown_status_or_priority(tenant):
    conv = make_conversation(make_inbox(tenant))
    with pytest.raises(ActionError, match="Unknown status"):
        do_update_conversation(conv, status="done")
    with pytest.raises(ActionError, match="Unknown priority"):
        do_update_conversation(conv, priority=9)
