"""Two per-contact hourly limits: automated sends (the API, notifications, an agent writing
first) keep the hourly limit; an agent replying to a contact who wrote within the hour has the
higher limit for conversation replies."""

from datetime import timedelta

import pytest
from django.utils import timezone

from inbox.actions.send import contact_reply_hourly_limit, do_send_message
from inbox.models import Message
from omnichannel.actions import ActionError
from omnichannel.models import AuditEvent
from tests.inbox.api_factories import (
    assert_error,
    bearer,
    make_contact,
    make_conversation,
    make_inbox,
    token_for,
)

pytestmark = [pytest.mark.django_db, pytest.mark.clock]

HTMX = {"HX-Request": "true"}


@pytest.fixture
def limits(tenant, settings):
    """Ten automated sends an hour (the platform default), fifteen conversation replies."""
    settings.INBOX_CONTACT_HOURLY_LIMIT = 10
    tenant.contact_reply_hourly_limit = 15
    tenant.save()
    return tenant


def written_minutes_ago(tenant, minutes: int):
    """A conversation whose contact last wrote ``minutes`` ago."""
    return make_conversation(
        make_inbox(tenant),
        make_contact(tenant, name="Ana"),
        last_inbound_at=timezone.now() - timedelta(minutes=minutes),
    )


def reply_url(conversation) -> str:
    return f"/inbox/c/{conversation.pk}/messages/"


def test_an_agents_eleventh_reply_in_the_inbox_goes_out(limits, owner, login):
    conversation = written_minutes_ago(limits, 5)
    client = login(owner)

    for n in range(11):
        response = client.post(reply_url(conversation), {"body": f"Reply {n}"}, headers=HTMX)
        assert response.status_code == 200, response.content.decode()

    assert Message.objects.filter(conversation=conversation, author=owner).count() == 11


def test_the_reply_limit_itself_is_enforced(limits, owner):
    conversation = written_minutes_ago(limits, 5)
    for n in range(15):
        do_send_message(limits, conversation=conversation, body=f"#{n}", acting_user=owner)

    with pytest.raises(ActionError) as caught:
        do_send_message(limits, conversation=conversation, body="#16", acting_user=owner)

    assert caught.value.code == "rate_limited"
    assert "15 replies in the last hour" in caught.value.message
    assert 3500 <= caught.value.retry_after <= 3600


def test_an_agent_writing_to_a_contact_who_has_not_written_within_the_hour_is_limited(
    limits, owner
):
    conversation = written_minutes_ago(limits, 61)
    for n in range(10):
        do_send_message(limits, conversation=conversation, body=f"#{n}", acting_user=owner)

    with pytest.raises(ActionError, match="10 messages in the last hour"):
        do_send_message(limits, conversation=conversation, body="#11", acting_user=owner)


def test_api_replies_keep_the_hourly_limit(limits, client):
    conversation = written_minutes_ago(limits, 5)
    raw = token_for(limits)
    url = f"/api/v1/conversations/{conversation.pk}/messages"

    for n in range(10):
        response = client.post(
            url, data={"body": f"#{n}"}, content_type="application/json", **bearer(raw)
        )
        assert response.status_code == 201, response.content
    response = client.post(
        url, data={"body": "#11"}, content_type="application/json", **bearer(raw)
    )

    assert_error(response, 429, "rate_limited")


def test_system_sends_keep_the_hourly_limit(limits):
    conversation = written_minutes_ago(limits, 5)
    for n in range(10):
        do_send_message(
            limits, conversation=conversation, body=f"#{n}", sender_type=Message.SenderType.SYSTEM
        )

    with pytest.raises(ActionError, match="10 messages in the last hour"):
        do_send_message(
            limits, conversation=conversation, body="#11", sender_type=Message.SenderType.SYSTEM
        )


def test_replies_are_never_limited_below_the_hourly_limit(tenant, settings):
    settings.INBOX_CONTACT_HOURLY_LIMIT = 10
    settings.INBOX_CONTACT_REPLY_HOURLY_LIMIT = 60
    inbox = make_inbox(tenant)
    assert contact_reply_hourly_limit(inbox) == 60

    inbox.settings = {**inbox.settings, "contact_hourly_limit": 100}
    assert contact_reply_hourly_limit(inbox) == 100

    inbox.settings = {**inbox.settings, "contact_hourly_limit": 0}  # no limit in this inbox
    assert contact_reply_hourly_limit(inbox) == 0


# --- the tenant setting ---------------------------------------------------------------------


GENERAL = {"name": "Acme", "timezone": "UTC", "default_region": "US"}


def test_an_admin_sets_the_reply_limit_in_general_settings_and_it_is_audited(tenant, owner, login):
    client = login(owner)
    page = client.get("/settings/general/").content.decode()
    assert 'name="contact_reply_hourly_limit"' in page

    response = client.post("/settings/general/", GENERAL | {"contact_reply_hourly_limit": "40"})

    assert response.status_code == 302
    tenant.refresh_from_db()
    assert tenant.contact_reply_hourly_limit == 40
    event = AuditEvent.objects.get(action=AuditEvent.Action.TENANT_SETTINGS_CHANGED)
    assert event.data["changed"]["contact_reply_hourly_limit"] == [None, 40]


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"contact_reply_hourly_limit": "0"}, "greater than or equal to 1"),
        ({"contact_reply_hourly_limit": "10001"}, "less than or equal to 10000"),
        (
            {"contact_hourly_limit": "20", "contact_reply_hourly_limit": "5"},
            "at least the messages per contact per hour (20)",
        ),
    ],
)
def test_the_reply_limit_is_validated(tenant, owner, login, fields, words):
    response = login(owner).post("/settings/general/", GENERAL | fields, follow=True)

    assert response.status_code == 400
    assert words in response.content.decode()
    tenant.refresh_from_db()
    assert tenant.contact_reply_hourly_limit is None
