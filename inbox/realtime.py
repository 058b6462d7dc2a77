"""The inbox page kept live: each socket gets events rendered for its agent and page.

- a new message joins the open thread and moves its row to where the list's order puts it;
- status callbacks replace the message's ticks;
- conversation changes (assignment, status, labels, priority) update the row (or take it out
  of a view it no longer belongs to) and the open conversation's header;
- unread changes update the row and the navigation's unread counter;
- agents typing in a conversation show "… is replying" to the others looking at it, and
  agents with it open "… is viewing"; two agents replying at once are warned in the composer;
- a page whose thread was just rendered (loaded, or another conversation opened: ``catch_up``
  "open") gets the messages and ticks newer than it reports, each message once: until its
  report they were rendered for what it showed before; a socket that reconnects
  ("reconnect") also gets its header, list and counter again.

Fragments are out-of-band swaps of the partials the views render (ids in ``inbox/views.py``).
"""

import time
from datetime import datetime

from django.core.cache import cache
from django.db.models import Q
from django.http import QueryDict
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.html import escape

from inbox.actions.provider_signals import do_relay_agent_typing
from inbox.models import Conversation, Message
from inbox.queries import (
    EPOCH,
    ListFilters,
    attach_search_highlights,
    conversation_list_for_agent,
    conversations_for_page,
    filter_rows,
    labels_prefetch,
    message_for_thread,
    parse_filters,
    rows_for_agent,
    unread_conversation_count,
)
from inbox.rendering import (
    header_context,
    permissions_for,
    render_piece,
    starts_new_day,
)
from omnichannel.events import EventType, conversation_group, publish
from omnichannel.realtime import SocketView, handles, on_close, on_view, renders, watches

INBOX_PAGE = "inbox"
CATCH_UP_LIMIT = 100
TYPING_NAME_LENGTH = 60
# The browser repeats its signal every 3 s while the agent types (static/inbox/inbox.js).
TYPING_TTL = 8
# A socket says when it leaves a conversation (or closes): this only bounds how long a server
# that died without saying so leaves its agents "viewing".
VIEWING_TTL = 12 * 3600


def _filters(socket: SocketView) -> ListFilters:
    return parse_filters(QueryDict(socket.list_query))


def _on_inbox(socket: SocketView) -> bool:
    return socket.page == INBOX_PAGE and "conversations.view" in socket.membership.role.codenames()


def _viewed(socket: SocketView, conversation_id: int) -> Conversation | None:
    """The open conversation, when it is ``conversation_id`` (and the tenant's)."""
    if not _on_inbox(socket) or socket.conversation_id != conversation_id:
        return None
    return conversations_for_page(socket.tenant, socket.user).filter(pk=conversation_id).first()


# --- the list -----------------------------------------------------------------------------------


def _order_key(last_message_at: datetime | None, pk: int) -> tuple:
    """Sorts like the list (latest activity first, never-active last, then newest id)."""
    return (last_message_at is not None, last_message_at or EPOCH, pk)


def _row_html(socket: SocketView, row: Conversation, *, oob: bool) -> str:
    context = {
        "row": row,
        "oob": oob,
        "list_query": socket.list_query,
        "current_id": socket.conversation_id,
    }
    return render_piece(socket.request, "conversation-row", context)


def _forget(socket: SocketView, conversation_id: int) -> None:
    socket.rows = [pk for pk in socket.rows if pk != conversation_id]
    socket.pinned = [pk for pk in socket.pinned if pk != conversation_id]


