from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from inbox.models import Conversation, Delivery, Message
from omnichannel.actions import do_create_api_token, do_create_role
from tests.inbox.api_factories import assert_error, bearer, make_inbox, token_for

pytestmark = [pytest.mark.django_db, pytest.mark.clock]


def send(client, raw, key: str | None = None, **payload):
    payload.setdefault("channel", "sms")
    headers = bearer(raw)
    if key is not None:
        headers["HTTP_IDEMPOTENCY_KEY"] = key
    return client.post("/api/v1/messages", data=payload, content_type="application/json", **headers)


def test_it_sends_an_sms_through_the_tenants_sms_inbox(client, tenant, api_token, sms_inbox):
    response = send(client, api_token, to="(415) 555-0111", body="Your table is ready")
    assert response.status_code == 201, response.content
    body = response.json()
    message = Message.objects.get(pk=body["id"])
    assert message.tenant == tenant and message.inbox == sms_inbox
    assert message.conversation.contact.phone == "+14155550111"
    assert body["conversation_id"] == message.conversation_id
    assert (body["direction"], body["status"], body["body"]) == (
        "out",
        "queued",
        "Your table is ready",
    )
    assert body["created_at"]
    (delivery,) = body["deliveries"]
    assert (delivery["status"], delivery["recipient"], delivery["provider"]) == (
        "queued",
        "+14155550111",
        "twilio",
    )


def test_it_hands_the_message_to_twilio_once_for_a_repeated_idempotency_key(
    client,
    tenant,
    api_token,
    sms_inbox,
    fake_twilio,
    eager_tasks,
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        first = send(client, api_token, key="order-42", to="+14155550111", body="Hi")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        again = send(client, api_token, key="order-42", to="+14155550111", body="Hi")
    assert first.status_code == 201, first.content
    assert again.status_code == 200, again.content
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["status"] == "sent"  # the first one went out in between
    assert callbacks == []
    assert Message.objects.filter(tenant=tenant).count() == 1
    assert len(fake_twilio.sent) == 1
    assert fake_twilio.sent[0].params["Body"] == "Hi"


def test_it_refuses_an_idempotency_key_reused_for_another_request(
    client, tenant, api_token, sms_inbox
):
    assert send(client, api_token, key="k1", to="+14155550111", body="Hi").status_code == 201
    response = send(client, api_token, key="k1", to="+14155550111", body="Something else")
    assert_error(response, 422, "idempotency_key_reused")
    assert Message.objects.count() == 1


def test_it_scopes_idempotency_keys_to_the_tenant(
    client, tenant, other_tenant, api_token, twilio_inbox
):
    twilio_inbox(tenant)
    twilio_inbox(other_tenant)
    other_raw = token_for(other_tenant)
    mine = send(client, api_token, key="same", to="+14155550111", body="Hi")
    theirs = send(client, other_raw, key="same", to="+14155550111", body="Hi")
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert mine.json()["id"] != theirs.json()["id"]
    assert Message.objects.get(pk=theirs.json()["id"]).tenant == other_tenant


def test_it_frees_the_idempotency_key_when_the_send_is_refused(
    client, tenant, api_token, sms_inbox
):
    assert_error(send(client, api_token, key="k2", to="+14155550111"), 400, "invalid")
    response = send(client, api_token, key="k2", to="+14155550111", body="now with text")
    assert response.status_code == 201, response.content


def test_it_answers_400_when_the_tenant_has_no_inbox_of_the_channel(
    client, tenant, api_token, sms_inbox
):
    err = assert_error(
        send(client, api_token, channel="whatsapp", to="+14155550111", body="Hi"), 400, "invalid"
    )
    assert "no active WhatsApp inbox" in err["message"]


def test_it_needs_inbox_id_when_the_tenant_has_several(client, tenant, api_token, twilio_inbox):
    first, second = twilio_inbox(tenant), twilio_inbox(tenant)
    err = assert_error(send(client, api_token, to="+14155550111", body="Hi"), 400, "invalid")
    assert str(first.pk) in err["message"] and str(second.pk) in err["message"]
    assert "inbox_id" in err["message"]
    response = send(client, api_token, to="+14155550111", body="Hi", inbox_id=second.pk)
    assert response.status_code == 201
    assert Message.objects.get(pk=response.json()["id"]).inbox == second


def test_it_answers_404_for_another_tenants_inbox_or_conversation(
    client, tenant, other_tenant, api_token, sms_inbox
):
    theirs = make_inbox(other_tenant)
    assert_error(
        send(client, api_token, to="+14155550111", body="Hi", inbox_id=theirs.pk), 404, "not_found"
    )
    from tests.inbox.api_factories import make_conversation

    conv = make_conversation(theirs)
    assert_error(send(client, api_token, body="Hi", conversation_id=conv.pk), 404, "not_found")
    reply = client.post(
        f"/api/v1/conversations/{conv.pk}/messages",
        data={"body": "Hi"},
        content_type="application/json",
        **bearer(api_token),
    )
    assert_error(reply, 404, "not_found")
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    ("payload", "status", "code", "fragment"),
    [
        ({"to": "12", "body": "Hi"}, 400, "invalid", "not a valid phone number"),
        ({"to": "call me", "body": "Hi"}, 400, "invalid", "not a phone number"),
        ({"body": "Hi"}, 400, "invalid", "to"),
        ({"to": "+14155550111"}, 400, "invalid", "Write a message"),
        ({"to": "+14155550111", "body": "Hi", "channel": "fax"}, 422, "invalid", "not valid"),
        ({"to": "+14155550111", "media_urls": ["file:///etc/passwd"]}, 400, "invalid", "http"),
    ],
)
def test_it_refuses_bad_send_requests_with_the_reason(
    client, tenant, api_token, sms_inbox, payload, status, code, fragment
):
    err = assert_error(send(client, api_token, **payload), status, code)
    assert fragment in err["message"]
    assert not Message.objects.exists()


