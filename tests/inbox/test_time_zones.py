"""The inbox reads and takes times in the agent's own zone when they chose one: the thread's
times and days, "Until tomorrow, 09:00", and a snooze time typed by hand."""

import datetime
import json
import re
import zoneinfo

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from inbox.models import Conversation, Message
from omnichannel.channels import Channel
from omnichannel.models import UserPreference
from tests.inbox.api_factories import make_contact, make_conversation, make_inbox, make_message
from tests.inbox.webhook_helpers import receive
from tests.sockets import socket

pytestmark = pytest.mark.clock

HTMX = {"HX-Request": "true"}
AUCKLAND = zoneinfo.ZoneInfo("Pacific/Auckland")


@pytest.fixture
def conversation(tenant, owner):
    tenant.timezone = "America/Mexico_City"
    tenant.save(update_fields=["timezone"])
    UserPreference.objects.update_or_create(user=owner, defaults={"timezone": AUCKLAND.key})
    conversation = make_conversation(make_inbox(tenant), make_contact(tenant, name="Ana"))
    make_message(conversation, direction="in", body="Hola")
    return conversation


@pytest.mark.django_db
def test_the_thread_reads_in_the_agents_own_zone(conversation, owner, login):
    # 03:30 UTC on 5 Dec 2026: 16:30 on Saturday 5 Dec in Auckland, 21:30 on 4 Dec in Mexico.
    instant = datetime.datetime(2026, 12, 5, 3, 30, tzinfo=datetime.UTC)
    message = Message.objects.get(conversation=conversation)
    Message.objects.filter(pk=message.pk).update(created_at=instant)
    Conversation.objects.filter(pk=conversation.pk).update(last_message_at=instant)

    page = login(owner).get(f"/inbox/c/{conversation.pk}/").content.decode()
    assert "Saturday 5 December 2026" in page
    assert re.search(rf'id="msg-{message.pk}".*?>16:30</time>', page, re.S)


@pytest.mark.django_db
def test_snoozing_until_tomorrow_means_nine_where_the_agent_is(conversation, owner, login):
    login(owner).post(f"/inbox/c/{conversation.pk}/snooze/", {"until": "tomorrow"}, headers=HTMX)

    conversation.refresh_from_db()
    tomorrow = timezone.localtime(timezone.now(), AUCKLAND).date() + datetime.timedelta(days=1)
    assert conversation.snoozed_until == datetime.datetime.combine(
        tomorrow, datetime.time(9), tzinfo=AUCKLAND
    )


@pytest.mark.django_db
def test_a_typed_snooze_time_is_read_where_the_agent_is(conversation, owner, login):
    later = timezone.localtime(timezone.now(), AUCKLAND) + datetime.timedelta(days=3)
    typed = later.strftime("%Y-%m-%dT%H:%M")
    login(owner).post(
        f"/inbox/c/{conversation.pk}/snooze/", {"until": "at", "until_at": typed}, headers=HTMX
    )

    conversation.refresh_from_db()
    assert conversation.snoozed_until == later.replace(second=0, microsecond=0)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("private_channel_prefix")
async def test_a_pushed_message_reads_in_the_agents_own_zone(
    tenant, owner, signed_in, twilio_inbox
):
    def setup():
        tenant.timezone = "America/Mexico_City"
        tenant.save(update_fields=["timezone"])
        UserPreference.objects.update_or_create(user=owner, defaults={"timezone": AUCKLAND.key})
        inbox = twilio_inbox(tenant, kind=Channel.SMS)
        first = receive(inbox, "+14155550111", "Hola")
        return inbox, first

    inbox, first = await sync_to_async(setup)()
    client = await sync_to_async(signed_in)(owner)
    async with socket(client, path="/ws/?format=html") as page:
        await page.send_to(
            text_data=json.dumps(
                {
                    "type": "view",
                    "page": "inbox",
                    "conversation": first.conversation_id,
                    "rows": [first.conversation_id],
                    "oldest_message": first.pk,
                    "newest_message": first.pk,
                }
            )
        )
        assert await page.receive_nothing(timeout=0.2)
        message = await sync_to_async(receive)(inbox, "+14155550111", "¿Tienen mesa?")
        html = ""
        while f'id="msg-{message.pk}"' not in html:
            html += await page.receive_from(timeout=10)

    local = timezone.localtime(message.created_at, AUCKLAND)
    bubble = html.split(f'id="msg-{message.pk}"')[1]
    assert re.search(rf">{local:%H:%M}</time>", bubble), bubble[:2000]
