"""Bad input to the API answers 4xx with a clear error, never 500, and the OpenAPI document says
which errors each operation can answer. The routes are read from the API itself, so a new one
is covered without being listed here."""

import json
import re

import pytest
from django.test import Client

from contacts.models import Contact, HouseholdMember
from omnichannel.api import MAX_OFFSET, api
from tests.inbox.api_factories import assert_error, bearer, make_contact, token_for

pytestmark = pytest.mark.django_db
HUGE = "9223372036854775808"  # one past PostgreSQL's bigint


def _openapi() -> dict:
    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.json()


def _operations() -> list[tuple[str, str, dict]]:
    return [
        (method.upper(), path, details)
        for path, methods in _openapi()["paths"].items()
        for method, details in methods.items()
    ]


def _url(path: str) -> str:
    """A concrete URL for an OpenAPI path: every path parameter is 1."""
    return re.sub(r"\{[^}]+\}", "1", path)


def _send(client: Client, method: str, url: str, raw: str, text: str):
    return client.generic(method, url, data=text, content_type="application/json", **bearer(raw))


def _call(client: Client, method: str, url: str, raw: str, body):
    return _send(client, method, url, raw, json.dumps(body))


def test_paginated_routes_refuse_an_offset_or_limit_out_of_bounds(client, tenant):
    raw = token_for(tenant)
    paginated = [
        (path, details)
        for method, path, details in _operations()
        if method == "GET" and any(p["name"] == "offset" for p in details.get("parameters", []))
    ]
    assert len(paginated) >= 9
    for path, details in paginated:
        limit = next(p for p in details["parameters"] if p["name"] == "limit")["schema"]
        assert limit["minimum"] == 1 and limit["maximum"] in (100, 200), path
        url = _url(path)
        for query in (f"offset={HUGE}", f"offset={MAX_OFFSET + 1}", "offset=-1", f"limit={HUGE}"):
            response = client.get(f"{url}?{query}", **bearer(raw))
            assert_error(response, 422, "invalid")
        over = client.get(f"{url}?limit={limit['maximum'] + 1}", **bearer(raw))
        assert_error(over, 422, "invalid")
        within = client.get(f"{url}?offset={MAX_OFFSET}&limit={limit['maximum']}", **bearer(raw))
        assert within.status_code in (200, 404), (path, within.content)


def test_every_json_body_must_be_an_object(client, tenant):
    raw = token_for(tenant)
    with_body = [
        (method, path, details["requestBody"].get("required", False))
        for method, path, details in _operations()
        if "application/json" in details.get("requestBody", {}).get("content", {})
    ]
    assert len(with_body) >= 25
    for method, path, required in with_body:
        # `null` is "no body", which an optional body (pausing a campaign) may be.
        for body in ("AAA", [None, None], 42, *([None] if required else [])):
            response = _send(client, method, _url(path), raw, json.dumps(body))
            error = assert_error(response, 422, "invalid")
            assert "must be a JSON object" in json.dumps(error["details"]), (method, path, body)


def test_a_list_is_not_renamed_by_a_string_body(client, tenant):
    raw = token_for(tenant)
    created = _call(client, "POST", "/api/v1/contacts/lists", raw, {"name": "VIP"})
    list_id = created.json()["id"]
    response = _call(client, "PATCH", f"/api/v1/contacts/lists/{list_id}", raw, "AAA")
    assert_error(response, 422, "invalid")


def test_a_segment_preview_of_nulls_does_not_match_everyone(client, tenant):
    raw = token_for(tenant)
    make_contact(tenant, name="Ana")
    response = _call(client, "POST", "/api/v1/contacts/segments/preview", raw, [None, None])
    assert_error(response, 422, "invalid")


def test_text_with_a_nul_is_refused_in_the_query_and_the_body(client, tenant):
    raw = token_for(tenant)
    assert_error(client.get("/api/v1/contacts?q=a%00b", **bearer(raw)), 422, "invalid")
    nested = {"name": "x", "role": "owner\x00"}
    assert_error(_call(client, "POST", "/api/v1/tokens", raw, nested), 422, "invalid")