def _row_fragments(socket: SocketView, conversation_id: int) -> str:
    """The row where the list now wants it: replaced in place, moved, added or taken out."""
    if not _on_inbox(socket):
        return ""
    filters = _filters(socket)
    shown = conversation_id in socket.rows or conversation_id in socket.pinned
    rows = rows_for_agent(socket.tenant, socket.user).prefetch_related(labels_prefetch())
    row = filter_rows(rows, socket.tenant, socket.user, filters).filter(pk=conversation_id).first()
    if row is None:
        if not shown:
            return ""
        if conversation_id == socket.conversation_id:
            row = rows.filter(pk=conversation_id).first()
            if row is None:
                return ""
            if filters.shows_status(row.status):
                # The agent is looking at it: keep it in place, updated, until they move on.
                return _row_html(socket, row, oob=True)
            # Closed or snoozed (by them or anyone): a list of open conversations loses it now.
        _forget(socket, conversation_id)
        return f'<li id="conv-{conversation_id}" hx-swap-oob="delete"></li>'
    attach_search_highlights(socket.tenant, [row], filters.q)
    in_place = _row_html(socket, row, oob=True)
    if row.is_pinned or filters.q or not socket.first_page:
        # Pinned rows, search results and deeper pages keep their place; only updates.
        return in_place if shown else ""
    if conversation_id in socket.pinned:
        return in_place  # unpinned elsewhere: the next reload puts it in the list
    others = [pk for pk in socket.rows if pk != conversation_id]
    keys = dict(
        Conversation.objects.filter(tenant=socket.tenant, pk__in=others).values_list(
            "pk", "last_message_at"
        )
    )
    mine = _order_key(row.last_message_at, row.pk)
    following = next((pk for pk in others if pk in keys and _order_key(keys[pk], pk) < mine), None)
    if shown:
        index = socket.rows.index(conversation_id)
        after = socket.rows[index + 1] if index + 1 < len(socket.rows) else None
        if after == following:
            return in_place
    fresh = _row_html(socket, row, oob=False)
    removal = f'<li id="conv-{conversation_id}" hx-swap-oob="delete"></li>' if shown else ""
    _forget(socket, conversation_id)
    if following is not None:
        socket.rows.insert(socket.rows.index(following), conversation_id)
        return f'{removal}<ul hx-swap-oob="beforebegin:#conv-{following}">{fresh}</ul>'
    if socket.has_more:
        return removal  # it belongs further down, on a page not loaded yet
    socket.rows.append(conversation_id)
    return f'{removal}<ul hx-swap-oob="beforeend:#conversation-list">{fresh}</ul>'


def _nav_unread(socket: SocketView) -> str:
    count = unread_conversation_count(socket.tenant, socket.user)
    return render_to_string("inbox/nav_unread.html", {"inbox_unread": count})


# --- events -------------------------------------------------------------------------------------


def _into_thread(conversation: Conversation, pieces: str) -> str:
    """Appended to the conversation's thread, if the page still shows it: a page that moved
    on before this arrived drops it (centro-push) instead of showing it in another one."""
    target = f"#thread[data-conversation-id='{conversation.pk}']"
    return f'<ol hx-swap-oob="beforeend:{target}">{pieces}</ol>'


def _append_message(socket: SocketView, conversation: Conversation, message_id: int) -> str:
    if message_id in socket.sent_messages:
        return ""  # a catch-up sent it already
    message = message_for_thread(conversation, message_id)
    context = {
        "message": message,
        "new_day": starts_new_day(socket.request, message),
        "conversation": conversation,
        "list_query": socket.list_query,
        **permissions_for(socket.request),
    }
    piece = render_piece(socket.request, "message", context)
    socket.newest_message_id = max(socket.newest_message_id or 0, message.pk)
    socket.sent_messages.add(message.pk)
    return _into_thread(conversation, piece)


@renders(EventType.MESSAGE_CREATED)
def message_created(socket: SocketView, payload: dict) -> str:
    conversation_id = payload["conversation_id"]
    inbound = payload["direction"] == Message.Direction.INBOUND and not payload["is_private"]
    fragments = []
    conversation = _viewed(socket, conversation_id)
    if conversation is not None:
        fragments.append(_append_message(socket, conversation, payload["id"]))
        fragments.append(_collision_warning(socket, payload))
        if inbound and socket.visible:
            from inbox.actions.read_state import do_mark_read

            do_mark_read(conversation, socket.user)  # seen as it arrives
    fragments.append(_row_fragments(socket, conversation_id))
    if inbound and "conversations.view" in socket.membership.role.codenames():
        fragments.append(_nav_unread(socket))
    return "".join(fragments)


def _shows_conversation_of(socket: SocketView, payload: dict) -> bool:
    return socket.conversation_id == payload["conversation_id"]


