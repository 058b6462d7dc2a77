"""The inbox page kept live over a real websocket: events rendered for each agent and page.

Each test signs agents in, opens ``/ws/?format=html`` the way the page does, reports what the
page shows (a ``view`` message) and then changes data through the real actions; what arrives
is the htmx fragment the browser will swap.
"""

import json
import re
import secrets

import pytest
from asgiref.sync import sync_to_async
from django.db import transaction

from inbox.actions.conversations import do_update_conversation
from inbox.actions.send import do_send_message
from inbox.models import Conversation, Message, ReadState
from inbox.payloads import message_payload
from omnichannel.channels import Channel
from omnichannel.events import EventType, publish
from tests.inbox.webhook_helpers import receive
from tests.sockets import QUIET, socket

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("private_channel_prefix"),
]

HTML = "/ws/?format=html"


areceive = sync_to_async(receive)


@pytest.fixture
def inbox(tenant, twilio_inbox):
    return twilio_inbox(tenant, kind=Channel.SMS)


@pytest.fixture
def two_conversations(inbox):
    """Ana's (older) and Luis's (newer) conversations, as the list orders them: Luis first."""
    ana = receive(inbox, "+14155550111", "Hola").conversation
    luis = receive(inbox, "+14155550122", "Buenas").conversation
    return ana, luis


async def report(communicator, **view) -> None:
    await communicator.send_to(text_data=json.dumps({"type": "view", "page": "inbox", **view}))
    # The view is applied in order with the events that follow; a short pause lets the
    # consumer join the conversation's group before the test acts.
    assert await communicator.receive_nothing(timeout=0.2)


async def collect(communicator, *, until: str, timeout: float = 10) -> str:
    """Frames received until one contains ``until`` (all of them joined). The first event a
    fresh consumer renders can take seconds on a busy machine (cold templates)."""
    frames = []
    while True:
        frame = await communicator.receive_from(timeout=timeout)
        frames.append(frame)
        if until in frame:
            return "".join(frames)


async def drain(communicator) -> None:
    while not await communicator.receive_nothing(timeout=QUIET):
        await communicator.receive_from()


async def test_a_new_message_joins_the_open_thread_and_moves_its_row_up(
    tenant, owner, signed_in, inbox, two_conversations
):
    ana, luis = two_conversations
    client = await sync_to_async(signed_in)(owner)
    async with socket(client, path=HTML) as page:
        newest = await sync_to_async(lambda: ana.messages.latest("created_at").pk)()
        await report(
            page,
            conversation=ana.pk,
            rows=[luis.pk, ana.pk],
            oldest_message=newest,
            newest_message=newest,
        )
        message = await areceive(inbox, "+14155550111", "¿Tienen mesa a las 9?")
        html = await collect(page, until=f"conv-{ana.pk}")

    # Appended to the thread, rendered as the page renders messages.
    assert f"<ol hx-swap-oob=\"beforeend:#thread[data-conversation-id='{ana.pk}']\">" in html
    assert f'id="msg-{message.pk}"' in html and "¿Tienen mesa a las 9?" in html
    # Ana's row leaves its place and comes back above Luis's.
    assert f'<li id="conv-{ana.pk}" hx-swap-oob="delete"></li>' in html
    assert f'<ul hx-swap-oob="beforebegin:#conv-{luis.pk}">' in html
    # Seen as it arrived (the page is visible and shows the conversation): read, not unread.
    state = await sync_to_async(ReadState.objects.get)(user=owner, conversation=ana)
    assert state.last_read_at >= message.created_at


