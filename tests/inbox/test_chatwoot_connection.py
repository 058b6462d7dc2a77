"""Connecting a Chatwoot: the settings are checked (URL, private-address guard, required
fields, numbers, the platform's defaults for blanks), the inbox's address names the Chatwoot
inbox, "test connection" says what it found or what is wrong, and another tenant's admin can
neither see nor change the connection (pages and API)."""

import socket

import pytest
from django.db import connection
from django.test import Client

from inbox.actions.inboxes import do_create_inbox
from inbox.models import Inbox
from inbox.providers import provider_class
from inbox.providers.chatwoot.credentials import ChatwootCredentials
from omnichannel.actions import ActionError
from omnichannel.channels import Channel
from omnichannel.models import AuditEvent
from tests.fakes.chatwoot import ACCOUNT_ID, FOREIGN_ACCOUNT_ID, INBOX_ID
from tests.inbox.api_factories import bearer, token_for
from tests.inbox.chatwoot_helpers import make_cw_inbox

pytestmark = pytest.mark.django_db

SCHEMA = provider_class("chatwoot").credentials


def settings_for(server, **changes) -> dict:
    values = {
        "api_url": server.base_url,
        "api_access_token": server.token,
        "account_id": str(ACCOUNT_ID),
        "inbox_id": str(INBOX_ID),
        "webhook_secret": "whsec-123",
    }
    values.update(changes)
    return {k: v for k, v in values.items() if v is not None}


def connect(tenant, server, address: str = "", **changes) -> Inbox:
    return do_create_inbox(
        tenant,
        kind=Channel.CHATWOOT,
        provider="chatwoot",
        address=address,
        credentials=settings_for(server, **changes),
    )


def test_a_connection_is_stored_encrypted_with_its_address_and_switches(tenant, cw_server):
    inbox = connect(tenant, cw_server, api_url=cw_server.base_url + "/", mirror="on")

    host = cw_server.base_url.removeprefix("http://")
    assert inbox.address == f"{host}#{ACCOUNT_ID}/{INBOX_ID}"
    assert inbox.name == f"Chatwoot {host}#{ACCOUNT_ID}/{INBOX_ID}"
    creds = inbox.get_credentials()
    assert creds["api_url"] == cw_server.base_url  # the trailing slash is gone
    assert (creds["mirror"], creds["notify"], creds["create_contacts"]) == (True, False, False)
    assert inbox.option("mirror", False) is True and inbox.option("allow_unsigned", True) is False
    with connection.cursor() as cursor:  # encrypted at rest
        cursor.execute("SELECT credentials FROM inbox_inbox WHERE id = %s", [inbox.pk])
        [stored] = cursor.fetchone()
    assert cw_server.token not in stored and "whsec-123" not in stored
    event = AuditEvent.objects.get(action=AuditEvent.Action.CREDENTIAL_CHANGED)
    assert cw_server.token not in str(event.data) and "whsec-123" not in str(event.data)
    with pytest.raises(ActionError, match="already has a Chatwoot inbox"):
        connect(tenant, cw_server)


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"api_url": "ftp://chatwoot.example.com"}, "must be an http:// or https:// URL"),
        ({"api_url": "chatwoot.example.com"}, "must be an http:// or https:// URL"),
        ({"api_url": "https://user:pw@chatwoot.example.com"}, "must not contain a user"),
        ({"api_access_token": None}, "API access token is required"),
        ({"api_access_token": "two words"}, "has spaces"),
        ({"account_id": None}, "account id is required"),
        ({"account_id": "acme"}, "account id is a positive number"),
        ({"inbox_id": "0"}, "inbox id is a positive number"),
        ({"inbox_id": "-3"}, "inbox id is a positive number"),
        ({"plan": "gold"}, "Unknown Chatwoot setting plan"),
    ],
)
def test_bad_settings_are_refused_with_the_reason(tenant, cw_server, changes, fragment):
    with pytest.raises(ActionError, match=fragment):
        connect(tenant, cw_server, **changes)
    assert not Inbox.objects.exists()


def test_a_typed_address_must_name_a_chatwoot_inbox(tenant, cw_server):
    with pytest.raises(ActionError, match="<host>#<account id>/<inbox id>"):
        connect(tenant, cw_server, address="+14155550100")
    inbox = connect(tenant, cw_server, address="Chat.Example.com#1/7")
    assert inbox.address == "chat.example.com#1/7"


def test_a_private_address_is_refused_in_a_deployment(tenant, settings):
    settings.ALLOW_PRIVATE_PROVIDER_HOSTS = False
    for url in ("http://127.0.0.1:3000", "http://10.0.0.5", "http://169.254.169.254"):
        with pytest.raises(ActionError, match="private or local address"):
            do_create_inbox(
                tenant,
                kind=Channel.CHATWOOT,
                provider="chatwoot",
                address="",
                credentials={
                    "api_url": url,
                    "api_access_token": "tok",
                    "account_id": "1",
                    "inbox_id": "7",
                },
            )


def test_the_platforms_chatwoot_fills_the_blanks(tenant, cw_server, settings):
    settings.CHATWOOT_API_URL = cw_server.base_url
    settings.CHATWOOT_API_ACCESS_TOKEN = cw_server.token
    settings.CHATWOOT_ACCOUNT_ID = str(ACCOUNT_ID)
    settings.CHATWOOT_INBOX_ID = str(INBOX_ID)

    fields = {field.key: field for field in SCHEMA.fields({})}
    assert not any(fields[k].required for k in ("api_url", "api_access_token", "inbox_id"))
    assert "Leave blank to use the platform's Chatwoot." in fields["api_url"].help
    inbox = do_create_inbox(
        tenant,
        kind=Channel.CHATWOOT,
        provider="chatwoot",
        address="",
        credentials={"inbox_id": "", "notify": "true"},
    )

    creds = inbox.get_credentials()
    assert (creds["api_url"], creds["api_access_token"], creds["inbox_id"]) == (
        cw_server.base_url,
        cw_server.token,
        str(INBOX_ID),
    )
    assert creds["notify"] is True
    assert SCHEMA.test_connection(inbox).ok
    settings.CHATWOOT_API_URL = ""
    assert {field.key for field in SCHEMA.fields({}) if field.required} == {"api_url"}