@renders(EventType.MESSAGE_STATUS_UPDATED, when=_shows_conversation_of)
def message_status_updated(socket: SocketView, payload: dict) -> str:
    message_id = payload["message_id"]
    if socket.oldest_message_id is not None and message_id < socket.oldest_message_id:
        return ""  # an earlier message than the page shows
    conversation = _viewed(socket, payload["conversation_id"])
    if conversation is None:
        return ""
    newer = socket.newest_message_id is None or message_id > socket.newest_message_id
    if newer and message_id not in socket.sent_messages:
        # Its status can overtake the message itself (a fast provider, a busy socket):
        # the whole message then, with its current ticks (the page keeps the first copy).
        return _append_message(socket, conversation, message_id)
    message = Message.objects.filter(conversation=conversation, pk=message_id).first()
    if message is None or message.is_private or message.direction != Message.Direction.OUTBOUND:
        return ""
    return _status_html(socket, conversation, message)


@renders(EventType.MESSAGE_UPDATED, when=_shows_conversation_of)
def message_updated(socket: SocketView, payload: dict) -> str:
    """A message on the page changed (its media arrived): drawn again in place."""
    message_id = payload["id"]
    oldest, newest = socket.oldest_message_id, socket.newest_message_id
    if oldest is None or newest is None or not oldest <= message_id <= newest:
        return ""
    conversation = _viewed(socket, payload["conversation_id"])
    if conversation is None:
        return ""
    context = {
        "message": message_for_thread(conversation, message_id),
        "new_day": False,
        "conversation": conversation,
        "list_query": socket.list_query,
        **permissions_for(socket.request),
    }
    return render_piece(socket.request, "message", context)


def _status_html(socket: SocketView, conversation: Conversation, message: Message) -> str:
    context = {
        "message": message,
        "conversation": conversation,
        "list_query": socket.list_query,
        "oob": True,
        **permissions_for(socket.request),
    }
    return render_piece(socket.request, "message-status", context)


@renders(EventType.CONVERSATION_UPDATED)
def conversation_updated(socket: SocketView, payload: dict) -> str:
    conversation_id = payload["id"]
    fragments = [_row_fragments(socket, conversation_id)]
    conversation = _viewed(socket, conversation_id)
    if conversation is not None:
        context = header_context(socket.request, conversation, _filters(socket))
        fragments.append(render_piece(socket.request, "conversation-header", context))
    if "assignee_id" in payload.get("changed", ()) or "status" in payload.get("changed", ()):
        fragments.append(_nav_unread(socket) if _on_inbox(socket) else "")
    return "".join(fragments)


@renders(EventType.CONVERSATION_DELETED)
def conversation_deleted(socket: SocketView, payload: dict) -> str:
    """Someone deleted a conversation: its row leaves the list and, for an agent looking at
    it, the conversation gives way to a notice."""
    if not _on_inbox(socket):
        return ""
    conversation_id = payload["id"]
    fragments = []
    if conversation_id in socket.rows or conversation_id in socket.pinned:
        _forget(socket, conversation_id)
        fragments.append(f'<li id="conv-{conversation_id}" hx-swap-oob="delete"></li>')
    if socket.conversation_id == conversation_id:
        fragments.append(render_piece(socket.request, "detail-deleted", {"oob": True}))
    fragments.append(_nav_unread(socket))
    return "".join(fragments)


@renders(EventType.UNREAD_UPDATED)
def unread_updated(socket: SocketView, payload: dict) -> str:
    conversation_id = payload.get("conversation_id")
    fragments = [_row_fragments(socket, conversation_id)] if conversation_id else []
    fragments.append(_nav_unread(socket))
    return "".join(fragments)


# --- presence: typing, viewing, replying at once -------------------------------------------------


@watches
def conversation_groups(socket: SocketView) -> list[str]:
    """The open conversation's group (typing); only for a conversation of the tenant."""
    if not _on_inbox(socket) or socket.conversation_id is None:
        return []
    exists = Conversation.objects.filter(tenant=socket.tenant, pk=socket.conversation_id).exists()
    return [conversation_group(socket.tenant.pk, socket.conversation_id)] if exists else []


