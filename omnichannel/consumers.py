"""The websocket endpoint: an authenticated member joins their tenant's and their own groups."""

import json
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from omnichannel.events import tenant_group, user_group
from omnichannel.models import Membership
from omnichannel.tenancy import SESSION_KEY

# Close codes in the 4000-4999 range are the application's own.
CLOSE_UNAUTHENTICATED = 4401
CLOSE_NO_TENANT = 4403


@database_sync_to_async
def _membership_for(user, session) -> Membership | None:
    memberships = Membership.objects.filter(user=user, tenant__is_active=True).select_related(
        "tenant"
    )
    wanted = session.get(SESSION_KEY) if session is not None else None
    if wanted:
        return memberships.filter(tenant_id=wanted).first()
    return memberships.order_by("tenant__name").first()


class EventsConsumer(AsyncWebsocketConsumer):
    """Browsers connect with ``?format=html`` to receive rendered fragments; others get JSON."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        membership = await _membership_for(user, self.scope.get("session"))
        if membership is None:
            await self.close(code=CLOSE_NO_TENANT)
            return
        query = parse_qs(self.scope.get("query_string", b"").decode())
        self.wants_html = query.get("format") == ["html"]
        self.groups_joined = [
            tenant_group(membership.tenant_id),
            user_group(membership.tenant_id, user.pk),
        ]
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        # Clients only listen for now; anything they send is answered with an error, not ignored.
        await self.send(
            text_data=json.dumps({"error": {"code": "read_only", "message": "Nothing to send."}})
        )

    async def centro_event(self, message: dict) -> None:
        if self.wants_html:
            if message.get("html"):
                await self.send(text_data=message["html"])
            return
        await self.send(
            text_data=json.dumps({"type": message["event"], "payload": message["payload"]})
        )