async def test_rows_stay_put_when_the_order_does_not_change_and_go_when_out_of_view(
    tenant, owner, signed_in, inbox, two_conversations, make_member
):
    ana, luis = two_conversations
    colleague = await sync_to_async(make_member)(tenant, "agent")
    client = await sync_to_async(signed_in)(owner)
    async with socket(client, path=HTML) as page:
        await report(page, list="view=unassigned", rows=[luis.pk, ana.pk])

        # Luis writes again: his row is already first, so it is replaced where it is.
        await areceive(inbox, "+14155550122", "¿Sigue abierto?")
        html = await collect(page, until=f"conv-{luis.pk}")
        assert f'id="conv-{luis.pk}" class="conv-row is-unread"' in html
        assert 'hx-swap-oob="outerHTML"' in html and "delete" not in html
        assert "¿Sigue abierto?" in html

        # A colleague takes Ana's conversation: it no longer belongs in "Unassigned".
        await sync_to_async(_assign)(ana, colleague)
        html = await collect(page, until=f"conv-{ana.pk}")
        assert f'<li id="conv-{ana.pk}" hx-swap-oob="delete"></li>' in html


def _assign(conversation: Conversation, user) -> None:
    with transaction.atomic():
        do_update_conversation(conversation, assignee=user, acting_user=user)


async def test_ticks_advance_on_the_page_that_shows_the_message(
    tenant, owner, signed_in, inbox, two_conversations
):
    ana, luis = two_conversations
    reply = await sync_to_async(do_send_message)(
        tenant, conversation=ana, body="Sí, a las 9", acting_user=owner
    )
    client = await sync_to_async(signed_in)(owner)
    async with socket(client, path=HTML) as page, socket(client, path=HTML) as elsewhere:
        await report(page, conversation=ana.pk, oldest_message=1, newest_message=reply.pk)
        await report(elsewhere, conversation=luis.pk, oldest_message=1)
        await sync_to_async(_set_status)(reply, Message.Status.DELIVERED)
        html = await collect(page, until=f"msg-{reply.pk}-status")
        assert 'class="msg-status tick-delivered"' in html
        # The page showing another conversation has nothing to update.
        assert await elsewhere.receive_nothing(timeout=QUIET)


def _set_status(message: Message, status: str) -> None:
    """A status callback's effect, through the action the webhook calls."""
    from inbox.actions.receive import do_apply_status
    from inbox.models import Delivery
    from inbox.providers.base import StatusEvent

    delivery = Delivery.objects.get(message=message)
    Delivery.objects.filter(pk=delivery.pk).update(
        provider_message_id=delivery.provider_message_id or "SM" + secrets.token_hex(16)
    )
    delivery.refresh_from_db()
    do_apply_status(
        message.inbox, StatusEvent(provider_message_id=delivery.provider_message_id, status=status)
    )


async def test_the_open_conversation_header_follows_assignment_and_close(
    tenant, owner, signed_in, inbox, two_conversations, make_member
):
    ana, _ = two_conversations
    colleague = await sync_to_async(make_member)(tenant, "agent")
    client = await sync_to_async(signed_in)(owner)
    async with socket(client, path=HTML) as page:
        await report(page, conversation=ana.pk, rows=[ana.pk])
        await sync_to_async(_assign)(ana, colleague)
        html = await collect(page, until='id="conversation-header"')
        assert f"Assigned to {colleague.email}" in html
        # The system line joins the thread too.
        html = await collect(page, until="Assigned to") if "msg-system" not in html else html
        assert "msg-system" in html


async def test_the_navigation_counts_unread_conversations_per_agent(
    tenant, owner, signed_in, inbox, two_conversations, make_member
):
    colleague = await sync_to_async(make_member)(tenant, "agent")
    ours = await sync_to_async(signed_in)(owner)
    theirs = await sync_to_async(signed_in)(colleague)
    _, luis = two_conversations
    await sync_to_async(_mark_read)(luis, colleague)
    async with socket(ours, path=HTML) as mine, socket(theirs, path=HTML) as colleague_page:
        await report(mine, page="settings")
        await report(colleague_page, page="settings")
        await areceive(inbox, "+14155550133", "Nuevo cliente")
        assert re.search(r'id="nav-unread"[^>]*>3<', await collect(mine, until="nav-unread"))
        # The colleague read Luis's conversation: two unread for them.
        html = await collect(colleague_page, until="nav-unread")
        assert re.search(r'id="nav-unread"[^>]*>2<', html)


