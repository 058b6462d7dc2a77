import sys
import types

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.urls import include, path, reverse

from omnichannel.actions import do_create_role, do_invite_member
from omnichannel.admin import EncryptedFieldsAdminMixin
from omnichannel.models import (
    ApiToken,
    AuditEvent,
    Invitation,
    Membership,
    Role,
    Tenant,
    hash_secret,
)
from tests.omnichannel.test_crypto import temporary_secret_model

pytestmark = pytest.mark.django_db

PLATFORM_MODELS = [Tenant, Membership, Role, Invitation, ApiToken, AuditEvent]


@pytest.fixture
def staff_client(client, db):
    user = get_user_model().objects.create_superuser(
        "staff", "staff@centro.test", "staff password 123"
    )
    client.force_login(user)
    return client


@pytest.fixture
def platform_data(tenant, other_tenant, api_token, owner):
    role = do_create_role(tenant, name="Auditor", codenames=["audit.view"])
    invitation, raw_invite = do_invite_member(
        tenant, email="new@acme.test", role=Role.objects.get(tenant=tenant, builtin="agent")
    )
    return {
        "role": role,
        "invitation": invitation,
        "raw_invite": raw_invite,
        "token": ApiToken.objects.get(token_hash=hash_secret(api_token)),
        "raw_token": api_token,
    }


def secrets_of(data) -> list[str]:
    return [
        data["raw_token"],
        data["token"].token_hash,
        data["raw_invite"],
        data["invitation"].token_hash,
    ]


def admin_url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.mark.parametrize("model", PLATFORM_MODELS, ids=lambda m: m.__name__)
def test_it_loads_the_changelist_and_change_pages(staff_client, platform_data, model):
    obj = model.objects.order_by("pk").first()
    assert obj is not None
    pages = [
        admin_url(model, "changelist"),
        admin_url(model, "changelist") + "?q=acme",
        admin_url(model, "change", obj.pk),
    ]
    for url in pages:
        response = staff_client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        for secret in secrets_of(platform_data):
            assert secret not in html, (url, "a secret is on the page")


@pytest.mark.parametrize("model", PLATFORM_MODELS, ids=lambda m: m.__name__)
def test_it_uses_a_bounded_number_of_queries_on_changelists(
    staff_client, platform_data, model, django_assert_max_num_queries
):
    for i in range(5):
        do_create_role(platform_data["role"].tenant, name=f"Extra {i}", codenames=[])
    with django_assert_max_num_queries(15):
        assert staff_client.get(admin_url(model, "changelist")).status_code == 200


def test_it_shows_a_token_hint_never_its_hash(staff_client, platform_data):
    token = platform_data["token"]
    html = staff_client.get(admin_url(ApiToken, "change", token.pk)).content.decode()
    assert f"{token.hint}…" in html
    assert "token_hash" not in html


def test_it_refuses_to_add_tokens_invitations_and_audit_events(staff_client, platform_data):
    for model in (ApiToken, Invitation, AuditEvent):
        assert staff_client.get(admin_url(model, "add")).status_code == 403


def test_it_keeps_audit_events_read_only(staff_client, platform_data):
    event = AuditEvent.objects.first()
    url = admin_url(AuditEvent, "change", event.pk)
    html = staff_client.get(url).content.decode()
    assert 'name="_save"' not in html
    response = staff_client.post(url, {"action": "role.deleted", "target_repr": "forged"})
    assert response.status_code == 403
    event.refresh_from_db()
    assert event.target_repr != "forged"
    assert staff_client.get(admin_url(AuditEvent, "delete", event.pk)).status_code == 403


def test_it_revokes_tokens_with_an_audited_admin_action(staff_client, platform_data):
    token = platform_data["token"]
    response = staff_client.post(
        admin_url(ApiToken, "changelist"),
        {"action": "revoke", "_selected_action": [token.pk]},
    )
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.API_TOKEN_REVOKED, target_id=str(token.pk)
    ).exists()


