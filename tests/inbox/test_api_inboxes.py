import pytest
from django.test import override_settings

from inbox.models import Inbox
from omnichannel.models import AuditEvent
from tests.inbox.api_factories import (
    ACCOUNT_SID,
    assert_error,
    bearer,
    make_inbox,
    token_for,
)

pytestmark = pytest.mark.django_db


def create(client, raw, **overrides):
    payload = {
        "channel": "sms",
        "address": "+1 (415) 555-0100",
        "credentials": {"account_sid": ACCOUNT_SID, "auth_token": "tok-very-secret-123"},
    }
    payload.update(overrides)
    return client.post(
        "/api/v1/inboxes", data=payload, content_type="application/json", **bearer(raw)
    )


@override_settings(PUBLIC_BASE_URL="https://centro.example.com")
def test_it_creates_an_inbox_with_its_webhook_urls_and_no_secrets(client, tenant, api_token):
    response = create(
        client,
        api_token,
        name="Front desk",
        credentials={
            "account_sid": ACCOUNT_SID,
            "auth_token": "tok-very-secret-123",
            "api_base_url": "http://127.0.0.1:9/",
            "messaging_service_sid": "MG" + "a" * 32,
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    inbox = Inbox.objects.get(pk=body["id"])
    assert inbox.tenant == tenant and inbox.address == "+14155550100"
    assert inbox.get_credentials()["auth_token"] == "tok-very-secret-123"
    assert inbox.get_credentials()["api_base_url"] == "http://127.0.0.1:9"
    token = inbox.webhook_token
    assert body["webhook_urls"] == {
        "inbound": f"https://centro.example.com/webhooks/twilio/{token}/inbound/",
        "status": f"https://centro.example.com/webhooks/twilio/{token}/status/",
    }
    assert body["name"] == "Front desk" and body["channel"] == "sms"
    assert body["has_credentials"] is True
    assert body["account_sid"] == "AC…cdef"
    assert body["messaging_service_sid"] == "MG" + "a" * 32
    text = response.content.decode()
    assert "tok-very-secret-123" not in text and ACCOUNT_SID not in text
    assert "credentials" not in body
    event = AuditEvent.objects.get(action=AuditEvent.Action.CREDENTIAL_CHANGED)
    assert event.tenant == tenant and event.target_id == str(inbox.pk)
    assert event.actor_token is not None
    assert "tok-very-secret-123" not in str(event.data)


def test_it_gets_and_lists_inboxes_without_credentials(client, tenant, other_tenant, api_token):
    mine = make_inbox(tenant, name="Mine")
    theirs = make_inbox(other_tenant, name="Theirs")
    listed = client.get("/api/v1/inboxes", **bearer(api_token))
    assert listed.status_code == 200
    assert [i["id"] for i in listed.json()["items"]] == [mine.pk]
    detail = client.get(f"/api/v1/inboxes/{mine.pk}", **bearer(api_token))
    assert detail.status_code == 200
    assert detail.json() == listed.json()["items"][0]
    assert "s3cr3t-auth-token" not in listed.content.decode() + detail.content.decode()
    assert_error(client.get(f"/api/v1/inboxes/{theirs.pk}", **bearer(api_token)), 404, "not_found")


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"address": "12"}, "not a valid phone number"),
        ({"address": "call me"}, "not a phone number"),
        ({"credentials": {"auth_token": "x"}}, "account_sid is required"),
        ({"credentials": {"account_sid": "AC123", "auth_token": "x"}}, "32 hexadecimal"),
        ({"credentials": {"account_sid": ACCOUNT_SID}}, "auth_token is required"),
        (
            {
                "credentials": {
                    "account_sid": ACCOUNT_SID,
                    "auth_token": "x",
                    "api_base_url": "ftp://h",
                }
            },
            "http:// or https://",
        ),
        (
            {
                "credentials": {
                    "account_sid": ACCOUNT_SID,
                    "auth_token": "x",
                    "messaging_service_sid": "MS1",
                }
            },
            "messaging_service_sid",
        ),
        ({"credentials": {"account_sid": ACCOUNT_SID, "auth_token": "x", "pin": "1"}}, "pin"),
    ],
)
def test_it_refuses_bad_inbox_input_with_the_reason(client, tenant, api_token, overrides, fragment):
    error = assert_error(create(client, api_token, **overrides), 400, "invalid")
    assert fragment in error["message"]
    assert not Inbox.objects.exists()


def test_it_answers_422_for_an_unknown_channel(client, tenant, api_token):
    assert_error(create(client, api_token, channel="fax"), 422, "invalid")


def test_it_answers_409_for_a_second_inbox_on_the_same_number(client, tenant, api_token):
    assert create(client, api_token).status_code == 201
    assert_error(create(client, api_token, address="+14155550100"), 409, "conflict")
    # The other channel may use the same number.
    assert create(client, api_token, channel="whatsapp").status_code == 201


def test_it_needs_inboxes_manage_to_connect_and_inboxes_view_to_list(client, tenant):
    supervisor = token_for(tenant, "supervisor")
    agent = token_for(tenant, "agent")
    err = assert_error(create(client, supervisor), 403, "forbidden")
    assert err["permission"] == "inboxes.manage"
    assert client.get("/api/v1/inboxes", **bearer(supervisor)).status_code == 200
    err = assert_error(client.get("/api/v1/inboxes", **bearer(agent)), 403, "forbidden")
    assert err["permission"] == "inboxes.view"


def test_it_answers_400_for_garbage_json(client, tenant, api_token):
    response = client.post(
        "/api/v1/inboxes", data="{not json", content_type="application/json", **bearer(api_token)
    )
    assert_error(response, 400, "bad_request")