def _mark_read(conversation: Conversation, user) -> None:
    from inbox.actions.read_state import do_mark_read

    with transaction.atomic():
        do_mark_read(conversation, user)


async def test_agents_see_who_else_is_replying(
    tenant, owner, signed_in, inbox, two_conversations, make_member
):
    ana, luis = two_conversations
    colleague = await sync_to_async(make_member)(tenant, "agent")
    colleague.first_name = "Marta"
    await sync_to_async(colleague.save)()
    async with (
        socket(await sync_to_async(signed_in)(owner), path=HTML) as mine,
        socket(await sync_to_async(signed_in)(colleague), path=HTML) as hers,
    ):
        await report(mine, conversation=ana.pk)
        await _open(hers, ana.pk)  # she sees the owner viewing it, and the owner her
        await drain(mine)
        await hers.send_to(text_data=json.dumps({"type": "typing", "conversation": ana.pk}))
        html = await collect(mine, until='id="presence"')
        assert "Marta is replying…" in html
        assert await hers.receive_nothing(timeout=QUIET)  # not told about herself

        await hers.send_to(
            text_data=json.dumps({"type": "typing", "conversation": ana.pk, "active": False})
        )
        html = await collect(mine, until='id="presence"')
        assert "replying" not in html

        # Moving to another conversation stops the signals from the first one.
        await report(mine, conversation=luis.pk)
        await hers.send_to(text_data=json.dumps({"type": "typing", "conversation": ana.pk}))
        assert await mine.receive_nothing(timeout=QUIET)


async def test_a_reconnected_page_gets_what_it_missed(
    tenant, owner, signed_in, inbox, two_conversations
):
    ana, luis = two_conversations
    seen = await sync_to_async(lambda: ana.messages.latest("created_at").pk)()
    missed = await areceive(inbox, "+14155550111", "¿Hola? ¿Siguen ahí?")
    newcomer = (await areceive(inbox, "+14155550144", "Primera vez")).conversation
    client = await sync_to_async(signed_in)(owner)
    async with socket(client, path=HTML) as page:
        await page.send_to(
            text_data=json.dumps(
                {
                    "type": "view",
                    "page": "inbox",
                    "conversation": ana.pk,
                    "rows": [luis.pk, ana.pk],
                    "oldest_message": seen,
                    "newest_message": seen,
                    "catch_up": "reconnect",
                }
            )
        )
        html = await page.receive_from(timeout=3)
    assert f'id="msg-{missed.pk}"' in html and f'id="msg-{seen}"' not in html
    assert 'id="conversation-header"' in html
    # The list is drawn again from the top, the newcomer included.
    assert 'id="conversation-results"' in html and f'id="conv-{newcomer.pk}"' in html
    assert 'id="nav-unread"' in html


