"""The /ws/ endpoint over the real ASGI application and the real Redis channel layer.

Sockets are authenticated the way browsers do it: the session cookie of a signed-in user and
an Origin header. The consumer reads the database from another thread, so the data must be
committed (transactional tests); events are published inside committed transactions.
"""

import json

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import transaction

from omnichannel import events
from omnichannel.actions import do_remove_member
from omnichannel.asgi import application
from omnichannel.consumers import CLOSE_NO_TENANT, CLOSE_UNAUTHENTICATED
from omnichannel.events import EventType
from omnichannel.models import Membership, Tenant, UserPreference
from tests.sockets import ORIGIN, QUIET, _communicator, _headers, socket

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("private_channel_prefix"),
]


async def refusal_code(communicator: WebsocketCommunicator) -> int:
    """The application close code of a refused socket (accepted, then closed at once)."""
    try:
        connected, _ = await communicator.connect()
        assert connected
        message = await communicator.receive_output()
        assert message["type"] == "websocket.close"
        return message["code"]
    finally:
        await communicator.disconnect()


def _publish_committed(tenant, type, payload, **kwargs) -> None:
    with transaction.atomic():
        events.publish(tenant, type, payload, **kwargs)


publish_committed = sync_to_async(_publish_committed)


async def received(communicator: WebsocketCommunicator) -> dict:
    return json.loads(await communicator.receive_from(timeout=2))


async def test_it_closes_an_anonymous_socket_with_4401():
    assert await refusal_code(_communicator(None)) == CLOSE_UNAUTHENTICATED


async def test_it_closes_a_socket_with_a_forged_session_cookie_with_4401():
    communicator = WebsocketCommunicator(
        application,
        "/ws/",
        headers=[(b"origin", ORIGIN.encode()), (b"cookie", b"sessionid=not-a-real-session")],
    )
    assert await refusal_code(communicator) == CLOSE_UNAUTHENTICATED


async def test_it_closes_the_socket_of_a_user_without_membership_with_4403(db, signed_in):
    from omnichannel.actions import get_or_create_user

    user, _ = await sync_to_async(get_or_create_user)("nobody@example.test", password="x" * 20)
    client = await sync_to_async(signed_in)(user)
    assert await refusal_code(_communicator(client)) == CLOSE_NO_TENANT


async def test_it_refuses_a_cross_origin_socket(tenant, owner, signed_in):
    client = await sync_to_async(signed_in)(owner)
    communicator = _communicator(client, origin="https://evil.example")
    connected, _ = await communicator.connect()
    assert not connected
    await communicator.disconnect()


async def test_it_refuses_a_socket_without_origin(tenant, owner, signed_in):
    client = await sync_to_async(signed_in)(owner)
    communicator = WebsocketCommunicator(
        application, "/ws/", headers=[h for h in _headers(client, ORIGIN) if h[0] != b"origin"]
    )
    connected, _ = await communicator.connect()
    assert not connected
    await communicator.disconnect()


async def test_it_sends_tenant_events_to_members_and_nothing_to_another_tenant(
    tenant, other_tenant, owner, make_member, signed_in
):
    agent = await sync_to_async(make_member)(tenant, "agent")
    other_owner = await sync_to_async(
        lambda: Membership.objects.get(tenant=other_tenant, role__builtin="owner").user
    )()
    clients = [await sync_to_async(signed_in)(u) for u in (owner, agent, other_owner)]

    async with (
        socket(clients[0]) as ours,
        socket(clients[1]) as agents,
        socket(clients[2]) as theirs,
    ):
        await publish_committed(tenant, EventType.CONVERSATION_UPDATED, {"id": 7, "status": "open"})

        expected = {"type": "conversation.updated", "payload": {"id": 7, "status": "open"}}
        assert await received(ours) == expected
        assert await received(agents) == expected
        assert await theirs.receive_nothing(timeout=QUIET)

        await publish_committed(other_tenant, EventType.UNREAD_UPDATED, {"unread": 3})
        assert await received(theirs) == {"type": "unread.updated", "payload": {"unread": 3}}
        assert await ours.receive_nothing(timeout=QUIET)
        assert await agents.receive_nothing(timeout=QUIET)


