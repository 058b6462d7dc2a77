"""Rows for the API, report and conversation tests, written straight to the database."""

import itertools
from datetime import timedelta

from django.utils import timezone

from contacts.models import Contact
from inbox.actions.inboxes import do_create_inbox
from inbox.models import Conversation, Delivery, Inbox, Message
from omnichannel.actions import do_create_api_token
from omnichannel.models import Role

_numbers = itertools.count(1000)
ACCOUNT_SID = "AC" + "0123456789abcdef" * 2


def bearer(raw: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def token_for(tenant, role: str = "owner") -> str:
    _, raw = do_create_api_token(
        tenant, name=f"{role} token", role=Role.objects.get(tenant=tenant, builtin=role)
    )
    return raw


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}, body
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    return body["error"]


def make_inbox(tenant, kind: str = "sms", **kwargs) -> Inbox:
    return do_create_inbox(
        tenant,
        kind=kind,
        provider="twilio",
        address=kwargs.pop("address", f"+1415555{next(_numbers):04d}"),
        credentials={"account_sid": ACCOUNT_SID, "auth_token": "s3cr3t-auth-token"},
        **kwargs,
    )


def make_contact(tenant, name: str = "", phone: str | None = None, email: str = "") -> Contact:
    return Contact.objects.create(
        tenant=tenant,
        name=name,
        phone=phone if phone is not None else f"+1415556{next(_numbers):04d}",
        email=email,
    )


def make_conversation(inbox, contact=None, *, minutes_ago: int | None = 5, **fields):
    contact = contact or make_contact(inbox.tenant)
    last = timezone.now() - timedelta(minutes=minutes_ago) if minutes_ago is not None else None
    return Conversation.objects.create(
        tenant=inbox.tenant,
        inbox=inbox,
        contact=contact,
        last_message_at=last,
        **fields,
    )


def make_message(conversation, *, direction="out", status=None, days_ago=0, **fields) -> Message:
    created = timezone.now() - timedelta(days=days_ago)
    if status is None:
        status = Message.Status.RECEIVED if direction == "in" else Message.Status.SENT
    message = Message.objects.create(
        tenant=conversation.tenant,
        conversation=conversation,
        inbox=conversation.inbox,
        direction=direction,
        sender_type=fields.pop("sender_type", "contact" if direction == "in" else "agent"),
        status=status,
        body=fields.pop("body", "Hola"),
        created_at=created,
        **fields,
    )
    if direction == "out" and not message.is_private:
        Delivery.objects.create(
            tenant=conversation.tenant,
            message=message,
            inbox=conversation.inbox,
            provider="twilio",
            recipient=conversation.contact.phone,
            status=status,
            created_at=created,
        )
    return message