async def test_a_conversation_just_opened_gets_what_arrived_before_its_view_once(
    tenant, owner, signed_in, inbox, two_conversations
):
    ana, luis = two_conversations
    rendered = await sync_to_async(lambda: ana.messages.latest("created_at").pk)()
    client = await sync_to_async(signed_in)(owner)
    async with socket(client, path=HTML) as page:
        await report(page, conversation=luis.pk, rows=[luis.pk, ana.pk])
        # The server has rendered Ana's conversation for the page; before the page says it
        # shows it, Ana writes: this socket renders her message for Luis's page (row only).
        message = await areceive(inbox, "+14155550111", "¿Me oyen?")
        html = await collect(page, until=f"conv-{ana.pk}")
        assert f'id="msg-{message.pk}"' not in html
        await drain(page)

        await page.send_to(
            text_data=json.dumps(
                {
                    "type": "view",
                    "page": "inbox",
                    "conversation": ana.pk,
                    "rows": [ana.pk, luis.pk],
                    "oldest_message": rendered,
                    "newest_message": rendered,
                    "catch_up": "open",
                }
            )
        )
        html = await collect(page, until=f'id="msg-{message.pk}"')
        assert f"beforeend:#thread[data-conversation-id='{ana.pk}']" in html
        assert f'id="msg-{rendered}"' not in html  # the page has it
        # Seen as it was caught up (the page is visible), as a pushed message is.
        state = await sync_to_async(ReadState.objects.get)(user=owner, conversation=ana)
        assert state.last_read_at >= message.created_at

        # Its event, had it been queued behind the view, adds nothing: the page has it now
        # (Luis's next message marks where that event's fragments end).
        await sync_to_async(publish)(
            tenant, EventType.MESSAGE_CREATED, await sync_to_async(message_payload)(message)
        )
        await areceive(inbox, "+14155550122", "¿Y la mía?")
        html = await collect(page, until="¿Y la mía?")
        assert f'id="msg-{message.pk}"' not in html


async def test_another_tenant_cannot_watch_or_type_into_a_conversation(
    tenant, other_tenant, owner, signed_in, inbox, two_conversations
):
    ana, _ = two_conversations
    from omnichannel.models import Membership

    outsider = await sync_to_async(
        lambda: Membership.objects.get(tenant=other_tenant, role__builtin="owner").user
    )()
    async with (
        socket(await sync_to_async(signed_in)(owner), path=HTML) as mine,
        socket(await sync_to_async(signed_in)(outsider), path=HTML) as theirs,
    ):
        await report(mine, conversation=ana.pk, rows=[ana.pk])
        # Claiming to show the first tenant's conversation gets the outsider nothing…
        await report(theirs, conversation=ana.pk, rows=[ana.pk], oldest_message=1)
        await areceive(inbox, "+14155550111", "Privado")
        assert "Privado" in await collect(mine, until="Privado")
        assert await theirs.receive_nothing(timeout=QUIET)
        await drain(mine)  # the rest of this message's updates (its row, the read mark…)
        # … and their typing signal reaches no one.
        await theirs.send_to(text_data=json.dumps({"type": "typing", "conversation": ana.pk}))
        assert await mine.receive_nothing(timeout=QUIET)


async def test_it_answers_malformed_browser_messages_with_an_error(tenant, owner, signed_in):
    async with socket(await sync_to_async(signed_in)(owner), path=HTML) as page:
        await page.send_to(text_data="not json")
        assert json.loads(await page.receive_from())["error"]["code"] == "bad_message"
        await page.send_to(text_data=json.dumps({"type": "explode"}))
        error = json.loads(await page.receive_from())["error"]
        assert error == {"code": "bad_message", "message": "Unknown message type “explode”."}


async def test_a_message_is_drawn_again_when_its_media_is_fetched(
    tenant, owner, signed_in, inbox, two_conversations
):
    ana, _ = two_conversations
    message = await sync_to_async(_with_pending_attachment)(ana)
    client = await sync_to_async(signed_in)(owner)
    async with socket(client, path=HTML) as page:
        await report(page, conversation=ana.pk, oldest_message=1, newest_message=message.pk)
        await sync_to_async(_fail_fetch)(message)
        html = await collect(page, until=f'id="msg-{message.pk}"')
    assert "could not be fetched: The media URL is not allowed" in html


def _with_pending_attachment(conversation: Conversation) -> Message:
    from inbox.models import Attachment

    message = receive(conversation.inbox, conversation.contact.phone, "Foto")
    Attachment.objects.create(
        tenant=conversation.tenant,
        message=message,
        remote_url="https://media.example/photo.jpg",
        filename="photo.jpg",
    )
    return message