async def test_tenant_events_behind_a_permission_reach_only_members_who_hold_it(
    tenant, owner, make_member, signed_in
):
    from omnichannel.models import Role

    inbox_only = await sync_to_async(Role.objects.create)(
        tenant=tenant, name="Inbox only", permissions=["conversations.view"]
    )
    member = await sync_to_async(make_member)(tenant, inbox_only)
    owner_client = await sync_to_async(signed_in)(owner)
    member_client = await sync_to_async(signed_in)(member)

    async with socket(owner_client) as owners, socket(member_client) as members:
        await publish_committed(tenant, EventType.CAMPAIGN_PROGRESS, {"id": 5, "sent": 10})
        assert await received(owners) == {
            "type": "campaign.progress",
            "payload": {"id": 5, "sent": 10},
        }
        assert await members.receive_nothing(timeout=QUIET)

        await publish_committed(tenant, EventType.CONVERSATION_UPDATED, {"id": 7})
        assert (await received(members))["type"] == "conversation.updated"


async def test_it_sends_user_events_only_to_that_user(tenant, owner, make_member, signed_in):
    agent = await sync_to_async(make_member)(tenant, "agent")
    owner_client = await sync_to_async(signed_in)(owner)
    agent_client = await sync_to_async(signed_in)(agent)

    async with socket(owner_client) as owners, socket(agent_client) as agents:
        await publish_committed(
            tenant, EventType.CALL_INCOMING, {"call": 12}, users=[agent, agent.pk]
        )

        assert await received(agents) == {"type": "call.incoming", "payload": {"call": 12}}
        assert await agents.receive_nothing(timeout=QUIET)  # listed twice, sent once
        assert await owners.receive_nothing(timeout=QUIET)


async def test_it_never_sends_events_of_a_rolled_back_transaction(tenant, owner, signed_in):
    client = await sync_to_async(signed_in)(owner)

    def publish_then_fail() -> None:
        with pytest.raises(RuntimeError), transaction.atomic():
            events.publish(tenant, EventType.MESSAGE_CREATED, {"id": 1})
            raise RuntimeError("the write failed")

    async with socket(client) as communicator:
        await sync_to_async(publish_then_fail)()
        assert await communicator.receive_nothing(timeout=QUIET)

        await publish_committed(tenant, EventType.MESSAGE_CREATED, {"id": 2})
        assert await received(communicator) == {"type": "message.created", "payload": {"id": 2}}


async def test_it_sends_only_the_html_fragment_to_html_clients(tenant, owner, signed_in):
    client = await sync_to_async(signed_in)(owner)
    fragment = '<div id="msg-5" hx-swap-oob="true">Hi &lt;b&gt;</div>'

    async with socket(client, path="/ws/?format=html") as browser, socket(client) as api:
        await publish_committed(tenant, EventType.MESSAGE_CREATED, {"id": 5}, html=fragment)
        assert await browser.receive_from(timeout=2) == fragment
        assert await received(api) == {"type": "message.created", "payload": {"id": 5}}

        # Without a fragment, the apps' renderers draw the event for this browser…
        await publish_committed(tenant, EventType.UNREAD_UPDATED, {"unread": 1})
        assert await received(api) == {"type": "unread.updated", "payload": {"unread": 1}}
        assert 'id="nav-unread"' in await browser.receive_from(timeout=2)

        # … and an event no renderer draws leaves the browser with nothing to swap.
        await publish_committed(tenant, EventType.CAMPAIGN_PROGRESS, {"sent": 1})
        assert await received(api) == {"type": "campaign.progress", "payload": {"sent": 1}}
        assert await browser.receive_nothing(timeout=QUIET)


async def test_it_joins_the_tenant_chosen_in_the_session(
    tenant, other_tenant, make_member, signed_in
):
    agent = await sync_to_async(make_member)(tenant, "agent", email="both@example.test")
    await sync_to_async(make_member)(other_tenant, "agent", email="both@example.test")
    in_other = await sync_to_async(signed_in)(agent, tenant=other_tenant)
    in_first = await sync_to_async(signed_in)(agent, tenant=tenant)

    async with socket(in_other) as other_socket, socket(in_first) as first_socket:
        await publish_committed(tenant, EventType.CONVERSATION_UPDATED, {"id": 1})
        await publish_committed(tenant, EventType.CALL_INCOMING, {"call": 1}, users=[agent])
        assert await received(first_socket) == {
            "type": "conversation.updated",
            "payload": {"id": 1},
        }
        assert await received(first_socket) == {"type": "call.incoming", "payload": {"call": 1}}
        assert await other_socket.receive_nothing(timeout=QUIET)

        await publish_committed(other_tenant, EventType.CALL_INCOMING, {"call": 2}, users=[agent])
        assert await received(other_socket) == {"type": "call.incoming", "payload": {"call": 2}}
        assert await first_socket.receive_nothing(timeout=QUIET)