def test_it_edits_a_custom_role_with_permission_checkboxes(staff_client, platform_data):
    role = platform_data["role"]
    url = admin_url(Role, "change", role.pk)
    html = staff_client.get(url).content.decode()
    assert 'value="audit.view"' in html and 'type="checkbox"' in html
    response = staff_client.post(
        url,
        {
            "tenant": role.tenant_id,
            "name": "Auditor",
            "description": "",
            "permissions": ["audit.view", "reports.view"],
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    role.refresh_from_db()
    assert role.permissions == ["audit.view", "reports.view"]


def test_it_shows_a_builtin_role_effective_permissions(staff_client, tenant):
    owner_role = Role.objects.get(tenant=tenant, builtin="owner")
    html = staff_client.get(admin_url(Role, "change", owner_role.pk)).content.decode()
    assert "api_tokens.manage" in html


# --- Encrypted credential fields -----------------------------------------------------------------


@pytest.fixture
def credential_admin(db, settings):
    """A temporary model with encrypted fields, in an admin site of its own."""
    with temporary_secret_model() as model:

        class CredentialAdmin(EncryptedFieldsAdminMixin, admin.ModelAdmin):
            list_display = ["label"]

        site = admin.AdminSite(name="credentials_admin")
        site.register(model, CredentialAdmin)
        urlconf = types.ModuleType("tests_credentials_admin_urls")
        urlconf.urlpatterns = [
            path("credentials-admin/", site.urls),
            path("", include("omnichannel.urls")),
        ]
        sys.modules[urlconf.__name__] = urlconf
        settings.ROOT_URLCONF = urlconf.__name__
        try:
            yield model
        finally:
            del sys.modules[urlconf.__name__]


def credential_change_url(model, pk: int) -> str:
    label = f"{model._meta.app_label}_{model._meta.model_name}"
    return reverse(f"credentials_admin:{label}_change", args=[pk])


def test_it_shows_credentials_masked_never_in_plaintext(staff_client, credential_admin):
    row = credential_admin.objects.create(label="twilio", secret="AC-secret-token-9f3a")
    html = staff_client.get(credential_change_url(credential_admin, row.pk)).content.decode()
    assert "AC-secret-token-9f3a" not in html
    assert "AC-secret" not in html
    assert "••••9f3a" in html
    assert 'type="password"' in html


def test_it_keeps_a_credential_when_left_blank(staff_client, credential_admin):
    row = credential_admin.objects.create(label="twilio", secret="AC-secret-token-9f3a")
    url = credential_change_url(credential_admin, row.pk)
    response = staff_client.post(url, {"label": "renamed", "secret": "", "other_secret": ""})
    assert response.status_code == 302, response.content.decode()[:3000]
    row.refresh_from_db()
    assert (row.label, row.secret) == ("renamed", "AC-secret-token-9f3a")


def test_it_replaces_a_credential_when_a_new_one_is_typed(staff_client, credential_admin):
    row = credential_admin.objects.create(label="twilio", secret="AC-secret-token-9f3a")
    url = credential_change_url(credential_admin, row.pk)
    response = staff_client.post(url, {"label": "twilio", "secret": "new-value-0000"})
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.secret == "new-value-0000"


def test_it_clears_a_credential_only_when_asked(staff_client, credential_admin):
    row = credential_admin.objects.create(label="x", secret="AC-secret-token-9f3a")
    url = credential_change_url(credential_admin, row.pk)
    response = staff_client.post(url, {"label": "x", "secret": "", "secret__clear": "on"})
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.secret == ""


def test_it_adds_a_row_with_a_credential(staff_client, credential_admin):
    label = f"{credential_admin._meta.app_label}_{credential_admin._meta.model_name}"
    url = reverse(f"credentials_admin:{label}_add")
    assert staff_client.get(url).status_code == 200
    response = staff_client.post(url, {"label": "new", "secret": "first-value-1234"})
    assert response.status_code == 302
    assert credential_admin.objects.get(label="new").secret == "first-value-1234"
