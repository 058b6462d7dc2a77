import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from omnichannel import audit
from omnichannel.actions import do_create_api_token, do_create_role, do_revoke_api_token
from omnichannel.models import ApiToken, AuditEvent, Role, hash_secret

pytestmark = [pytest.mark.django_db, pytest.mark.clock]


def bearer(raw: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def token_for(tenant, role: str = "owner", name: str = "Test") -> tuple[ApiToken, str]:
    return do_create_api_token(
        tenant, name=name, role=Role.objects.get(tenant=tenant, builtin=role)
    )


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


# --- Tokens: storage, authentication, revocation ------------------------------------------------


def test_it_stores_only_the_hash_of_a_token(tenant):
    token, raw = token_for(tenant)
    token.refresh_from_db()
    assert token.token_hash == hash_secret(raw)
    assert raw not in token.token_hash
    assert raw.startswith(token.hint) and len(token.hint) < len(raw)
    with connection.cursor() as cursor:
        cursor.execute("SELECT row_to_json(t)::text FROM omnichannel_apitoken t")
        rows = [r[0] for r in cursor.fetchall()]
        cursor.execute("SELECT row_to_json(a)::text FROM omnichannel_auditevent a")
        audit_rows = [r[0] for r in cursor.fetchall()]
    assert rows and audit_rows
    assert not any(raw in row for row in rows + audit_rows)


def test_it_answers_me_with_the_tenant_and_the_token_permissions(client, tenant):
    token, raw = token_for(tenant, role="agent", name="Zapier")
    response = client.get("/api/v1/me", **bearer(raw))
    assert response.status_code == 200
    body = response.json()
    assert body["tenant"] == {
        "id": tenant.pk,
        "name": tenant.name,
        "slug": tenant.slug,
        "timezone": tenant.timezone,
    }
    assert body["token"] == {"id": token.pk, "name": "Zapier", "role": "Agent"}
    role = Role.objects.get(tenant=tenant, builtin="agent")
    assert body["permissions"] == sorted(role.codenames())
    assert "api_tokens.manage" not in body["permissions"]


def test_it_sets_last_used_at_without_writing_audit_rows(client, tenant, api_token):
    token = ApiToken.objects.get(token_hash=hash_secret(api_token))
    assert token.last_used_at is None
    audit_count = AuditEvent.objects.count()
    assert client.get("/api/v1/me", **bearer(api_token)).status_code == 200
    token.refresh_from_db()
    first_use = token.last_used_at
    assert first_use is not None
    assert client.get("/api/v1/me", **bearer(api_token)).status_code == 200
    token.refresh_from_db()
    assert token.last_used_at == first_use  # throttled: once a minute at most
    assert AuditEvent.objects.count() == audit_count


def test_it_refreshes_last_used_at_after_the_throttle_interval(client, tenant, api_token):
    stale = timezone.now() - timedelta(minutes=5)
    ApiToken.objects.filter(token_hash=hash_secret(api_token)).update(last_used_at=stale)
    assert client.get("/api/v1/me", **bearer(api_token)).status_code == 200
    token = ApiToken.objects.get(token_hash=hash_secret(api_token))
    assert token.last_used_at > stale


def test_it_refuses_a_token_at_once_after_revocation(client, tenant, api_token):
    assert client.get("/api/v1/me", **bearer(api_token)).status_code == 200
    do_revoke_api_token(ApiToken.objects.get(token_hash=hash_secret(api_token)))
    assert_error(client.get("/api/v1/me", **bearer(api_token)), 401, "unauthenticated")


def test_it_refuses_tokens_of_an_inactive_tenant(client, tenant, api_token):
    tenant.is_active = False
    tenant.save()
    assert_error(client.get("/api/v1/me", **bearer(api_token)), 401, "unauthenticated")


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Token ctr_abc",
        "Bearer ctr_not-a-real-token",
        "Bearer not-even-prefixed",
        "Bearer ctr_" + "x" * 500,
        "Bearer ctr_\x00\x01",
        "Bearer  ctr_double-space",
        "bearer",
    ],
)
def test_it_answers_401_json_for_bad_authorization_headers(client, tenant, api_token, header):
    extra = {} if header is None else {"HTTP_AUTHORIZATION": header}
    response = client.get("/api/v1/me", **extra)
    assert_error(response, 401, "unauthenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


# --- Routes that need permissions ---------------------------------------------------------------


def test_it_lists_the_tenant_tokens_without_secrets(client, tenant, other_tenant, api_token):
    mine, mine_raw = token_for(tenant, role="viewer", name="Reporting")
    theirs, _ = token_for(other_tenant, name="Globex token")
    response = client.get("/api/v1/tokens", **bearer(api_token))
    assert response.status_code == 200
    body = response.json()
    ids = {item["id"] for item in body["items"]}
    assert mine.pk in ids and theirs.pk not in ids
    assert body["count"] == ApiToken.objects.filter(tenant=tenant).count()
    entry = next(item for item in body["items"] if item["id"] == mine.pk)
    assert entry["name"] == "Reporting"
    assert entry["role"] == "Viewer"
    assert entry["hint"] == mine.hint
    assert entry["active"] is True
    text = response.content.decode()
    assert mine.token_hash not in text and mine_raw not in text and api_token not in text
    assert "token_hash" not in text


def test_it_revokes_a_token_through_the_api_and_records_who(client, tenant, api_token):
    target, target_raw = token_for(tenant, name="CI")
    caller = ApiToken.objects.get(token_hash=hash_secret(api_token))
    response = client.post(f"/api/v1/tokens/{target.pk}/revoke", **bearer(api_token))
    assert response.status_code == 200
    assert response.json()["revoked_at"] is not None
    assert response.json()["active"] is False
    assert_error(client.get("/api/v1/me", **bearer(target_raw)), 401, "unauthenticated")
    event = AuditEvent.objects.get(action=AuditEvent.Action.API_TOKEN_REVOKED)
    assert event.tenant == tenant
    assert event.actor_token == caller
    assert event.target_id == str(target.pk)
    # Revoking again is harmless and writes nothing more.
    again = client.post(f"/api/v1/tokens/{target.pk}/revoke", **bearer(api_token))
    assert again.status_code == 200
    assert AuditEvent.objects.filter(action=AuditEvent.Action.API_TOKEN_REVOKED).count() == 1


def test_it_lets_a_token_revoke_itself(client, tenant, api_token):
    caller = ApiToken.objects.get(token_hash=hash_secret(api_token))
    response = client.post(f"/api/v1/tokens/{caller.pk}/revoke", **bearer(api_token))
    assert response.status_code == 200
    assert_error(client.get("/api/v1/me", **bearer(api_token)), 401, "unauthenticated")


def test_it_answers_404_for_a_token_of_another_tenant(client, tenant, other_tenant, api_token):
    theirs, theirs_raw = token_for(other_tenant)
    response = client.post(f"/api/v1/tokens/{theirs.pk}/revoke", **bearer(api_token))
    missing = client.post("/api/v1/tokens/999999999/revoke", **bearer(api_token))
    # The same answer for "not yours" and "does not exist".
    assert assert_error(response, 404, "not_found") == assert_error(missing, 404, "not_found")
    theirs.refresh_from_db()
    assert theirs.revoked_at is None
    assert client.get("/api/v1/me", **bearer(theirs_raw)).status_code == 200


def test_it_forbids_revoking_with_a_viewer_token_naming_the_permission(client, tenant):
    target, _ = token_for(tenant, name="CI")
    _, viewer_raw = token_for(tenant, role="viewer", name="Dashboards")
    response = client.post(f"/api/v1/tokens/{target.pk}/revoke", **bearer(viewer_raw))
    err = assert_error(response, 403, "forbidden")
    assert err["permission"] == "api_tokens.manage"
    assert "api_tokens.manage" in err["message"]
    target.refresh_from_db()
    assert target.revoked_at is None
    assert_error(client.get("/api/v1/tokens", **bearer(viewer_raw)), 403, "forbidden")
    assert_error(client.get("/api/v1/audit-events", **bearer(viewer_raw)), 403, "forbidden")


def test_it_follows_a_custom_role_on_api_routes(client, tenant):
    role = do_create_role(tenant, name="Auditor", codenames=["audit.view"])
    _, raw = do_create_api_token(tenant, name="SIEM", role=role)
    assert client.get("/api/v1/audit-events", **bearer(raw)).status_code == 200
    err = assert_error(client.get("/api/v1/tokens", **bearer(raw)), 403, "forbidden")
    assert err["permission"] == "api_tokens.manage"


def test_it_creates_a_token_through_the_api_shown_once(client, tenant, api_token):
    response = client.post(
        "/api/v1/tokens",
        data={"name": "Zapier", "role": "agent"},
        content_type="application/json",
        **bearer(api_token),
    )
    assert response.status_code == 201, response.content
    body = response.json()
    raw = body["api_token"]
    token = ApiToken.objects.get(pk=body["token"]["id"])
    assert token.tenant == tenant and token.role.builtin == "agent"
    assert token.token_hash == hash_secret(raw)
    assert client.get("/api/v1/me", **bearer(raw)).json()["token"]["role"] == "Agent"
    listed = client.get("/api/v1/tokens", **bearer(api_token)).content.decode()
    assert raw not in listed
    event = AuditEvent.objects.get(action=AuditEvent.Action.API_TOKEN_CREATED, target_id=token.pk)
    assert event.actor_token.token_hash == hash_secret(api_token)


def test_it_refuses_to_create_a_token_stronger_than_the_caller(client, tenant):
    _, admin_raw = token_for(tenant, role="admin", name="Admin automation")
    response = client.post(
        "/api/v1/tokens",
        data={"name": "Escalation", "role": "owner"},
        content_type="application/json",
        **bearer(admin_raw),
    )
    assert_error(response, 403, "forbidden")
    assert not ApiToken.objects.filter(name="Escalation").exists()


def test_a_token_created_without_a_role_gets_the_agent_role(client, tenant, api_token):
    response = client.post(
        "/api/v1/tokens",
        data={"name": "Helpdesk bot"},
        content_type="application/json",
        **bearer(api_token),
    )
    assert response.status_code == 201, response.content
    assert response.json()["token"]["role"] == "Agent"
    assert ApiToken.objects.get(name="Helpdesk bot").role.builtin == "agent"


def test_it_refuses_a_role_of_another_tenant_when_creating_a_token(
    client, tenant, other_tenant, api_token
):
    do_create_role(other_tenant, name="Globex only", codenames=["audit.view"])
    response = client.post(
        "/api/v1/tokens",
        data={"name": "Sneaky", "role": "Globex only"},
        content_type="application/json",
        **bearer(api_token),
    )
    assert_error(response, 400, "invalid")
    assert not ApiToken.objects.filter(name="Sneaky").exists()


# --- Audit events -------------------------------------------------------------------------------


def test_it_lists_only_the_tenant_audit_events_newest_first(
    client, tenant, other_tenant, api_token
):
    token_for(other_tenant, name="Globex secret token")
    audit.record(AuditEvent.Action.EXPORT, tenant=other_tenant, data={"what": "globex"})
    audit.record(AuditEvent.Action.EXPORT, tenant=tenant, data={"what": "acme"})
    response = client.get("/api/v1/audit-events", **bearer(api_token))
    assert response.status_code == 200
    body = response.json()
    expected = list(
        AuditEvent.objects.filter(tenant=tenant)
        .order_by("-created_at", "-id")
        .values_list("id", flat=True)
    )
    assert [item["id"] for item in body["items"]] == expected
    assert body["count"] == len(expected)
    assert body["items"][0]["action"] == "data.exported"
    assert body["items"][0]["action_label"] == "Data exported"
    assert body["items"][0]["data"] == {"what": "acme"}
    other_ids = set(AuditEvent.objects.filter(tenant=other_tenant).values_list("id", flat=True))
    assert not other_ids & {item["id"] for item in body["items"]}
    assert "globex" not in response.content.decode().lower()


def test_it_paginates_audit_events_with_bounded_queries(client, tenant, api_token, owner):
    for i in range(30):
        audit.record(AuditEvent.Action.EXPORT, tenant=tenant, actor=owner, data={"n": i})
    client.get("/api/v1/me", **bearer(api_token))  # last_used_at is now fresh
    with CaptureQueriesContext(connection) as small:
        first = client.get("/api/v1/audit-events?limit=5", **bearer(api_token))
    with CaptureQueriesContext(connection) as large:
        big = client.get("/api/v1/audit-events?limit=200", **bearer(api_token))
    assert first.status_code == 200 and big.status_code == 200
    assert len(first.json()["items"]) == 5
    assert first.json()["items"][0]["data"] == {"n": 29}
    assert first.json()["items"][0]["actor"] == owner.email
    assert len(big.json()["items"]) == big.json()["count"] >= 31
    assert len(large.captured_queries) == len(small.captured_queries) <= 3
    second = client.get("/api/v1/audit-events?limit=5&offset=5", **bearer(api_token)).json()
    assert second["items"][0]["data"] == {"n": 24}
    huge = client.get("/api/v1/audit-events?limit=100000", **bearer(api_token))
    assert huge.status_code == 422  # the bounds are in the schema: 1 to 200
    assert (
        len(client.get("/api/v1/audit-events?limit=200", **bearer(api_token)).json()["items"])
        <= 200
    )


# --- Bad input never 500s -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "{not json",
        "\xff\xfe garbage",
        "",
        "[]",
        "null",
        '{"name": 5}',
        '{"role": "agent"}',
        '{"name": "", "role": "agent"}',
        json.dumps({"name": "x" * 500, "role": "agent"}),
    ],
)
def test_it_answers_4xx_json_for_bad_bodies(client, tenant, api_token, body):
    response = client.post(
        "/api/v1/tokens", data=body, content_type="application/json", **bearer(api_token)
    )
    assert response.status_code in (400, 422), response.content
    code = "bad_request" if response.status_code == 400 else "invalid"
    assert_error(response, response.status_code, code)
    assert ApiToken.objects.filter(tenant=tenant).count() == 1