async def test_it_falls_back_to_the_last_used_tenant_as_pages_do(
    tenant, other_tenant, make_member, signed_in
):
    agent = await sync_to_async(make_member)(tenant, "agent", email="both@example.test")
    await sync_to_async(make_member)(other_tenant, "agent", email="both@example.test")
    await sync_to_async(UserPreference.objects.create)(user=agent, last_tenant=other_tenant)
    # The session names a tenant the user is no longer in: the last used one is taken instead.
    stale = await sync_to_async(signed_in)(agent, tenant=Tenant(pk=other_tenant.pk + 1000))

    async with socket(stale) as communicator:
        await publish_committed(other_tenant, EventType.CONVERSATION_UPDATED, {"id": 3})
        assert await received(communicator) == {
            "type": "conversation.updated",
            "payload": {"id": 3},
        }


async def test_it_closes_the_socket_when_the_membership_is_removed(
    tenant, owner, make_member, signed_in
):
    agent = await sync_to_async(make_member)(tenant, "agent")
    client = await sync_to_async(signed_in)(agent)

    def remove() -> None:
        # The action itself tells the member's sockets; nothing else is published here.
        with transaction.atomic():
            do_remove_member(Membership.objects.get(tenant=tenant, user=agent))

    communicator = _communicator(client)
    connected, _ = await communicator.connect()
    assert connected
    try:
        await sync_to_async(remove)()
        closed = await communicator.receive_output(timeout=2)
        assert closed == {"type": "websocket.close", "code": CLOSE_NO_TENANT}

        await publish_committed(tenant, EventType.CONVERSATION_UPDATED, {"id": 1})
        assert await communicator.receive_nothing(timeout=QUIET)
    finally:
        await communicator.disconnect()

    # Reconnecting does not join the tenant again.
    assert await refusal_code(_communicator(client)) == CLOSE_NO_TENANT


async def test_it_keeps_members_whose_membership_merely_changed(
    tenant, owner, make_member, signed_in
):
    client = await sync_to_async(signed_in)(owner)

    async with socket(client) as communicator:
        await publish_committed(tenant, EventType.MEMBERSHIP_CHANGED, {"role": "admin"})
        assert await received(communicator) == {
            "type": "membership.changed",
            "payload": {"role": "admin"},
        }


async def test_it_refuses_a_tenant_that_requires_mfa_the_user_lacks(tenant, owner, signed_in):
    await sync_to_async(Tenant.objects.filter(pk=tenant.pk).update)(require_mfa=True)
    client = await sync_to_async(signed_in)(owner)
    assert await refusal_code(_communicator(client)) == CLOSE_NO_TENANT


async def test_it_answers_client_messages_with_an_error(tenant, owner, signed_in):
    client = await sync_to_async(signed_in)(owner)
    async with socket(client) as communicator:
        await communicator.send_to(text_data="hello")
        assert await received(communicator) == {
            "error": {"code": "read_only", "message": "Nothing to send."}
        }


def test_it_refuses_a_conversation_of_another_tenant(tenant, other_tenant):
    class Conversation:  # publish needs only pk and tenant_id
        pk = 1
        tenant_id = other_tenant.pk

    with pytest.raises(ValueError, match="another tenant"):
        events.publish(tenant, EventType.MESSAGE_CREATED, {}, conversation=Conversation())


def test_it_refuses_unknown_event_types_and_non_json_payloads(tenant):
    with pytest.raises(ValueError):
        events.publish(tenant, "message.exploded", {})
    with pytest.raises(TypeError):
        events.publish(tenant, EventType.MESSAGE_CREATED, {"at": object()})