@handles("typing")
def typing(socket: SocketView, data: dict) -> None:
    """The agent is typing a reply in the open conversation (``active`` false: stopped)."""
    conversation = _viewed(socket, socket.conversation_id or 0)
    if conversation is None or data.get("conversation") != conversation.pk:
        return
    if "conversations.reply" not in socket.membership.role.codenames():
        return
    active = data.get("active", True) is not False
    user = socket.user
    name = _agent_name(user)
    _remember_typing(socket.tenant.pk, conversation.pk, user.pk, name if active else None)
    publish(
        socket.tenant,
        EventType.TYPING_STARTED if active else EventType.TYPING_STOPPED,
        {"conversation_id": conversation.pk, "user_id": user.pk, "name": name},
        conversation=conversation,
    )
    do_relay_agent_typing(conversation, active=active)


def _agent_name(user) -> str:
    return (user.get_full_name() or user.email.split("@")[0])[:TYPING_NAME_LENGTH]


def _typing_key(tenant_id: int, conversation_id: int) -> str:
    return f"inbox:typing:{tenant_id}:{conversation_id}"


def _typing_now(tenant_id: int, conversation_id: int) -> dict[int, str]:
    """Who is typing in the conversation right now (signals younger than TYPING_TTL)."""
    typers = cache.get(_typing_key(tenant_id, conversation_id)) or {}
    now = time.time()
    return {user_id: name for user_id, (name, until) in typers.items() if until > now}


def _remember_typing(tenant_id: int, conversation_id: int, user_id: int, name: str | None) -> None:
    """So that an agent opening the conversation sees who is already replying. (Two signals
    at once may lose one; the next, seconds later, restores it.)"""
    key = _typing_key(tenant_id, conversation_id)
    typers = cache.get(key) or {}
    if name is None:
        typers.pop(user_id, None)
    else:
        typers[user_id] = (name, time.time() + TYPING_TTL)
    cache.set(key, typers, TYPING_TTL)


def _other_agent_here(socket: SocketView, payload: dict) -> bool:
    return (
        payload["conversation_id"] == socket.conversation_id
        and payload["user_id"] != socket.user.pk
    )


@renders(EventType.TYPING_STARTED)
def typing_started(socket: SocketView, payload: dict) -> str:
    if not _other_agent_here(socket, payload):
        return ""
    socket.typing[payload["user_id"]] = payload["name"]
    return _presence(socket)


@renders(EventType.TYPING_STOPPED)
def typing_stopped(socket: SocketView, payload: dict) -> str:
    if not _other_agent_here(socket, payload) or payload["user_id"] not in socket.typing:
        return ""
    del socket.typing[payload["user_id"]]
    return _presence(socket)


@renders(EventType.CONTACT_TYPING)
def contact_typing(socket: SocketView, payload: dict) -> str:
    """The contact is typing (their channel says so) in the conversation this agent views."""
    if _viewed(socket, payload["conversation_id"]) is None:
        return ""
    text = f"{escape(payload['name'])} is typing…" if payload.get("typing") else ""
    return f'<p id="contact-typing" class="presence" role="status" aria-live="polite">{text}</p>'


def _viewing_key(tenant_id: int, conversation_id: int) -> str:
    return f"inbox:viewing:{tenant_id}:{conversation_id}"


def _start_viewing(socket: SocketView, conversation: Conversation) -> dict[int, str]:
    """Records this socket (not only its user: she may have it open in two tabs) as viewing
    the conversation, tells the others there, and returns everyone viewing it (user id: name).
    (Two sockets arriving at once may lose one, as typing signals may: it reappears when that
    agent next opens the conversation.)"""
    key = _viewing_key(socket.tenant.pk, conversation.pk)
    sockets = cache.get(key) or {}
    sockets[socket.key] = (socket.user.pk, _agent_name(socket.user))
    cache.set(key, sockets, VIEWING_TTL)
    return _announce_viewers(socket, conversation, sockets)


def _stop_viewing(socket: SocketView, conversation_id: int) -> None:
    """The socket left the conversation (opened another, left the page, closed)."""
    key = _viewing_key(socket.tenant.pk, conversation_id)
    sockets = cache.get(key) or {}
    if sockets.pop(socket.key, None) is None:
        return
    cache.set(key, sockets, VIEWING_TTL)
    if socket.user.pk not in dict(sockets.values()):
        # Gone before their browser could say they stopped typing (the page unloading).
        _remember_typing(socket.tenant.pk, conversation_id, socket.user.pk, None)
    conversation = Conversation.objects.filter(tenant=socket.tenant, pk=conversation_id).first()
    if conversation is not None:
        _announce_viewers(socket, conversation, sockets)