def test_it_answers_400_for_unparseable_json(client, tenant, api_token):
    response = client.post(
        "/api/v1/tokens", data="{not json", content_type="application/json", **bearer(api_token)
    )
    assert_error(response, 400, "bad_request")


def test_it_answers_422_naming_the_invalid_field(client, tenant, api_token):
    response = client.post(
        "/api/v1/tokens",
        data={"role": "agent"},
        content_type="application/json",
        **bearer(api_token),
    )
    err = assert_error(response, 422, "invalid")
    assert any("name" in detail["loc"] for detail in err["details"])


def test_it_answers_422_for_a_non_numeric_token_id(client, tenant, api_token):
    response = client.post("/api/v1/tokens/abc/revoke", **bearer(api_token))
    assert_error(response, 422, "invalid")


def test_it_answers_400_for_a_blank_token_name(client, tenant, api_token):
    response = client.post(
        "/api/v1/tokens",
        data={"name": "   ", "role": "agent"},
        content_type="application/json",
        **bearer(api_token),
    )
    assert_error(response, 400, "invalid")


@pytest.mark.parametrize(
    "path",
    ["/api/v1/", "/api/v1/nope", "/api/v1/me/", "/api/v1/tokens/1/2/3", "/api/v1/docs/assets/x"],
)
def test_it_answers_404_json_for_unknown_routes(client, tenant, api_token, path):
    assert_error(client.get(path, **bearer(api_token)), 404, "not_found")
    assert_error(client.get(path), 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("post", "/api/v1/me", "GET"),
        ("delete", "/api/v1/tokens", "GET, POST"),
        ("get", "/api/v1/tokens/1/revoke", "POST"),
        ("put", "/api/v1/audit-events", "GET"),
    ],
)
def test_it_answers_405_json_for_wrong_methods(client, api_token, method, path, allowed):
    response = getattr(client, method)(path, **bearer(api_token))
    err = assert_error(response, 405, "method_not_allowed")
    assert method.upper() in err["message"]
    assert sorted(response["Allow"].split(", ")) == sorted(allowed.split(", "))


