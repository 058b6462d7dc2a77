from datetime import timedelta

import pytest
from django.utils import timezone

from inbox.models import Conversation, Message
from tests.inbox.api_factories import (
    assert_error,
    bearer,
    make_contact,
    make_conversation,
    make_inbox,
    make_message,
    token_for,
)

pytestmark = [pytest.mark.django_db, pytest.mark.clock]


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["items"]]


def test_it_lists_conversations_most_recent_first_with_never_messaged_last(
    client, tenant, api_token
):
    inbox = make_inbox(tenant)
    old = make_conversation(inbox, minutes_ago=60)
    new = make_conversation(inbox, minutes_ago=1)
    silent = make_conversation(inbox, minutes_ago=None)
    response = client.get("/api/v1/conversations", **bearer(api_token))
    assert ids(response) == [new.pk, old.pk, silent.pk]
    item = response.json()["items"][0]
    assert item["channel"] == "sms" and item["status"] == "open" and item["priority"] == "none"
    assert item["inbox"] == {
        "id": inbox.pk,
        "name": inbox.name,
        "channel": "sms",
        "address": inbox.address,
    }
    assert item["contact"]["phone"] == new.contact.phone
    assert item["assignee"] is None
    assert response.json()["next_cursor"] is None


def test_it_pages_through_conversations_with_an_opaque_cursor(client, tenant, api_token):
    inbox = make_inbox(tenant)
    moment = timezone.now()
    expected = []
    # Ties on last_message_at are broken by id, and null timestamps come last.
    for i in range(7):
        conv = make_conversation(inbox, minutes_ago=None)
        conv.last_message_at = moment - timedelta(minutes=i // 2)
        conv.save()
        expected.append(conv)
    for _ in range(3):
        expected.append(make_conversation(inbox, minutes_ago=None))
    expected.sort(
        key=lambda c: (c.last_message_at is None, -(c.last_message_at or moment).timestamp(), -c.pk)
    )
    seen, cursor = [], None
    for _ in range(10):
        url = "/api/v1/conversations?limit=3" + (f"&cursor={cursor}" if cursor else "")
        response = client.get(url, **bearer(api_token))
        seen += ids(response)
        cursor = response.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == [c.pk for c in expected]


def test_it_refuses_a_broken_cursor_and_a_limit_over_100(client, tenant, api_token):
    make_inbox(tenant)
    assert_error(
        client.get("/api/v1/conversations?cursor=not-a-cursor", **bearer(api_token)),
        400,
        "invalid",
    )
    assert_error(client.get("/api/v1/conversations?limit=101", **bearer(api_token)), 422, "invalid")


def test_it_filters_conversations(client, tenant, api_token, make_member):
    sms, whatsapp = make_inbox(tenant), make_inbox(tenant, kind="whatsapp")
    agent = make_member(tenant, "agent")
    ana = make_conversation(
        sms, make_contact(tenant, name="Ana García", phone="+14155550111"), assignee=agent
    )
    bob = make_conversation(
        whatsapp, make_contact(tenant, name="Bob", email="bob@globex.test"), status="pending"
    )
    closed = make_conversation(sms, status="closed", subject="Cancelación de la reserva")

    def get(query: str) -> list[int]:
        return ids(client.get(f"/api/v1/conversations?{query}", **bearer(api_token)))

    assert set(get("channel=sms")) == {ana.pk, closed.pk}
    assert get("channel=whatsapp") == [bob.pk]
    assert get("status=pending") == [bob.pk]
    assert get(f"assignee={agent.pk}") == [ana.pk]
    assert set(get("assignee=none")) == {bob.pk, closed.pk}
    assert get(f"inbox_id={whatsapp.pk}") == [bob.pk]
    assert get("q=garc") == [ana.pk]
    assert get("q=(415) 555-0111") == [ana.pk]
    assert get("q=GLOBEX") == [bob.pk]
    assert get("q=nobody") == []
    assert get("q=CANCELACION") == [closed.pk]  # an email subject
    assert get("q=Ana 1") == []  # not a phone number: no digit match on every phone with a 1
    assert get("channel=sms&status=closed") == [closed.pk]
    assert_error(
        client.get("/api/v1/conversations?channel=fax", **bearer(api_token)), 422, "invalid"
    )
    assert_error(
        client.get("/api/v1/conversations?status=done", **bearer(api_token)), 422, "invalid"
    )
    err = assert_error(
        client.get("/api/v1/conversations?assignee=me", **bearer(api_token)), 400, "invalid"
    )
    assert "token" in err["message"]


def test_it_lists_conversations_in_the_same_number_of_queries_for_3_or_30(
    client, tenant, api_token, make_member, django_assert_max_num_queries
):
    inbox = make_inbox(tenant)
    agent = make_member(tenant, "agent")

    def add(n: int) -> None:
        for _ in range(n):
            conv = make_conversation(inbox, assignee=agent)
            make_message(conv, direction="in")

    def count_queries() -> tuple[int, int]:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            response = client.get("/api/v1/conversations?limit=100", **bearer(api_token))
        assert response.status_code == 200
        return len(response.json()["items"]), len(ctx)

    # The token's first use writes last_used_at; measure after it.
    assert client.get("/api/v1/me", **bearer(api_token)).status_code == 200
    add(3)
    few_items, few = count_queries()
    add(27)
    many_items, many = count_queries()
    assert (few_items, many_items) == (3, 30)
    assert many == few
    with django_assert_max_num_queries(few):
        client.get("/api/v1/conversations?limit=100", **bearer(api_token))


def test_it_never_shows_another_tenants_conversations(client, tenant, other_tenant, api_token):
    mine = make_conversation(make_inbox(tenant))
    theirs = make_conversation(make_inbox(other_tenant))
    assert ids(client.get("/api/v1/conversations", **bearer(api_token))) == [mine.pk]
    other_raw = token_for(other_tenant)
    assert ids(client.get("/api/v1/conversations", **bearer(other_raw))) == [theirs.pk]
    for url in (
        f"/api/v1/conversations/{theirs.pk}",
        f"/api/v1/conversations/{theirs.pk}/messages",
    ):
        assert_error(client.get(url, **bearer(api_token)), 404, "not_found")
    response = client.patch(
        f"/api/v1/conversations/{theirs.pk}",
        data={"status": "closed"},
        content_type="application/json",
        **bearer(api_token),
    )
    assert_error(response, 404, "not_found")
    theirs.refresh_from_db()
    assert theirs.status == "open"


def test_it_shows_a_conversation_with_the_last_message_preview(client, tenant, api_token):
    conv = make_conversation(make_inbox(tenant))
    make_message(conv, direction="in", body="first", days_ago=1)
    make_message(conv, direction="out", body="latest")
    make_message(conv, direction="out", body="a private note", is_private=True)
    body = client.get(f"/api/v1/conversations/{conv.pk}", **bearer(api_token)).json()
    assert body["id"] == conv.pk and body["last_message_preview"] == "latest"


def test_it_lists_messages_oldest_first_with_deliveries_and_pages(
    client, tenant, api_token, django_assert_max_num_queries
):
    conv = make_conversation(make_inbox(tenant))
    inbound = make_message(conv, direction="in", body="hi", days_ago=2)
    outbound = [make_message(conv, body=f"reply {i}") for i in range(4)]
    first = client.get(f"/api/v1/conversations/{conv.pk}/messages?limit=3", **bearer(api_token))
    assert ids(first) == [inbound.pk, outbound[0].pk, outbound[1].pk]
    item = first.json()["items"][1]
    assert item["direction"] == "out" and item["conversation_id"] == conv.pk
    assert item["deliveries"][0]["recipient"] == conv.contact.phone
    assert item["deliveries"][0]["status"] == "sent"
    cursor = first.json()["next_cursor"]
    with django_assert_max_num_queries(8):
        second = client.get(
            f"/api/v1/conversations/{conv.pk}/messages?limit=3&cursor={cursor}",
            **bearer(api_token),
        )
    assert ids(second) == [outbound[2].pk, outbound[3].pk]
    assert second.json()["next_cursor"] is None


def test_it_closes_assigns_and_prioritises_through_patch(client, tenant, api_token, make_member):
    conv = make_conversation(make_inbox(tenant))
    agent = make_member(tenant, "agent")
    response = client.patch(
        f"/api/v1/conversations/{conv.pk}",
        data={"status": "closed", "assignee_id": agent.pk, "priority": "high"},
        content_type="application/json",
        **bearer(api_token),
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "closed" and body["priority"] == "high"
    assert body["assignee"]["id"] == agent.pk and body["assignee"]["email"] == agent.email
    conv.refresh_from_db()
    assert (conv.status, conv.assignee_id, conv.priority) == ("closed", agent.pk, 3)
    # Only fields that are sent change: null unassigns, the rest stays.
    response = client.patch(
        f"/api/v1/conversations/{conv.pk}",
        data={"assignee_id": None},
        content_type="application/json",
        **bearer(api_token),
    )
    assert response.json()["assignee"] is None and response.json()["status"] == "closed"


def test_it_snoozes_with_a_future_time_and_refuses_a_past_one(client, tenant, api_token):
    conv = make_conversation(make_inbox(tenant))
    later = (timezone.now() + timedelta(hours=3)).isoformat()
    response = client.patch(
        f"/api/v1/conversations/{conv.pk}",
        data={"snoozed_until": later},
        content_type="application/json",
        **bearer(api_token),
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "snoozed" and response.json()["snoozed_until"]
    past = (timezone.now() - timedelta(hours=1)).isoformat()
    response = client.patch(
        f"/api/v1/conversations/{conv.pk}",
        data={"status": "snoozed", "snoozed_until": past},
        content_type="application/json",
        **bearer(api_token),
    )
    assert "future" in assert_error(response, 400, "invalid")["message"]
    response = client.patch(
        f"/api/v1/conversations/{conv.pk}",
        data={"status": "snoozed"},
        content_type="application/json",
        **bearer(api_token),
    )
    assert "snoozed_until" in assert_error(response, 400, "invalid")["message"]


def test_it_answers_409_when_reopening_beside_another_active_conversation(
    client, tenant, api_token
):
    inbox = make_inbox(tenant)
    contact = make_contact(tenant)
    closed = make_conversation(inbox, contact, status="closed")
    active = make_conversation(inbox, contact)
    response = client.patch(
        f"/api/v1/conversations/{closed.pk}",
        data={"status": "open"},
        content_type="application/json",
        **bearer(api_token),
    )
    err = assert_error(response, 409, "conflict")
    assert str(active.pk) in err["message"]


def test_it_needs_manage_to_patch_and_assign_to_change_the_assignee(client, tenant, make_member):
    from omnichannel.actions import do_create_api_token, do_create_role

    conv = make_conversation(make_inbox(tenant))
    agent = make_member(tenant, "agent")
    role = do_create_role(
        tenant, name="Closer", codenames=["conversations.view", "conversations.manage"]
    )
    _, raw = do_create_api_token(tenant, name="closer", role=role)
    ok = client.patch(
        f"/api/v1/conversations/{conv.pk}",
        data={"priority": "low"},
        content_type="application/json",
        **bearer(raw),
    )
    assert ok.status_code == 200
    response = client.patch(
        f"/api/v1/conversations/{conv.pk}",
        data={"assignee_id": agent.pk},
        content_type="application/json",
        **bearer(raw),
    )
    assert assert_error(response, 403, "forbidden")["permission"] == "conversations.assign"
    viewer = token_for(tenant, "viewer")
    response = client.patch(
        f"/api/v1/conversations/{conv.pk}",
        data={"status": "closed"},
        content_type="application/json",
        **bearer(viewer),
    )
    assert assert_error(response, 403, "forbidden")["permission"] == "conversations.manage"
    conv.refresh_from_db()
    assert conv.assignee_id is None and conv.status == "open"


def test_it_refuses_an_assignee_from_another_tenant(
    client, tenant, other_tenant, api_token, make_member
):
    conv = make_conversation(make_inbox(tenant))
    outsider = make_member(other_tenant, "agent")
    response = client.patch(
        f"/api/v1/conversations/{conv.pk}",
        data={"assignee_id": outsider.pk},
        content_type="application/json",
        **bearer(api_token),
    )
    assert_error(response, 400, "invalid")
    assert not Message.objects.filter(conversation=conv).exists()
    assert Conversation.objects.get(pk=conv.pk).assignee_id is None