def _announce_viewers(
    socket: SocketView, conversation: Conversation, sockets: dict[str, tuple[int, str]]
) -> dict[int, str]:
    viewers = dict(sockets.values())
    payload = {"conversation_id": conversation.pk, "viewers": list(viewers.items())}
    publish(socket.tenant, EventType.VIEWERS_CHANGED, payload, conversation=conversation)
    return viewers


@renders(EventType.VIEWERS_CHANGED)
def viewers_changed(socket: SocketView, payload: dict) -> str:
    if not _on_inbox(socket) or payload["conversation_id"] != socket.conversation_id:
        return ""
    viewers = {user_id: name for user_id, name in payload["viewers"] if user_id != socket.user.pk}
    if viewers == socket.viewers:
        return ""  # its own arrival, or another tab of someone already there
    socket.viewers = viewers
    # Someone who left is not replying here any more, whatever their last typing signal said.
    socket.typing = {user_id: name for user_id, name in socket.typing.items() if user_id in viewers}
    return _presence(socket)


@on_close
def socket_closed(socket: SocketView) -> None:
    """A closed tab (or a dropped connection) no longer views its conversation."""
    if socket.conversation_id is not None:
        _stop_viewing(socket, socket.conversation_id)


def _collision_warning(socket: SocketView, payload: dict) -> str:
    """Two agents replying to the contact at once, in the composer of the agent looking at it.

    The rule: a reply (outbound, not a private note) by an agent
    - warns that agent when another agent was typing in the conversation (a typing signal
      younger than TYPING_TTL, so within the last few seconds): "Luis is replying too";
    - warns every other agent who was typing there then: "Ana also replied just now".
    """
    author_id = payload.get("author_id")
    outbound = payload["direction"] == Message.Direction.OUTBOUND
    if author_id is None or not outbound or payload["is_private"]:
        return ""
    typers = _typing_now(socket.tenant.pk, payload["conversation_id"])
    if author_id == socket.user.pk:
        others = [name for user_id, name in typers.items() if user_id != author_id]
        text = _sentence(others, "is replying too", "are replying too")
    elif socket.user.pk in typers:
        members = socket.tenant.memberships.select_related("user")
        author = members.filter(user_id=author_id).first()
        name = _agent_name(author.user) if author is not None else "Another agent"
        text = f"{escape(name)} also replied just now"
    else:
        return ""
    if not text:
        return ""
    return (
        f'<p id="composer-warning" class="composer-warning" role="alert" hx-swap-oob="true">'
        f"{text}</p>"
    )


def _sentence(names: list[str], one: str, many: str) -> str:
    """ "Ana is viewing", "Ana and Luis are viewing", "Ana, Luis and Marta are viewing"."""
    if not names:
        return ""
    if len(names) == 1:
        return f"{escape(names[0])} {one}"
    return f"{escape(', '.join(names[:-1]))} and {escape(names[-1])} {many}"


def _presence(socket: SocketView) -> str:
    """Who else is replying and who else is viewing, each person once (replying wins).
    ``data-viewing`` is what the line says once the replying fades (static/inbox/inbox.js):
    the typing signals stop coming when an agent stops typing, not when they leave."""
    replying = list(socket.typing.values())
    viewing = [name for user_id, name in socket.viewers.items() if user_id not in socket.typing]
    parts = (
        _sentence(replying, "is replying…", "are replying…"),
        _sentence(viewing, "is viewing", "are viewing"),
    )
    text = " · ".join(part for part in parts if part)
    after = _sentence(list(socket.viewers.values()), "is viewing", "are viewing")
    return (
        f'<p id="presence" class="presence" role="status" aria-live="polite"'
        f' data-viewing="{after}">{text}</p>'
    )


# --- reconnecting -------------------------------------------------------------------------------


