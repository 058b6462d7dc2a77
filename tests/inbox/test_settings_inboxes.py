"""Settings → Inboxes: each inbox's name, switch and credentials (``credentials.manage``),
secrets never shown back, changes audited with the key names only."""

import pytest

from inbox.models import Inbox
from omnichannel.models import AuditEvent
from tests.inbox.api_factories import ACCOUNT_SID, make_inbox
from tests.inbox.conftest import make_email_inbox

pytestmark = pytest.mark.django_db
CHANGED = AuditEvent.Action.CREDENTIAL_CHANGED
SECRET = "s3cr3t-auth-token"  # what make_inbox stores


@pytest.fixture
def inbox(tenant):
    return make_inbox(tenant, name="Front desk")


def _credential_rows():
    return AuditEvent.objects.filter(action=CHANGED, data__change="credentials_updated")


def test_the_list_shows_the_tenants_inboxes(tenant, other_tenant, owner, login, inbox):
    make_inbox(other_tenant, name="Theirs")
    page = login(owner).get("/settings/inboxes/").content.decode()
    assert "Front desk" in page and "Theirs" not in page
    assert f'href="/settings/inboxes/{inbox.pk}/"' in page
    assert 'href="/settings/inboxes/"' in page  # in the settings navigation


def test_the_inbox_page_never_shows_a_secret(owner, login, inbox):
    page = login(owner).get(f"/settings/inboxes/{inbox.pk}/").content.decode()
    assert 'id="credentials-form"' in page
    assert SECRET not in page and ACCOUNT_SID not in page
    assert "AC…cdef — set; leave blank to keep" in page
    assert 'name="auth_token" type="password" value=""' in page


def test_an_admin_changes_one_secret_and_keeps_the_others(owner, login, inbox):
    response = login(owner).post(
        f"/settings/inboxes/{inbox.pk}/credentials/",
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
    client.post(f"/settings/inboxes/{inbox.pk}/credentials/", {"messaging_service_sid": sid})
    inbox.refresh_from_db()
    assert inbox.get_credentials()["messaging_service_sid"] == sid
    assert "MG" + "b" * 32 in client.get(f"/settings/inboxes/{inbox.pk}/").content.decode()
    client.post(f"/settings/inboxes/{inbox.pk}/credentials/", {"messaging_service_sid": ""})
    inbox.refresh_from_db()
    assert "messaging_service_sid" not in inbox.get_credentials()
    assert [r.data["keys"] for r in _credential_rows().order_by("id")] == [
        ["messaging_service_sid"],
        ["messaging_service_sid"],
    ]


def test_nothing_changed_writes_nothing(owner, login, inbox):
    response = login(owner).post(f"/settings/inboxes/{inbox.pk}/credentials/", {"auth_token": ""})
    assert response.status_code == 302
    assert not _credential_rows().exists()


def test_bad_credentials_are_refused_as_at_creation(owner, login, inbox):
    response = login(owner).post(
        f"/settings/inboxes/{inbox.pk}/credentials/", {"account_sid": "AC123"}
    )
    assert response.status_code == 400
    assert "account_sid must be “AC” followed by 32 hexadecimal" in response.content.decode()
    inbox.refresh_from_db()
    assert inbox.get_credentials()["account_sid"] == ACCOUNT_SID
    assert not _credential_rows().exists()


def test_an_email_inbox_shows_its_esps_fields(tenant, owner, login):
    inbox = make_email_inbox(tenant, esp="postmark", server_token="pm-token-1")
    client = login(owner)
    page = client.get(f"/settings/inboxes/{inbox.pk}/").content.decode()
    assert 'name="server_token"' in page and 'name="api_url"' in page
    assert "pm-token-1" not in page and "anymail-pass" not in page
    response = client.post(
        f"/settings/inboxes/{inbox.pk}/credentials/", {"server_token": "pm-token-2"}
    )
    assert response.status_code == 302
    inbox.refresh_from_db()
    assert inbox.get_credentials()["server_token"] == "pm-token-2"
    assert inbox.get_credentials()["webhook_secret"] == "anymail-user:anymail-pass"
    assert _credential_rows().get().data["keys"] == ["server_token"]


def test_without_credentials_manage_the_form_is_not_offered_and_posts_get_403(
    tenant, make_member, login, inbox
):
    supervisor = make_member(tenant, "supervisor")  # sees inboxes, cannot change credentials
    client = login(supervisor)
    page = client.get(f"/settings/inboxes/{inbox.pk}/").content.decode()
    assert 'id="credentials-form"' not in page and "Auth token: set" in page
    response = client.post(f"/settings/inboxes/{inbox.pk}/credentials/", {"auth_token": "x"})
    assert response.status_code == 403
    inbox.refresh_from_db()
    assert inbox.get_credentials()["auth_token"] == SECRET
    refusal = AuditEvent.objects.get(action=AuditEvent.Action.PERMISSION_DENIED)
    assert refusal.data["permission"] == "credentials.manage" and refusal.actor == supervisor


def test_agents_cannot_see_the_inboxes(tenant, make_member, login, inbox):
    assert login(make_member(tenant, "agent")).get("/settings/inboxes/").status_code == 403


def test_another_tenants_inbox_is_404(other_tenant, owner, login):
    theirs = make_inbox(other_tenant)
    client = login(owner)
    assert client.get(f"/settings/inboxes/{theirs.pk}/").status_code == 404
    response = client.post(f"/settings/inboxes/{theirs.pk}/credentials/", {"auth_token": "x"})
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.get_credentials()["auth_token"] == SECRET


def test_renaming_and_switching_off_is_audited(tenant, owner, make_member, login, inbox):
    response = login(owner).post(f"/settings/inboxes/{inbox.pk}/edit/", {"name": "Reception"})
    assert response.status_code == 302
    inbox.refresh_from_db()
    assert inbox.name == "Reception" and inbox.is_active is False
    row = AuditEvent.objects.get(action=AuditEvent.Action.INBOX_CHANGED)
    assert row.data == {"changed": ["is_active", "name"]} and row.actor == owner
    supervisor = make_member(tenant, "supervisor")
    refused = login(supervisor).post(f"/settings/inboxes/{inbox.pk}/edit/", {"name": "X"})
    assert refused.status_code == 403
    assert Inbox.objects.get(pk=inbox.pk).name == "Reception"