def _fail_fetch(message: Message) -> None:
    from inbox.actions.receive import do_mark_attachment_failed

    do_mark_attachment_failed(
        message.attachments.get(), "The media URL is not allowed: a private address."
    )


def test_the_navigation_counter_stops_at_99_plus(tenant, owner, login, inbox):
    from inbox.queries import UNREAD_COUNT_CAP, unread_conversation_count

    for n in range(UNREAD_COUNT_CAP + 2):
        receive(inbox, f"+1415555{n + 3000:04d}", "Hola")
    assert unread_conversation_count(tenant, owner) == UNREAD_COUNT_CAP
    page = login(owner).get("/inbox/").content.decode()
    assert re.search(r'id="nav-unread" class="nav-badge">99\+<', page)


async def _named_colleague(tenant, make_member, first_name: str):
    colleague = await sync_to_async(make_member)(tenant, "agent")
    colleague.first_name = first_name
    await sync_to_async(colleague.save)()
    return colleague


async def _open(communicator, conversation_id: int) -> str:
    """Report the conversation open; what the socket gets back at once (may be nothing)."""
    await communicator.send_to(
        text_data=json.dumps({"type": "view", "page": "inbox", "conversation": conversation_id})
    )
    if await communicator.receive_nothing(timeout=QUIET):
        return ""
    return await communicator.receive_from()


async def test_agents_see_who_else_is_viewing_the_conversation(
    tenant, owner, signed_in, inbox, two_conversations, make_member
):
    ana, luis = two_conversations
    owner.first_name = "Ana"
    await sync_to_async(owner.save)()
    marta = await _named_colleague(tenant, make_member, "Marta")
    async with (
        socket(await sync_to_async(signed_in)(owner), path=HTML) as mine,
        socket(await sync_to_async(signed_in)(marta), path=HTML) as hers,
    ):
        assert await _open(mine, ana.pk) == ""  # nobody else there yet
        # Marta opens it: she sees Ana already there, and Ana sees her arrive.
        assert "Ana is viewing" in await _open(hers, ana.pk)
        assert "Marta is viewing" in await collect(mine, until='id="presence"')
        # Replying takes precedence over viewing, for that person.
        await hers.send_to(text_data=json.dumps({"type": "typing", "conversation": ana.pk}))
        html = await collect(mine, until='id="presence"')
        assert ">Marta is replying…</p>" in html  # not also "viewing"
        assert 'data-viewing="Marta is viewing"' in html  # once her signals fade
        await hers.send_to(
            text_data=json.dumps({"type": "typing", "conversation": ana.pk, "active": False})
        )
        assert "Marta is viewing" in await collect(mine, until='id="presence"')
        # She moves to another conversation mid-reply: gone from this one, replying too.
        await hers.send_to(text_data=json.dumps({"type": "typing", "conversation": ana.pk}))
        assert "Marta is replying…" in await collect(mine, until='id="presence"')
        await _open(hers, luis.pk)
        html = await collect(mine, until='id="presence"')
        assert re.search(r'id="presence"[^>]*></p>', html)
        # She comes back, then closes the tab.
        await _open(hers, ana.pk)
        assert "Marta is viewing" in await collect(mine, until='id="presence"')
    async with socket(await sync_to_async(signed_in)(owner), path=HTML) as again:
        # Both sockets closed: nobody is left viewing.
        assert await _open(again, ana.pk) == ""


async def test_a_closed_tab_leaves_the_conversation(
    tenant, owner, signed_in, inbox, two_conversations, make_member
):
    ana, _ = two_conversations
    marta = await _named_colleague(tenant, make_member, "Marta")
    async with socket(await sync_to_async(signed_in)(owner), path=HTML) as mine:
        await _open(mine, ana.pk)
        async with socket(await sync_to_async(signed_in)(marta), path=HTML) as hers:
            await _open(hers, ana.pk)
            assert "Marta is viewing" in await collect(mine, until='id="presence"')
        html = await collect(mine, until='id="presence"')
        assert "Marta" not in html