@on_view
def view_changed(socket: SocketView) -> str:
    """The row of the conversation the agent just left, when it no longer belongs in the
    list; who else is there, for a conversation just opened (and, for the others in the one
    left or entered, who is viewing it now); and, once connected, what the page missed."""
    if socket.entered_conversation and socket.left_conversation_id is not None:
        _stop_viewing(socket, socket.left_conversation_id)
    if not _on_inbox(socket):
        return ""
    fragments = ""
    left = socket.left_conversation_id
    if left is not None and (left in socket.rows or left in socket.pinned):
        fragments = _row_fragments(socket, left)
    if socket.entered_conversation and socket.conversation_id is not None:
        socket.typing = {
            user_id: name
            for user_id, name in _typing_now(socket.tenant.pk, socket.conversation_id).items()
            if user_id != socket.user.pk
        }
        conversation = _viewed(socket, socket.conversation_id)
        if conversation is not None:
            viewers = _start_viewing(socket, conversation)
            socket.viewers = {
                user_id: name for user_id, name in viewers.items() if user_id != socket.user.pk
            }
        if socket.typing or socket.viewers:
            fragments += _presence(socket)
    if socket.catch_up:
        fragments += _catch_up(socket)
    return fragments


def _catch_up(socket: SocketView) -> str:
    """What a page missed: the thread's new messages and ticks (since the page was rendered,
    or while it was offline) and, after a reconnection, its header, list and counter."""
    conversation = None
    if socket.conversation_id is not None:
        conversation = _viewed(socket, socket.conversation_id)
    fragments = [_thread_catch_up(socket, conversation)] if conversation is not None else []
    if socket.catch_up != "reconnect":
        return "".join(fragments)
    filters = _filters(socket)
    if conversation is not None:
        context = header_context(socket.request, conversation, filters)
        fragments.append(render_piece(socket.request, "conversation-header", context))
    if socket.first_page:
        pinned, page = conversation_list_for_agent(socket.tenant, socket.user, filters=filters)
        attach_search_highlights(socket.tenant, pinned + page.items, filters.q)
        context = {
            "filters": filters,
            "list_query": socket.list_query,
            "pinned": pinned,
            "page": page,
            "current_id": socket.conversation_id,
        }
        fragments.append(render_piece(socket.request, "conversation-results", context))
        socket.pinned = [row.pk for row in pinned]
        socket.rows = [row.pk for row in page.items]
        socket.has_more = page.next_cursor is not None
    fragments.append(_nav_unread(socket))
    return "".join(fragments)


def _thread_catch_up(socket: SocketView, conversation: Conversation) -> str:
    newest = socket.newest_message_id or 0
    oldest = socket.oldest_message_id or newest
    messages = list(
        Message.objects.filter(conversation=conversation)
        .filter(Q(pk__gt=newest) | Q(pk__gte=oldest, direction=Message.Direction.OUTBOUND))
        .select_related("author")
        .prefetch_related("attachments")
        .defer("search_vector")
        .order_by("created_at", "id")[: CATCH_UP_LIMIT * 2]
    )
    fragments = []
    new = []
    for message in messages:
        if message.pk > newest:
            new.append(message)
        elif not message.is_private:
            fragments.append(_status_html(socket, conversation, message))
    context = {
        "conversation": conversation,
        "list_query": socket.list_query,
        **permissions_for(socket.request),
    }
    pieces = []
    new = new[:CATCH_UP_LIMIT]
    days = [timezone.localtime(message.created_at).date() for message in new]
    for index, message in enumerate(new):
        if index == 0:
            new_day = starts_new_day(socket.request, message)
        else:
            new_day = days[index] != days[index - 1]
        context = {**context, "message": message, "new_day": new_day}
        pieces.append(render_piece(socket.request, "message", context))
    # The page's thread holds what it reported plus these: the events of these, queued
    # behind the view, must not add them again.
    socket.sent_messages = {message.pk for message in new}
    if pieces:
        fragments.append(_into_thread(conversation, "".join(pieces)))
        socket.newest_message_id = new[-1].pk
    if socket.visible and any(_seen_as_it_arrives(message) for message in new):
        from inbox.actions.read_state import do_mark_read

        do_mark_read(conversation, socket.user)  # as for a message pushed into the thread
    return "".join(fragments)


def _seen_as_it_arrives(message: Message) -> bool:
    return message.direction == Message.Direction.INBOUND and not message.is_private
