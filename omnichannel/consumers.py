"""The websocket endpoint: an authenticated member joins their tenant's and their own groups.

Browsers (``?format=html``) also report what their page shows, and get each event rendered
for them as htmx fragments (see :mod:`omnichannel.realtime`); other clients get JSON.

Refusals accept the handshake and then close with an application code (4401, 4403): a close
before the handshake becomes a bare HTTP 403 in daphne and uvicorn, and the browser would never
learn why it was turned away (nor stop reconnecting).
"""

import json
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from omnichannel.events import REQUIRED_PERMISSION, EventType, tenant_group, user_group
from omnichannel.models import Membership
from omnichannel.realtime import SocketView
from omnichannel.tenancy import (
    SESSION_KEY,
    choose_membership,
    memberships_for,
    mfa_setup_pending,
)

# Close codes in the 4000-4999 range are the application's own.
CLOSE_UNAUTHENTICATED = 4401
CLOSE_NO_TENANT = 4403


def _usable(membership: Membership | None, user) -> Membership | None:
    """The membership, unless its tenant requires MFA the user has not set up (as on HTTP)."""
    if membership is None or mfa_setup_pending(membership, user):
        return None
    return membership


@database_sync_to_async
def _membership_for(user, session) -> Membership | None:
    wanted = session.get(SESSION_KEY) if session is not None else None
    membership = _usable(choose_membership(user, wanted), user)
    if membership is not None:
        membership.user = user  # rendering for this socket needs the user, not a query
    return membership


@database_sync_to_async
def _current_membership(user, tenant_id: int) -> Membership | None:
    return _usable(memberships_for(user).filter(tenant_id=tenant_id).first(), user)


@database_sync_to_async
def _render(view: SocketView, event_type: str, payload: dict) -> str:
    return view.render(event_type, payload)


@database_sync_to_async
def _zone_name(view: SocketView) -> str:
    return view.zone.key


@database_sync_to_async
def _apply_view(view: SocketView, data: dict) -> list[str]:
    """The groups the page's new view needs."""
    view.update(data)
    return view.groups()


@database_sync_to_async
def _viewed(view: SocketView) -> str:
    """What the page should change now that its view is known (what it missed…)."""
    return view.viewed()


@database_sync_to_async
def _closed(view: SocketView) -> None:
    view.closed()


@database_sync_to_async
def _handle(view: SocketView, kind: str, data: dict) -> bool:
    return view.handle(kind, data)


class EventsConsumer(AsyncWebsocketConsumer):
    """Browsers connect with ``?format=html`` to receive rendered fragments; others get JSON."""

    groups_joined: list[str]

    async def connect(self) -> None:
        self.groups_joined = []
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self._refuse(CLOSE_UNAUTHENTICATED)
            return
        membership = await _membership_for(user, self.scope.get("session"))
        if membership is None:
            await self._refuse(CLOSE_NO_TENANT)
            return
        query = parse_qs(self.scope.get("query_string", b"").decode())
        self.wants_html = query.get("format") == ["html"]
        self.user = user
        self.tenant_id = membership.tenant_id
        self.view = SocketView(membership=membership, cookies=self.scope.get("cookies", {}))
        self.view_groups: list[str] = []
        # Join before accepting, so that nothing published after the handshake is missed.
        for group in (tenant_group(self.tenant_id), user_group(self.tenant_id, user.pk)):
            await self.channel_layer.group_add(group, self.channel_name)
            self.groups_joined.append(group)
        await self.accept()

    async def _refuse(self, code: int) -> None:
        await self.accept()
        await self.close(code=code)

    async def _leave_groups(self) -> None:
        for group in self.groups_joined + getattr(self, "view_groups", []):
            await self.channel_layer.group_discard(group, self.channel_name)
        self.groups_joined = []
        self.view_groups = []

    async def disconnect(self, code: int) -> None:
        await self._leave_groups()
        if hasattr(self, "view"):
            await _closed(self.view)  # refused sockets never had one

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """Browsers say what their page shows (``view``) and send small signals (``typing``)."""
        try:
            data = json.loads(text_data or "")
        except ValueError:
            data = None
        kind = data.get("type") if isinstance(data, dict) else None
        if not self.wants_html:
            await self._send_error("read_only", "Nothing to send.")  # API clients only listen
            return
        if not isinstance(kind, str):
            await self._send_error("bad_message", "Send JSON objects with a type.")
            return
        if kind == "view":
            # Join first: anything published from now on arrives as an event, and what was
            # before is read afterwards, so nothing falls in between.
            await self._watch(await _apply_view(self.view, data))
            missed = await _viewed(self.view)
            if missed:
                await self.send(text_data=missed)
        elif not await _handle(self.view, kind, data):
            await self._send_error("bad_message", f"Unknown message type “{kind[:40]}”.")

    async def _send_error(self, code: str, message: str) -> None:
        await self.send(text_data=json.dumps({"error": {"code": code, "message": message}}))

    async def _watch(self, groups: list[str]) -> None:
        """Follow the groups of the current view (a conversation), leaving the previous ones."""
        for group in set(self.view_groups) - set(groups):
            await self.channel_layer.group_discard(group, self.channel_name)
        for group in set(groups) - set(self.view_groups):
            await self.channel_layer.group_add(group, self.channel_name)
        self.view_groups = list(groups)

    async def _html_in_zone(self, message: dict) -> str:
        by_zone = message.get("html_by_zone")
        if not by_zone:
            return ""
        return by_zone.get(await _zone_name(self.view)) or by_zone.get(
            message.get("default_zone"), ""
        )

    async def centro_event(self, message: dict) -> None:
        if not self.groups_joined:
            return  # Already left (membership revoked); a message may still have been queued.
        if message["event"] == EventType.MEMBERSHIP_CHANGED:
            membership = await _current_membership(self.user, self.tenant_id)
            if membership is None:
                await self._leave_groups()
                await self.close(code=CLOSE_NO_TENANT)
                return
            self.view.rebind(membership)  # the role (what the agent may do) may have changed
        needed = REQUIRED_PERMISSION.get(message["event"])
        if needed is not None and needed not in self.view.membership.role.codenames():
            return
        if self.wants_html:
            html = message.get("html") or await self._html_in_zone(message)
            if not html and self.view.may_render(message["event"], message["payload"]):
                html = await _render(self.view, message["event"], message["payload"])
            if html:
                await self.send(text_data=html)
            return
        await self.send(
            text_data=json.dumps({"type": message["event"], "payload": message["payload"]})
        )