# --- OpenAPI and docs ---------------------------------------------------------------------------


def test_it_serves_the_openapi_schema(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["info"]["title"] == "Centro API"
    assert {"/api/v1/me", "/api/v1/tokens", "/api/v1/audit-events"} <= set(schema["paths"])
    assert "/api/v1/tokens/{token_id}/revoke" in schema["paths"]
    revoke = schema["paths"]["/api/v1/tokens/{token_id}/revoke"]["post"]
    assert "api_tokens.manage" in revoke["description"]
    schemes = schema["components"]["securitySchemes"]
    assert [scheme["scheme"] for scheme in schemes.values()] == ["bearer"]


def test_it_mounts_the_routers_every_app_lists_in_installed_apps_order(client):
    schema = client.get("/api/v1/openapi.json").json()
    tags = []
    for operations in schema["paths"].values():
        for operation in operations.values():
            tags += [tag for tag in operation.get("tags", []) if tag not in tags]
    assert tags == [
        "inbox",
        "contacts",
        "contacts: lists, segments, bulk",
        "campaigns",
        "calendar",
        "notifications",
    ]
    # contacts lists three routers: its own, the imports' and the lists'.
    imports, lists = "/api/v1/contacts/import", "/api/v1/contacts/segments/preview"
    assert {"/api/v1/contacts", imports, lists} <= set(schema["paths"])


def test_it_serves_docs_that_load_only_local_assets_under_csp(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    html = response.content.decode()
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "cdn" not in html.lower() and "https://" not in html
    assert "/api/v1/docs/assets/swagger-ui-bundle.js" in html
    assert '<script id="swagger-settings" type="application/json">' in html
    assert "/api/v1/openapi.json" in html
    # Every script is external and same-origin (no inline code for the CSP to block).
    assert html.count("<script") == 3
    for asset in ("swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-init.js"):
        asset_response = client.get(f"/api/v1/docs/assets/{asset}")
        assert asset_response.status_code == 200
        assert b"".join(asset_response.streaming_content)


def test_it_answers_json_errors_for_anonymous_requests_to_json_routes():
    client = Client()
    assert_error(client.get("/api/v1/tokens"), 401, "unauthenticated")
    assert_error(client.post("/api/v1/tokens/1/revoke"), 401, "unauthenticated")