def test_a_multipart_body_without_a_boundary_is_a_bad_request(client, tenant):
    raw = token_for(tenant)
    response = client.generic(
        "POST",
        "/api/v1/contacts/import",
        data=b"--x\r\nContent-Disposition: form-data; name=file\r\n\r\na,b\r\n--x--\r\n",
        content_type="multipart/form-data",
        **bearer(raw),
    )
    error = assert_error(response, 400, "bad_request")
    assert "boundary" in error["message"]


def test_a_household_member_is_linked_to_a_contact_of_the_tenant(client, tenant, other_tenant):
    raw = token_for(tenant)
    ana, luis = make_contact(tenant, name="Ana"), make_contact(tenant, name="Luis")
    foreign = make_contact(other_tenant, name="Eve")
    member = HouseholdMember.objects.create(
        tenant=tenant, contact=ana, name="Luis", relationship="spouse"
    )
    url = f"/api/v1/contacts/{ana.pk}/household/{member.pk}"
    body = {"name": "Luis", "relationship": "spouse", "member_contact_id": luis.pk}
    response = _call(client, "PUT", url, raw, body)
    assert response.status_code == 200, response.content
    assert response.json()["member_contact_id"] == luis.pk
    member.refresh_from_db()
    assert member.member_id == luis.pk

    kept = _call(client, "PUT", url, raw, {"name": "Luis P.", "relationship": "spouse"})
    assert kept.json()["member_contact_id"] == luis.pk

    for wrong, status, code in ((foreign.pk, 404, "not_found"), (10**9, 404, "not_found")):
        refused = _call(client, "PUT", url, raw, {**body, "member_contact_id": wrong})
        assert_error(refused, status, code)
    itself = _call(client, "PUT", url, raw, {**body, "member_contact_id": ana.pk})
    assert assert_error(itself, 422, "invalid")["errors"] == {
        "member": "a contact is not their own household member"
    }
    member.refresh_from_db()
    assert member.member_id == luis.pk and member.name == "Luis P."

    unlinked = _call(client, "PUT", url, raw, {**body, "member_contact_id": None})
    assert unlinked.json()["member_contact_id"] is None
    assert Contact.objects.filter(pk=luis.pk).exists()


def test_every_operation_documents_the_errors_it_can_answer():
    error_ref = {"$ref": "#/components/schemas/Error"}
    document = _openapi()
    assert document["components"]["schemas"]["Error"]["required"] == ["error"]
    for method, path, details in _operations():
        responses = {int(status): value for status, value in details["responses"].items()}
        expected = {401}
        if method != "GET" or path != "/api/v1/me":
            expected.add(403)
        if details.get("parameters") or "requestBody" in details:
            expected |= {400, 422}
        if "{" in path or "requestBody" in details:
            expected.add(404)
        if method in {"POST", "PUT", "PATCH", "DELETE"}:
            expected.add(409)
        assert expected <= set(responses), (method, path, sorted(responses))
        for status in expected:
            schema = responses[status]["content"]["application/json"]["schema"]
            assert schema == error_ref, (method, path, status)
    sends = document["paths"]["/api/v1/messages"]["post"]["responses"]
    assert "429" in sends or 429 in sends


def test_the_operations_the_test_reads_are_the_api_s_own():
    """The document lists every route the API serves (guards the introspection above)."""
    served = {
        (method, f"/api/v1{prefix}{path}".replace("//", "/"))
        for prefix, router in api._routers
        for path, view in router.path_operations.items()
        for operation in view.operations
        for method in operation.methods
    }
    documented = {(m, re.sub(r"\{int:", "{", p)) for m, p, _ in _operations()}
    assert {(m, re.sub(r"\{int:", "{", p)) for m, p in served} == documented