def test_test_connection_names_the_user_and_the_inbox(tenant, cw_server):
    check = SCHEMA.test_connection(make_cw_inbox(tenant, cw_server))

    assert check.ok
    assert check.detail == (
        f"Connected to Chatwoot as Ann Agent: account {ACCOUNT_ID}, inbox “Centro” (Channel::Api)."
    )
    assert [p for _, p, _ in cw_server.requests] == [
        "/api/v1/profile",
        f"/api/v1/accounts/{ACCOUNT_ID}/inboxes/{INBOX_ID}",
    ]


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"api_access_token": "wrong"}, "rejected this inbox's access token (HTTP 401)"),
        ({"inbox_id": "99"}, f"account {ACCOUNT_ID} has no inbox 99: check the inbox id"),
        (
            {"account_id": str(FOREIGN_ACCOUNT_ID)},
            f"Chatwoot refused account {FOREIGN_ACCOUNT_ID}: You are not authorized to access "
            "this account",
        ),
    ],
)
def test_test_connection_says_what_is_wrong(tenant, cw_server, changes, fragment):
    check = SCHEMA.test_connection(make_cw_inbox(tenant, cw_server, **changes))

    assert not check.ok
    assert fragment in check.detail


def test_test_connection_says_an_unreachable_server_is(tenant, cw_server):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    inbox = make_cw_inbox(tenant, cw_server, api_url=f"http://127.0.0.1:{port}")

    check = SCHEMA.test_connection(inbox)

    assert not check.ok and "The Chatwoot server could not be reached" in check.detail


def test_an_admin_connects_and_tests_in_settings(tenant, owner, login, cw_server):
    client = login(owner)
    form = client.get("/settings/channels/connect/?provider=chatwoot&kind=chatwoot")
    html = form.content.decode()
    assert 'name="api_access_token"' in html and 'name="mirror"' in html

    answer = client.post(
        "/settings/channels/connect/",
        {
            "provider": "chatwoot",
            "kind": "chatwoot",
            "name": "Support Chatwoot",
            "address": "",
            **settings_for(cw_server),
            "notify": "on",
        },
    )

    assert answer.status_code == 201, answer.content.decode()[:2000]
    inbox = Inbox.objects.get(tenant=tenant, kind="chatwoot")
    assert inbox.option("notify", False) is True and inbox.option("mirror", True) is False
    page = client.post(f"/settings/channels/{inbox.pk}/test/").content.decode()
    assert 'data-ok="true"' in page and "Connected to Chatwoot as Ann Agent" in page
    # Unticking a switch on the channel's page stores it off.
    client.post(f"/settings/channels/{inbox.pk}/credentials/", {**settings_for(cw_server)})
    inbox.refresh_from_db()
    assert inbox.get_credentials()["notify"] is False
    assert inbox.get_credentials()["api_access_token"] == cw_server.token  # blank kept it


def test_another_tenants_admin_cannot_see_or_change_the_connection(
    tenant, other_tenant, make_member, login, cw_server
):
    inbox = make_cw_inbox(tenant, cw_server)
    before = inbox.get_credentials()
    client = login(make_member(other_tenant, "admin"))

    for method, url, data in [
        ("get", f"/settings/channels/{inbox.pk}/", {}),
        ("post", f"/settings/channels/{inbox.pk}/edit/", {"name": "Mine now"}),
        ("post", f"/settings/channels/{inbox.pk}/credentials/", {"api_url": "http://x.test"}),
        ("post", f"/settings/channels/{inbox.pk}/test/", {}),
    ]:
        assert getattr(client, method)(url, data).status_code == 404, url
    assert inbox.name not in client.get("/settings/channels/").content.decode()
    theirs = bearer(token_for(other_tenant))
    api = Client()
    assert api.get(f"/api/v1/inboxes/{inbox.pk}", **theirs).status_code == 404
    patched = api.patch(
        f"/api/v1/inboxes/{inbox.pk}",
        {"name": "Mine now", "credentials": {"api_access_token": "stolen"}},
        content_type="application/json",
        **theirs,
    )
    assert patched.status_code == 404
    listed = api.get("/api/v1/inboxes", **theirs).json()["items"]
    assert inbox.pk not in [item["id"] for item in listed]
    inbox.refresh_from_db()
    assert inbox.name == "Chatwoot" and inbox.get_credentials() == before
    assert cw_server.requests == []  # nothing was tested on their behalf


def test_two_webhook_secrets_are_kept_comma_separated_and_too_many_are_refused():
    schema = ChatwootCredentials()
    base = {
        "api_url": "https://chat.example.com",
        "api_access_token": "tok",
        "account_id": "1",
        "inbox_id": "7",
    }
    assert (
        schema.clean({**base, "webhook_secret": " acc-secret,  inbox-secret "})["webhook_secret"]
        == "acc-secret,inbox-secret"
    )
    with pytest.raises(ActionError, match="up to 5 separated by commas"):
        schema.clean({**base, "webhook_secret": ",".join(f"s{n}" for n in range(6))})