def test_it_answers_400_for_garbage_json(client, tenant, api_token, sms_inbox):
    response = client.post(
        "/api/v1/messages", data="channel=sms", content_type="application/json", **bearer(api_token)
    )
    assert_error(response, 400, "bad_request")


def test_it_answers_429_with_retry_after_past_the_contact_limit(
    client, tenant, api_token, twilio_inbox
):
    twilio_inbox(tenant, contact_hourly_limit=1)
    assert send(client, api_token, to="+14155550111", body="1").status_code == 201
    response = send(client, api_token, to="+14155550111", body="2")
    assert_error(response, 429, "rate_limited")
    assert 0 < int(response["Retry-After"]) <= 3600


def test_it_tells_whatsapp_senders_to_use_a_template_outside_the_window(
    client, tenant, api_token, whatsapp_inbox
):
    err = assert_error(
        send(client, api_token, channel="whatsapp", to="+14155550111", body="Hi"),
        400,
        "outside_window",
    )
    assert "template" in err["message"]
    response = send(
        client,
        api_token,
        channel="whatsapp",
        to="+14155550111",
        template={"content_sid": "HX" + "b" * 32, "variables": {"1": "Ana"}},
    )
    assert response.status_code == 201, response.content


def test_it_sends_into_a_given_conversation(client, tenant, api_token, sms_inbox, contact):
    conv = Conversation.objects.create(tenant=tenant, inbox=sms_inbox, contact=contact)
    response = send(client, api_token, conversation_id=conv.pk, body="Hi again")
    assert response.status_code == 201, response.content
    assert response.json()["conversation_id"] == conv.pk
    err = assert_error(
        send(client, api_token, conversation_id=conv.pk, to="+14155550199", body="Hi"),
        400,
        "invalid",
    )
    assert contact.phone in err["message"]


def test_it_replies_in_a_conversation_and_adds_private_notes(
    client, tenant, api_token, sms_inbox, contact
):
    conv = Conversation.objects.create(
        tenant=tenant, inbox=sms_inbox, contact=contact, last_inbound_at=timezone.now()
    )
    url = f"/api/v1/conversations/{conv.pk}/messages"
    reply = client.post(
        url, data={"body": "On my way"}, content_type="application/json", **bearer(api_token)
    )
    assert reply.status_code == 201, reply.content
    assert reply.json()["private"] is False and len(reply.json()["deliveries"]) == 1
    note = client.post(
        url,
        data={"body": "VIP guest", "private": True},
        content_type="application/json",
        **bearer(api_token),
    )
    assert note.status_code == 201, note.content
    assert note.json()["private"] is True and note.json()["deliveries"] == []
    assert Delivery.objects.filter(message__conversation=conv).count() == 1
    thread = client.get(url, **bearer(api_token)).json()["items"]
    assert [m["body"] for m in thread] == ["On my way", "VIP guest"]
    conv.refresh_from_db()
    assert conv.first_response_at is not None


def test_it_needs_conversations_note_for_a_private_note(client, tenant, sms_inbox, contact):
    conv = Conversation.objects.create(tenant=tenant, inbox=sms_inbox, contact=contact)
    role = do_create_role(
        tenant, name="Replier", codenames=["conversations.view", "conversations.reply"]
    )
    _, raw = do_create_api_token(tenant, name="bot", role=role)
    response = client.post(
        f"/api/v1/conversations/{conv.pk}/messages",
        data={"body": "internal", "private": True},
        content_type="application/json",
        **bearer(raw),
    )
    assert assert_error(response, 403, "forbidden")["permission"] == "conversations.note"
    assert not Message.objects.exists()


def test_it_needs_conversations_reply_to_send(client, tenant, sms_inbox):
    response = send(client, token_for(tenant, "viewer"), to="+14155550111", body="Hi")
    assert assert_error(response, 403, "forbidden")["permission"] == "conversations.reply"


def test_it_shows_the_message_list_with_delivery_outcomes(
    client,
    tenant,
    api_token,
    sms_inbox,
    fake_twilio,
    eager_tasks,
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        sent = send(client, api_token, to="+14155550111", body="Hi").json()
    items = client.get(
        f"/api/v1/conversations/{sent['conversation_id']}/messages", **bearer(api_token)
    ).json()["items"]
    (delivery,) = items[0]["deliveries"]
    assert delivery["status"] == "sent" and delivery["provider_message_id"].startswith("SM")
    assert delivery["attempts"] == 1 and delivery["sent_at"]
    assert timezone.now() - timezone.datetime.fromisoformat(items[0]["created_at"]) < timedelta(
        minutes=1
    )


def test_it_answers_409_while_the_same_idempotency_key_is_in_flight(
    client, tenant, api_token, sms_inbox
):
    from omnichannel.api import IN_PROGRESS, idempotency_cache_key

    payload = {"channel": "sms", "to": "+14155550111", "body": "Hi", "media_urls": []}
    # Another request holding the key, still sending.
    key = idempotency_cache_key(tenant.pk, "inbox", "busy")
    cache.add(key, {"state": IN_PROGRESS, "hash": None}, 60)
    response = send(client, api_token, key="busy", **payload)
    assert "still being processed" in assert_error(response, 409, "conflict")["message"]
    assert not Message.objects.exists()
