"""Refused attempts are audited (403 in pages and the API, 401 for a bad API token), at most one
row per actor or address + action + path per window; and audit rows name who acted."""

import time

import pytest
from django.test import Client

from omnichannel.actions import do_revoke_api_token
from omnichannel.models import AuditEvent
from tests.inbox.api_factories import assert_error, bearer, token_for

pytestmark = pytest.mark.django_db
DENIED = AuditEvent.Action.PERMISSION_DENIED
REJECTED = AuditEvent.Action.API_TOKEN_REJECTED


def test_it_audits_a_page_refused_for_lack_of_permission(tenant, make_member, login):
    agent = make_member(tenant, "agent")
    response = login(agent).get("/settings/api-tokens/", REMOTE_ADDR="203.0.113.5")
    assert response.status_code == 403
    row = AuditEvent.objects.get(action=DENIED)
    assert row.tenant == tenant and row.actor == agent
    assert row.data == {
        "method": "GET",
        "path": "/settings/api-tokens/",
        "permission": "api_tokens.manage",
    }
    assert row.ip_address == "203.0.113.5"


def test_it_audits_an_api_route_refused_for_lack_of_permission(client, tenant):
    raw = token_for(tenant, "agent")
    assert_error(client.get("/api/v1/tokens", **bearer(raw)), 403, "forbidden")
    row = AuditEvent.objects.get(action=DENIED)
    assert row.tenant == tenant and row.actor is None
    assert row.actor_token is not None and row.actor_token.name == "agent token"
    assert row.data["permission"] == "api_tokens.manage" and row.data["path"] == "/api/v1/tokens"


def test_it_audits_a_revoked_token_in_its_tenant(client, tenant):
    raw = token_for(tenant, "owner")
    token = AuditEvent.objects.filter(action=AuditEvent.Action.API_TOKEN_CREATED).get().target_id
    from omnichannel.models import ApiToken

    do_revoke_api_token(ApiToken.objects.get(pk=token))
    assert_error(client.get("/api/v1/me", **bearer(raw)), 401, "unauthenticated")
    row = AuditEvent.objects.get(action=REJECTED)
    assert row.tenant == tenant and row.actor_token_id == int(token)
    assert row.data["reason"] == "revoked"


def test_it_audits_an_unknown_token_by_address_without_its_value(client, tenant):
    raw = "ctr_" + "x" * 40
    response = client.get("/api/v1/me", REMOTE_ADDR="198.51.100.7", **bearer(raw))
    assert_error(response, 401, "unauthenticated")
    row = AuditEvent.objects.get(action=REJECTED)
    assert row.tenant is None and row.actor is None and row.actor_token is None
    assert row.ip_address == "198.51.100.7" and row.data["reason"] == "unknown"
    assert raw not in str(row.data) and "xxxx" not in row.user_agent


def test_it_does_not_audit_a_request_without_a_token(client, tenant):
    assert_error(client.get("/api/v1/me"), 401, "unauthenticated")
    assert not AuditEvent.objects.filter(action=REJECTED).exists()


def test_a_flood_of_refusals_writes_one_row_per_actor_action_and_path(tenant, make_member, login):
    agent = make_member(tenant, "agent")
    client = login(agent)
    for _ in range(20):
        assert client.get("/settings/api-tokens/").status_code == 403
    assert AuditEvent.objects.filter(action=DENIED).count() == 1
    assert client.get("/settings/roles/").status_code == 403  # another path: its own row
    assert AuditEvent.objects.filter(action=DENIED).count() == 2
    viewer = make_member(tenant, "viewer")
    assert login(viewer).get("/settings/api-tokens/").status_code == 403  # another actor
    assert AuditEvent.objects.filter(action=DENIED).count() == 3


def test_unknown_tokens_are_throttled_per_address(client, tenant):
    for n in range(10):
        client.get("/api/v1/me", REMOTE_ADDR="198.51.100.7", **bearer(f"ctr_bad{n}"))
    assert AuditEvent.objects.filter(action=REJECTED).count() == 1
    Client().get("/api/v1/me", REMOTE_ADDR="198.51.100.8", **bearer("ctr_bad"))
    assert AuditEvent.objects.filter(action=REJECTED).count() == 2


def test_the_throttle_lets_a_new_row_through_after_its_window(tenant, make_member, login, settings):
    settings.AUDIT_REFUSAL_WINDOW_SECONDS = 1
    client = login(make_member(tenant, "agent"))
    assert client.get("/settings/api-tokens/").status_code == 403
    assert client.get("/settings/api-tokens/").status_code == 403
    assert AuditEvent.objects.filter(action=DENIED).count() == 1
    time.sleep(1.2)
    assert client.get("/settings/api-tokens/").status_code == 403
    assert AuditEvent.objects.filter(action=DENIED).count() == 2


def test_rows_written_in_a_page_name_the_signed_in_user(tenant, owner, login):
    response = login(owner).post("/settings/labels/new/", {"name": "VIP", "color": "blue"})
    assert response.status_code == 302
    row = AuditEvent.objects.get(action=AuditEvent.Action.LABEL_CREATED)
    assert row.actor == owner and row.tenant == tenant and row.target_repr


def test_rows_written_through_the_api_name_the_token(client, tenant):
    """The list API does not tell the action who calls it: the request being served does."""
    raw = token_for(tenant, "owner")
    response = client.post(
        "/api/v1/contacts/lists",
        data={"name": "Newsletter"},
        content_type="application/json",
        **bearer(raw),
    )
    assert response.status_code == 201, response.content
    row = AuditEvent.objects.get(action=AuditEvent.Action.LIST_CREATED)
    assert row.actor is None and row.actor_token.name == "owner token"
    assert row.tenant == tenant and row.target_repr


def test_the_audit_trail_shows_refusals_and_changed_field_names(tenant, owner, login, make_member):
    login(make_member(tenant, "agent")).get("/settings/api-tokens/")
    page = login(owner).get("/settings/audit/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Permission refused" in text and "permission: api_tokens.manage" in text
