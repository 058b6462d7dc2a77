"""Settings → Channels: the list (with the webhook journal's activity), connecting a channel
from its provider's schema, each channel's name, switch, credentials (``credentials.manage``),
test connection and webhook URLs; secrets never shown back, changes audited with the key names
only, other tenants' channels 404."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from contacts.phones import format_phone
from inbox.models import Channel, Inbox
from omnichannel.models import AuditEvent, WebhookEvent
from tests.fakes.twilio import new_account_sid
from tests.inbox.api_factories import ACCOUNT_SID, make_inbox
from tests.inbox.conftest import make_email_inbox

pytestmark = [pytest.mark.django_db, pytest.mark.clock]
CHANGED = AuditEvent.Action.CREDENTIAL_CHANGED
SECRET = "s3cr3t-auth-token"  # what make_inbox stores


@pytest.fixture
def inbox(tenant):
    return make_inbox(tenant, name="Front desk")


def _credential_rows():
    return AuditEvent.objects.filter(action=CHANGED, data__change="credentials_updated")


def test_the_list_shows_the_tenants_inboxes(tenant, other_tenant, owner, login, inbox):
    make_inbox(other_tenant, name="Theirs")
    page = login(owner).get("/settings/channels/").content.decode()
    assert "Front desk" in page and "Theirs" not in page
    assert f'href="/settings/channels/{inbox.pk}/"' in page
    assert 'href="/settings/channels/"' in page  # in the settings navigation


def test_the_inbox_page_never_shows_a_secret(owner, login, inbox):
    page = login(owner).get(f"/settings/channels/{inbox.pk}/").content.decode()
    assert 'id="credentials-form"' in page
    assert SECRET not in page and ACCOUNT_SID not in page
    assert "AC…cdef — set; leave blank to keep" in page
    assert 'name="auth_token" type="password" value=""' in page


def test_an_admin_changes_one_secret_and_keeps_the_others(owner, login, inbox):
    response = login(owner).post(
        f"/settings/channels/{inbox.pk}/credentials/",
        {"account_sid": "", "auth_token": "a-brand-new-token", "messaging_service_sid": ""},
    )
    assert response.status_code == 302
    inbox.refresh_from_db()
    assert inbox.get_credentials() == {
        "account_sid": ACCOUNT_SID,
        "auth_token": "a-brand-new-token",
    }
    row = _credential_rows().get()
    assert row.actor == owner and row.target_id == str(inbox.pk)
    assert row.data == {"change": "credentials_updated", "keys": ["auth_token"]}
    assert "a-brand-new-token" not in str(row.data)


def test_plain_fields_are_set_and_removed(owner, login, inbox):
    client = login(owner)
    sid = "MG" + "b" * 32
    client.post(f"/settings/channels/{inbox.pk}/credentials/", {"messaging_service_sid": sid})
    inbox.refresh_from_db()
    assert inbox.get_credentials()["messaging_service_sid"] == sid
    assert "MG" + "b" * 32 in client.get(f"/settings/channels/{inbox.pk}/").content.decode()
    client.post(f"/settings/channels/{inbox.pk}/credentials/", {"messaging_service_sid": ""})
    inbox.refresh_from_db()
    assert "messaging_service_sid" not in inbox.get_credentials()
    assert [r.data["keys"] for r in _credential_rows().order_by("id")] == [
        ["messaging_service_sid"],
        ["messaging_service_sid"],
    ]


def test_nothing_changed_writes_nothing(owner, login, inbox):
    response = login(owner).post(f"/settings/channels/{inbox.pk}/credentials/", {"auth_token": ""})
    assert response.status_code == 302
    assert not _credential_rows().exists()


def test_bad_credentials_are_refused_as_at_creation(owner, login, inbox):
    response = login(owner).post(
        f"/settings/channels/{inbox.pk}/credentials/", {"account_sid": "AC123"}
    )
    assert response.status_code == 400
    assert "account_sid must be “AC” followed by 32 hexadecimal" in response.content.decode()
    inbox.refresh_from_db()
    assert inbox.get_credentials()["account_sid"] == ACCOUNT_SID
    assert not _credential_rows().exists()


def test_an_email_inbox_shows_its_esps_fields(tenant, owner, login):
    inbox = make_email_inbox(tenant, esp="postmark", server_token="pm-token-1")
    client = login(owner)
    page = client.get(f"/settings/channels/{inbox.pk}/").content.decode()
    assert 'name="server_token"' in page and 'name="api_url"' in page
    assert "pm-token-1" not in page and "anymail-pass" not in page
    response = client.post(
        f"/settings/channels/{inbox.pk}/credentials/", {"server_token": "pm-token-2"}
    )
    assert response.status_code == 302
    inbox.refresh_from_db()
    assert inbox.get_credentials()["server_token"] == "pm-token-2"
    assert inbox.get_credentials()["webhook_secret"] == "anymail-user:anymail-pass"
    assert _credential_rows().get().data["keys"] == ["server_token"]


def test_an_email_inbox_switches_to_another_service(tenant, owner, login):
    inbox = make_email_inbox(tenant, esp="postmark", server_token="pm-token-1")
    client = login(owner)
    piece = client.get(
        f"/settings/channels/{inbox.pk}/?esp=mailgun", headers={"HX-Request": "true"}
    ).content.decode()
    assert "<html" not in piece and 'name="sender_domain"' in piece
    assert 'name="server_token"' not in piece and 'value="mailgun" selected' in piece
    response = client.post(
        f"/settings/channels/{inbox.pk}/credentials/",
        {"esp": "mailgun", "api_key": "key-mailgun-0123", "sender_domain": "mg.acme.test"},
    )
    assert response.status_code == 302, response.content.decode()[-3000:]
    inbox.refresh_from_db()
    assert inbox.get_credentials() == {
        "esp": "mailgun",
        "api_key": "key-mailgun-0123",
        "sender_domain": "mg.acme.test",
        "webhook_secret": "anymail-user:anymail-pass",
    }
    assert _credential_rows().get().data["keys"] == [
        "api_key",
        "esp",
        "sender_domain",
        "server_token",
    ]


def test_without_credentials_manage_the_form_is_not_offered_and_posts_get_403(
    tenant, make_member, login, inbox
):
    supervisor = make_member(tenant, "supervisor")  # sees inboxes, cannot change credentials
    client = login(supervisor)
    page = client.get(f"/settings/channels/{inbox.pk}/").content.decode()
    assert 'id="credentials-form"' not in page and "Auth token: set" in page
    response = client.post(f"/settings/channels/{inbox.pk}/credentials/", {"auth_token": "x"})
    assert response.status_code == 403
    inbox.refresh_from_db()
    assert inbox.get_credentials()["auth_token"] == SECRET
    refusal = AuditEvent.objects.get(action=AuditEvent.Action.PERMISSION_DENIED)
    assert refusal.data["permission"] == "credentials.manage" and refusal.actor == supervisor


def test_agents_cannot_see_the_channels(tenant, make_member, login, inbox):
    assert login(make_member(tenant, "agent")).get("/settings/channels/").status_code == 403


def test_another_tenants_inbox_is_404(other_tenant, owner, login):
    theirs = make_inbox(other_tenant)
    client = login(owner)
    assert client.get(f"/settings/channels/{theirs.pk}/").status_code == 404
    response = client.post(f"/settings/channels/{theirs.pk}/credentials/", {"auth_token": "x"})
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.get_credentials()["auth_token"] == SECRET


def test_renaming_and_switching_off_is_audited(tenant, owner, make_member, login, inbox):
    response = login(owner).post(f"/settings/channels/{inbox.pk}/edit/", {"name": "Reception"})
    assert response.status_code == 302
    inbox.refresh_from_db()
    assert inbox.name == "Reception" and inbox.is_active is False
    row = AuditEvent.objects.get(action=AuditEvent.Action.INBOX_CHANGED)
    assert row.data == {"changed": ["is_active", "name"]} and row.actor == owner
    supervisor = make_member(tenant, "supervisor")
    refused = login(supervisor).post(f"/settings/channels/{inbox.pk}/edit/", {"name": "X"})
    assert refused.status_code == 403
    assert Inbox.objects.get(pk=inbox.pk).name == "Reception"


# --- the list: the journal's activity in a bounded number of queries -------------------------


def _event(inbox, state, *, minutes_ago: int, error: str = ""):
    return WebhookEvent.objects.create(
        tenant=inbox.tenant,
        inbox=inbox,
        provider=inbox.provider,
        kind="inbound",
        url="/webhooks/",
        state=state,
        error=error,
        received_at=timezone.now() - timedelta(minutes=minutes_ago),
    )


def test_the_list_shows_provider_kind_state_last_webhook_and_last_error(owner, login, inbox):
    _event(inbox, WebhookEvent.State.INVALID, minutes_ago=30, error="No From field.")
    _event(inbox, WebhookEvent.State.FAILED, minutes_ago=20, error="The contact is blocked.")
    last = _event(inbox, WebhookEvent.State.PROCESSED, minutes_ago=5)
    quiet = make_inbox(inbox.tenant, name="Quiet line")
    Inbox.objects.filter(pk=quiet.pk).update(is_active=False)
    page = login(owner).get("/settings/channels/").content.decode()
    row = page.split(f'id="channel-{inbox.pk}"')[1].split("</tr>")[0]
    assert "Twilio" in row and "SMS" in row and format_phone(inbox.address, "US") in row
    assert ">On<" in row
    assert f'datetime="{last.received_at.isoformat()}"' in row
    assert "The contact is blocked." in row and "No From field." not in row
    quiet_row = page.split(f'id="channel-{quiet.pk}"')[1].split("</tr>")[0]
    assert ">Off<" in quiet_row and "Never" in quiet_row and "None" in quiet_row


def test_the_list_runs_the_same_queries_for_one_channel_or_many(
    tenant, owner, login, inbox, django_assert_max_num_queries
):
    client = login(owner)
    _event(inbox, WebhookEvent.State.FAILED, minutes_ago=1, error="boom")
    with CaptureQueriesContext(connection) as one:
        assert client.get("/settings/channels/").status_code == 200
    for _ in range(6):
        other = make_inbox(tenant)
        _event(other, WebhookEvent.State.PROCESSED, minutes_ago=2)
        _event(other, WebhookEvent.State.INVALID, minutes_ago=3, error="bad")
    with django_assert_max_num_queries(len(one)):
        page = client.get("/settings/channels/").content.decode()
    assert page.count('<tr id="channel-') == 7


# --- connecting a channel -----------------------------------------------------------------------


def _twilio_form(sim, **overrides):
    form = {
        "provider": "twilio",
        "kind": Channel.SMS,
        "name": "Front desk",
        "address": "+1 415 555 0123",
        "account_sid": new_account_sid(),
        "auth_token": "connect-token-0123456789",
        "api_base_url": sim.base_url,
    }
    return {**form, **overrides}


def test_the_connect_page_offers_every_provider_and_its_kinds(owner, login):
    page = login(owner).get("/settings/channels/connect/").content.decode()
    assert "SMS and WhatsApp through a Twilio account." in page
    assert "?provider=twilio&amp;kind=sms" in page and "?provider=twilio&amp;kind=whatsapp" in page
    assert "?provider=anymail&amp;kind=email" in page
    form = login(owner).get("/settings/channels/connect/?provider=twilio&kind=sms")
    html = form.content.decode()
    assert 'id="connect-form"' in html
    assert 'name="auth_token" type="password"' in html and 'name="account_sid"' in html


def test_an_admin_connects_a_twilio_number(tenant, owner, login, fake_twilio):
    form = _twilio_form(fake_twilio)
    response = login(owner).post("/settings/channels/connect/", form)
    assert response.status_code == 201
    inbox = Inbox.objects.get(tenant=tenant)
    assert (inbox.provider, inbox.kind, inbox.address) == ("twilio", "sms", "+14155550123")
    assert inbox.get_credentials() == {
        "account_sid": form["account_sid"],
        "auth_token": form["auth_token"],
        "api_base_url": fake_twilio.base_url,
    }
    page = response.content.decode()
    assert inbox.webhook_token in page and 'id="generated-secrets"' not in page
    assert form["auth_token"] not in page
    created = AuditEvent.objects.get(action=AuditEvent.Action.INBOX_CREATED)
    assert created.actor == owner and created.target_id == str(inbox.pk)


def test_invalid_credentials_are_refused_next_to_the_form(tenant, owner, login, fake_twilio):
    form = _twilio_form(fake_twilio, account_sid="AC123")
    response = login(owner).post("/settings/channels/connect/", form)
    assert response.status_code == 400
    page = response.content.decode()
    assert 'id="connect-error"' in page
    assert "account_sid must be “AC” followed by 32 hexadecimal" in page
    assert form["auth_token"] not in page  # a secret is never sent back, even to retype
    assert 'value="+1 415 555 0123"' in page  # what may be shown is kept
    assert not Inbox.objects.filter(tenant=tenant).exists()


def test_an_unknown_provider_or_kind_is_refused(tenant, owner, login, fake_twilio):
    client = login(owner)
    unknown = client.post("/settings/channels/connect/", _twilio_form(fake_twilio, provider="x"))
    assert unknown.status_code == 400 and "Unknown provider “x”" in unknown.content.decode()
    email = client.post("/settings/channels/connect/", _twilio_form(fake_twilio, kind="email"))
    assert email.status_code == 400
    assert "twilio inboxes are sms or whatsapp, not “email”" in email.content.decode()
    assert not Inbox.objects.filter(tenant=tenant).exists()


def test_a_second_channel_on_the_same_address_is_a_conflict(tenant, owner, login, fake_twilio):
    client = login(owner)
    assert client.post("/settings/channels/connect/", _twilio_form(fake_twilio)).status_code == 201
    response = client.post("/settings/channels/connect/", _twilio_form(fake_twilio))
    assert response.status_code == 409
    assert "already has a SMS inbox for +14155550123" in response.content.decode()
    assert Inbox.objects.filter(tenant=tenant).count() == 1


def test_the_email_form_follows_the_chosen_service(owner, login):
    client = login(owner)
    url = "/settings/channels/connect/?provider=anymail&kind=email"
    page = client.get(url).content.decode()
    assert 'name="esp"' in page and 'name="server_token"' not in page
    piece = client.get(f"{url}&esp=postmark", headers={"HX-Request": "true"})
    html = piece.content.decode()
    assert 'id="credential-fields"' in html
    assert "<html" not in html and 'name="server_token" type="password"' in html
    assert 'value="postmark" selected' in html


def test_connecting_email_shows_the_generated_webhook_secret_once(tenant, owner, login):
    client = login(owner)
    response = client.post(
        "/settings/channels/connect/",
        {
            "provider": "anymail",
            "kind": Channel.EMAIL,
            "address": "Support@Acme.test",
            "esp": "postmark",
            "server_token": "pm-server-token",
        },
    )
    assert response.status_code == 201, response.content.decode()[-2000:]
    inbox = Inbox.objects.get(tenant=tenant)
    secret = inbox.get_credentials()["webhook_secret"]
    assert secret.startswith("centro:")
    page = response.content.decode()
    assert 'id="generated-secrets"' in page and secret in page
    assert "pm-server-token" not in page
    again = client.get(f"/settings/channels/{inbox.pk}/").content.decode()
    assert secret not in again and 'id="generated-secrets"' not in again
    row = AuditEvent.objects.get(action=CHANGED, data__change="inbox_created")
    assert "webhook_secret" in row.data["keys"] and secret not in str(row.data)


# --- test connection ----------------------------------------------------------------------------


def test_test_connection_reaches_the_fake_twilio(tenant, owner, login, twilio_inbox, fake_twilio):
    inbox = twilio_inbox(tenant)
    response = login(owner).post(f"/settings/channels/{inbox.pk}/test/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-ok="true"' in page
    assert "Connected to the Twilio account “Centro simulator account”." in page
    sid = inbox.get_credentials()["account_sid"]
    assert any(f"/2010-04-01/Accounts/{sid}.json" in r.path for r in fake_twilio.requests)


def test_test_connection_says_when_twilio_refuses_the_token(
    tenant, owner, login, twilio_inbox, fake_twilio
):
    inbox = twilio_inbox(tenant)
    fake_twilio.accounts = {inbox.get_credentials()["account_sid"]: "the-real-token"}
    page = login(owner).post(f"/settings/channels/{inbox.pk}/test/").content.decode()
    assert 'data-ok="false"' in page
    assert "Twilio rejected this inbox&#x27;s credentials (HTTP 401)" in page


# --- permissions, tenancy, old addresses --------------------------------------------------------


def _every_view(pk: int) -> list[tuple[str, str, dict]]:
    return [
        ("get", "/settings/channels/", {}),
        ("get", "/settings/channels/connect/", {}),
        ("post", "/settings/channels/connect/", {"provider": "twilio", "kind": "sms"}),
        ("get", f"/settings/channels/{pk}/", {}),
        ("post", f"/settings/channels/{pk}/edit/", {"name": "X"}),
        ("post", f"/settings/channels/{pk}/credentials/", {"auth_token": "x"}),
        ("post", f"/settings/channels/{pk}/test/", {}),
    ]


@pytest.mark.parametrize("role", ["agent", "viewer"])
def test_agents_and_viewers_get_403_everywhere(tenant, make_member, login, inbox, role):
    client = login(make_member(tenant, role))
    for method, url, data in _every_view(inbox.pk):
        assert getattr(client, method)(url, data).status_code == 403, (method, url)
    inbox.refresh_from_db()
    assert inbox.name == "Front desk" and inbox.get_credentials()["auth_token"] == SECRET


def test_a_supervisor_sees_but_cannot_connect_or_test(tenant, make_member, login, inbox):
    client = login(make_member(tenant, "supervisor"))
    page = client.get("/settings/channels/").content.decode()
    assert "Front desk" in page and 'id="connect-channel"' not in page
    detail = client.get(f"/settings/channels/{inbox.pk}/").content.decode()
    assert 'id="test-form"' not in detail
    assert client.get("/settings/channels/connect/").status_code == 403
    assert client.post(f"/settings/channels/{inbox.pk}/test/").status_code == 403


def test_another_tenants_admin_gets_404_on_every_channel_view(
    other_tenant, make_member, login, inbox
):
    client = login(make_member(other_tenant, "admin"))
    for method, url, data in _every_view(inbox.pk):
        if str(inbox.pk) in url:
            assert getattr(client, method)(url, data).status_code == 404, (method, url)
    assert "Front desk" not in client.get("/settings/channels/").content.decode()
    inbox.refresh_from_db()
    assert inbox.name == "Front desk" and inbox.get_credentials()["auth_token"] == SECRET


def test_old_inbox_addresses_redirect_for_good(owner, login, inbox):
    client = login(owner)
    listing = client.get("/settings/inboxes/")
    assert listing.status_code == 301 and listing["Location"] == "/settings/channels/"
    detail = client.get(f"/settings/inboxes/{inbox.pk}/")
    assert detail.status_code == 301 and detail["Location"] == f"/settings/channels/{inbox.pk}/"
    posted = client.post(f"/settings/inboxes/{inbox.pk}/edit/", {"name": "Reception"})
    assert posted.status_code == 308
    assert posted["Location"] == f"/settings/channels/{inbox.pk}/edit/"
