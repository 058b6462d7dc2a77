"""The BlueBubbles server's health: when it was last heard from (Settings → Channels), an alert
once it fails several checks in a row (admins told once per outage, and again when it is
back), and the silence of a server nobody has heard from for a while."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.cache import cache

from inbox.actions.notify import SERVER_DOWN
from inbox.models import InboxHealth, Message
from inbox.tasks.catch_up import catch_up_inbox_task
from omnichannel.models import AgentNotification, Membership
from tests.fakes.bluebubbles import message_data
from tests.inbox.bluebubbles_helpers import CONTACT, make_bb_inbox, post

pytestmark = [pytest.mark.django_db, pytest.mark.clock]
NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def check(inbox) -> str:
    return catch_up_inbox_task.apply(args=[inbox.pk]).get()


def page(client, inbox) -> str:
    response = client.get(f"/settings/channels/{inbox.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def alerts(tenant) -> list[tuple[str, str]]:
    return list(
        AgentNotification.objects.filter(tenant=tenant, kind=SERVER_DOWN)
        .order_by("id")
        .values_list("recipient__email", "title")
    )


def test_the_channel_page_says_when_the_server_was_last_heard_from(owner, login, bb_inbox):
    client = login(owner)
    assert 'id="last-heard"><span class="muted">Never' in page(client, bb_inbox)

    with time_machine.travel(NOW, tick=False):
        check(bb_inbox)
    with time_machine.travel(NOW + timedelta(minutes=3), tick=False):
        shown = page(client, bb_inbox)

    assert "Last heard from the server" in shown
    assert 'id="last-heard">3\xa0minutes ago' in shown
    assert 'data-state="ok"' in shown
    assert 'role="alert"' not in shown


def test_a_webhook_counts_as_hearing_from_the_server(owner, login, bb_inbox):
    with time_machine.travel(NOW, tick=False):
        check(bb_inbox)
    with time_machine.travel(NOW + timedelta(minutes=20), tick=False):
        post(bb_inbox, {"type": "new-message", "data": message_data(text="Hi", address=CONTACT)})
    with time_machine.travel(NOW + timedelta(minutes=22), tick=False):
        shown = page(login(owner), bb_inbox)

    assert 'id="last-heard">2\xa0minutes ago' in shown
    assert 'data-state="ok"' in shown


def test_a_server_not_heard_from_for_a_while_is_flagged(owner, login, bb_inbox):
    with time_machine.travel(NOW, tick=False):
        check(bb_inbox)
    with time_machine.travel(NOW + timedelta(minutes=40), tick=False):
        shown = page(login(owner), bb_inbox)

    assert 'data-state="silent"' in shown
    assert "Nothing heard from the server for 40\xa0minutes" in shown


def test_failing_checks_alert_the_admins_once_and_the_recovery_once(
    tenant, owner, make_member, login, bb_inbox, bb_server
):
    admin = make_member(tenant, "admin")
    agent = make_member(tenant, "agent")
    client = login(owner)
    bb_server.down = True
    with time_machine.travel(NOW, tick=False):
        for _ in range(2):
            assert "did not answer" in check(bb_inbox)
    health = InboxHealth.objects.get(inbox=bb_inbox)
    assert (health.failures, health.unreachable_since) == (2, None)
    assert "Server Error" in health.last_failure or "500" in health.last_failure
    assert alerts(tenant) == []

    with time_machine.travel(NOW + timedelta(minutes=2), tick=False):
        check(bb_inbox)
        for _ in range(5):  # the outage goes on: nobody is told again
            check(bb_inbox)
        shown = page(client, bb_inbox)
        listed = client.get("/settings/channels/").content.decode()

    down = "iMessage: the server is unreachable"
    assert sorted(alerts(tenant)) == sorted([(owner.email, down), (admin.email, down)])
    assert agent.email not in [email for email, _ in alerts(tenant)]
    assert InboxHealth.objects.get(inbox=bb_inbox).unreachable_since == NOW + timedelta(minutes=2)
    assert 'data-state="unreachable"' in shown
    assert 'role="alert"' in shown and "The server is unreachable: 8 checks in a row" in shown
    assert "Server unreachable" in listed

    # The server comes back, with a message that arrived meanwhile.
    bb_server.down = False
    bb_server.record(message_data(text="Anyone there?", address=CONTACT))
    with time_machine.travel(NOW + timedelta(minutes=30), tick=False):
        check(bb_inbox)
        check(bb_inbox)
        shown = page(client, bb_inbox)

    health = InboxHealth.objects.get(inbox=bb_inbox)
    assert (health.failures, health.unreachable_since, health.last_failure) == (0, None, "")
    assert health.last_heard_at == NOW + timedelta(minutes=30)
    back = "iMessage: the server answers again"
    assert [title for email, title in alerts(tenant) if email == owner.email] == [down, back]
    assert len(alerts(tenant)) == 4
    assert 'data-state="ok"' in shown and 'role="alert"' not in shown
    assert Message.objects.get(inbox=bb_inbox).body == "Anyone there?"


def test_a_wrong_password_is_a_failing_check(tenant, bb_server):
    cache.clear()
    inbox = make_bb_inbox(tenant, bb_server, password="not-the-password")

    check(inbox)

    health = InboxHealth.objects.get(inbox=inbox)
    assert health.failures == 1
    assert "rejected this inbox's password" in health.last_failure
    assert health.last_heard_at is None


def test_another_tenant_sees_neither_the_page_nor_the_alert(
    tenant, other_tenant, login, bb_inbox, bb_server
):
    bb_server.down = True
    for _ in range(3):
        check(bb_inbox)
    their_owner = Membership.objects.get(tenant=other_tenant, role__builtin="owner").user

    response = login(their_owner).get(f"/settings/channels/{bb_inbox.pk}/")

    assert response.status_code == 404
    assert not AgentNotification.objects.filter(recipient=their_owner).exists()
    assert len(alerts(tenant)) == 1
