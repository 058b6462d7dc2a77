"""The websocket endpoint: an authenticated member joins their tenant's and their own groups.

Refusals accept the handshake and then close with an application code (4401, 4403): a close
before the handshake becomes a bare HTTP 403 in daphne and uvicorn, and the browser would never
learn why it was turned away (nor stop reconnecting).
"""

import json
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from omnichannel.events import EventType, tenant_group, user_group
from omnichannel.models import Membership
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
    return _usable(choose_membership(user, wanted), user)


@database_sync_to_async
def _still_member(user, tenant_id: int) -> bool:
    return _usable(memberships_for(user).filter(tenant_id=tenant_id).first(), user) is not None


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
        # Join before accepting, so that nothing published after the handshake is missed.
        for group in (tenant_group(self.tenant_id), user_group(self.tenant_id, user.pk)):
            await self.channel_layer.group_add(group, self.channel_name)
            self.groups_joined.append(group)
        await self.accept()

    async def _refuse(self, code: int) -> None:
        await self.accept()
        await self.close(code=code)

    async def _leave_groups(self) -> None:
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)
        self.groups_joined = []

    async def disconnect(self, code: int) -> None:
        await self._leave_groups()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        # Clients only listen for now; anything they send is answered with an error, not ignored.
        await self.send(
            text_data=json.dumps({"error": {"code": "read_only", "message": "Nothing to send."}})
        )

    async def centro_event(self, message: dict) -> None:
        if not self.groups_joined:
            return  # Already left (membership revoked); a message may still have been queued.
        if message["event"] == EventType.MEMBERSHIP_CHANGED and not await _still_member(
            self.user, self.tenant_id
        ):
            await self._leave_groups()
            await self.close(code=CLOSE_NO_TENANT)
            return
        if self.wants_html:
            if message.get("html"):
                await self.send(text_data=message["html"])
            return
        await self.send(
            text_data=json.dumps({"type": message["event"], "payload": message["payload"]})
        )