async def test_viewers_of_another_tenant_never_appear_nor_see(
    tenant, other_tenant, owner, signed_in, inbox, two_conversations
):
    ana, _ = two_conversations
    from omnichannel.models import Membership

    outsider = await sync_to_async(
        lambda: Membership.objects.get(tenant=other_tenant, role__builtin="owner").user
    )()
    async with (
        socket(await sync_to_async(signed_in)(owner), path=HTML) as mine,
        socket(await sync_to_async(signed_in)(outsider), path=HTML) as theirs,
    ):
        await _open(mine, ana.pk)
        assert await _open(theirs, ana.pk) == ""  # sees nobody viewing…
        assert await mine.receive_nothing(timeout=QUIET)  # … and nobody sees them


async def test_two_agents_replying_at_once_are_warned(
    tenant, owner, signed_in, inbox, two_conversations, make_member
):
    ana, _ = two_conversations
    owner.first_name = "Ana"
    await sync_to_async(owner.save)()
    marta = await _named_colleague(tenant, make_member, "Marta")
    async with (
        socket(await sync_to_async(signed_in)(owner), path=HTML) as mine,
        socket(await sync_to_async(signed_in)(marta), path=HTML) as hers,
    ):
        await _open(mine, ana.pk)
        await _open(hers, ana.pk)
        await drain(mine)
        await hers.send_to(text_data=json.dumps({"type": "typing", "conversation": ana.pk}))
        await collect(mine, until="Marta is replying")
        # Ana sends while Marta is typing: both are told.
        await sync_to_async(do_send_message)(
            tenant, conversation=ana, body="Ya lo miro yo", acting_user=owner
        )
        html = await collect(mine, until='id="composer-warning"')
        assert "Marta is replying too" in html
        html = await collect(hers, until='id="composer-warning"')
        assert "Ana also replied just now" in html


async def test_a_reply_nobody_else_was_writing_warns_no_one(
    tenant, owner, signed_in, inbox, two_conversations, make_member
):
    ana, _ = two_conversations
    marta = await _named_colleague(tenant, make_member, "Marta")
    async with (
        socket(await sync_to_async(signed_in)(owner), path=HTML) as mine,
        socket(await sync_to_async(signed_in)(marta), path=HTML) as hers,
    ):
        await _open(mine, ana.pk)
        await _open(hers, ana.pk)
        await drain(mine)
        message = await sync_to_async(do_send_message)(
            tenant, conversation=ana, body="Ya lo miro yo", acting_user=owner
        )
        html = await collect(hers, until=f"msg-{message.pk}")
        html += await collect(mine, until=f"msg-{message.pk}")
    assert "composer-warning" not in html


def test_a_status_tick_is_rendered_only_for_sockets_showing_its_conversation(
    tenant, two_conversations
):
    """Other sockets skip it without a trip to the database thread (a batch of callbacks
    brings hundreds of ticks to every socket of the tenant)."""
    from omnichannel.models import Membership
    from omnichannel.realtime import SocketView

    ana, ben = two_conversations
    socket = SocketView(membership=Membership.objects.get(tenant=tenant, role__builtin="owner"))
    socket.update({"page": "inbox", "conversation": ben.pk, "rows": [ana.pk, ben.pk]})
    tick = {"message_id": 1, "conversation_id": ana.pk}

    assert not socket.may_render(EventType.MESSAGE_STATUS_UPDATED, tick)
    assert not socket.may_render(EventType.MESSAGE_UPDATED, {"id": 1, "conversation_id": ana.pk})
    assert socket.may_render(EventType.MESSAGE_CREATED, {"conversation_id": ana.pk})
    socket.update({"page": "inbox", "conversation": ana.pk, "rows": [ana.pk, ben.pk]})
    assert socket.may_render(EventType.MESSAGE_STATUS_UPDATED, tick)
