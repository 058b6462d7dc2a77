import json

import pytest

from contacts.models import AttributeDefinition, BlockedAddress, Contact, HouseholdMember
from contacts.services import do_create_contact
from omnichannel.models import AuditEvent
from tests.inbox.api_factories import (
    assert_error,
    bearer,
    make_conversation,
    make_inbox,
    make_message,
    token_for,
)

pytestmark = pytest.mark.django_db


def post(client, url, token, body, method="post"):
    if method == "get":
        return client.get(url, **bearer(token))
    return getattr(client, method)(
        url, data=json.dumps(body), content_type="application/json", **bearer(token)
    )


def test_it_creates_a_contact_with_phones_emails_and_attributes(client, tenant, api_token):
    tenant.default_region = "MX"
    tenant.save()
    AttributeDefinition.objects.create(
        tenant=tenant, key="plan", label="Plan", type="choice", choices=["Gold", "Silver"]
    )
    response = post(
        client,
        "/api/v1/contacts",
        api_token,
        {
            "first_name": "Ana",
            "last_name": "García",
            "phones": [{"number": "55 1234 5678"}, {"number": "+1 415 555 0111", "kind": "work"}],
            "emails": [{"email": "Ana@Example.test"}],
            "attributes": {"plan": "gold"},
            "external_ids": {"chatwoot": 42},
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "Ana García"
    assert body["phone"] == "+525512345678"
    assert body["phones"] == [
        {"number": "+525512345678", "kind": "mobile", "primary": True},
        {"number": "+14155550111", "kind": "work", "primary": False},
    ]
    assert body["email"] == "ana@example.test"
    assert body["attributes"] == {"plan": "Gold"}
    assert body["external_ids"] == {"chatwoot": "42"}
    assert body["timezone"] == "America/Mexico_City"
    assert body["created_via"] == "api"
    assert body["household"] == [] and body["consents"] == [] and body["lists"] == []


def test_it_reports_every_invalid_field_with_422(client, tenant, api_token):
    AttributeDefinition.objects.create(
        tenant=tenant, key="plan", label="Plan", type="choice", choices=["Gold", "Silver"]
    )
    AttributeDefinition.objects.create(tenant=tenant, key="visits", label="Visits", type="number")
    response = post(
        client,
        "/api/v1/contacts",
        api_token,
        {
            "name": "Bob",
            "phones": [{"number": "not a phone"}],
            "emails": [{"email": "nope"}],
            "country": "Narnia",
            "attributes": {"plan": "x", "visits": "many", "unknown": 1},
        },
    )
    err = assert_error(response, 422, "invalid")
    assert err["errors"] == {
        "phones.0": "“not a phone” is not a phone number.",
        "emails.0": "“nope” is not an email address",
        "country": "“Narnia” is not a two-letter country code such as MX or US",
        "attributes.plan": "“x” is not one of the choices (Gold, Silver)",
        "attributes.visits": "“many” is not a number",
        "attributes.unknown": "is not a defined attribute",
    }
    assert not Contact.objects.exists()


def test_it_refuses_a_phone_another_contact_has(client, tenant, api_token):
    ana = do_create_contact(tenant, fields={"name": "Ana"}, phones=["+14155550111"])
    response = post(
        client,
        "/api/v1/contacts",
        api_token,
        {"name": "Bob", "phones": [{"number": "(415) 555-0111"}]},
    )
    err = assert_error(response, 422, "invalid")
    assert f"contact {ana.pk}" in err["errors"]["phones.0"]


def test_it_searches_by_name_phone_fragment_and_email(client, tenant, api_token):
    ana = do_create_contact(
        tenant,
        fields={"first_name": "Ana", "last_name": "García"},
        phones=["+525512345678", "+14155550111"],
        emails=["ana@example.test", "ana.work@acme.test"],
    )
    bob = do_create_contact(tenant, fields={"name": "Bob"}, phones=["+14155550199"])

    def ids(q):
        response = client.get("/api/v1/contacts", {"q": q}, **bearer(api_token))
        assert response.status_code == 200, response.content
        return [item["id"] for item in response.json()["items"]]

    assert ids("garcia") == [ana.pk]
    assert ids("5512 3456") == [ana.pk]
    assert ids("555-0111") == [ana.pk]  # a secondary phone
    assert ids("acme.test") == [ana.pk]  # a secondary email
    assert ids("0199") == [bob.pk]
    patched = client.patch(
        f"/api/v1/contacts/{bob.pk}",
        data=json.dumps({"external_ids": {"chatwoot": "77"}}),
        content_type="application/json",
        **bearer(api_token),
    )
    assert patched.status_code == 200
    by_id = client.get("/api/v1/contacts", {"external_id": "chatwoot:77"}, **bearer(api_token))
    assert [item["id"] for item in by_id.json()["items"]] == [bob.pk]
    assert set(ids("")) == {ana.pk, bob.pk}
    assert ids("nobody") == []


def test_it_updates_only_what_is_sent(client, tenant, api_token):
    contact = do_create_contact(
        tenant, fields={"first_name": "Ana", "city": "Puebla"}, phones=["+14155550111"]
    )
    response = post(
        client,
        f"/api/v1/contacts/{contact.pk}",
        api_token,
        {"last_name": "López", "emails": [{"email": "ana@example.test"}]},
        method="patch",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["name"] == "Ana López" and body["city"] == "Puebla"
    assert body["phone"] == "+14155550111" and body["email"] == "ana@example.test"


def test_it_deletes_only_contacts_without_conversations(client, tenant, api_token):
    lonely = do_create_contact(tenant, fields={"name": "Lonely"})
    talker = do_create_contact(tenant, fields={"name": "Talker"}, phones=["+14155550111"])
    make_conversation(make_inbox(tenant), talker)
    assert client.delete(f"/api/v1/contacts/{lonely.pk}", **bearer(api_token)).status_code == 204
    assert_error(
        client.delete(f"/api/v1/contacts/{talker.pk}", **bearer(api_token)), 409, "conflict"
    )
    assert list(Contact.objects.all()) == [talker]


def test_it_exports_and_erases_through_the_api(client, tenant, api_token):
    contact = do_create_contact(tenant, fields={"name": "Ana"}, phones=["+14155550111"])
    conversation = make_conversation(make_inbox(tenant), contact)
    make_message(conversation, direction="in", body="my secret")
    export = client.get(f"/api/v1/contacts/{contact.pk}/export", **bearer(api_token))
    assert export.status_code == 200
    assert export.json()["conversations"][0]["messages"][0]["body"] == "my secret"
    erased = client.post(f"/api/v1/contacts/{contact.pk}/erase", **bearer(api_token))
    assert erased.status_code == 200, erased.content
    assert erased.json()["erased_at"] and erased.json()["name"] == ""
    actions = set(AuditEvent.objects.filter(tenant=tenant).values_list("action", flat=True))
    assert {"data.exported", "contact.erased"} <= actions


def test_it_merges_through_the_api(client, tenant, api_token):
    ana = do_create_contact(tenant, fields={"name": "Ana"}, phones=["+14155550111"])
    dup = do_create_contact(tenant, fields={"name": "Ana G"}, phones=["+14155550122"])
    response = post(client, f"/api/v1/contacts/{ana.pk}/merge", api_token, {"duplicate_id": dup.pk})
    assert response.status_code == 200, response.content
    assert [p["number"] for p in response.json()["phones"]] == ["+14155550111", "+14155550122"]
    assert not Contact.objects.filter(pk=dup.pk).exists()


def test_automated_household_updates_through_the_api_keep_confirmed_members(
    client, tenant, api_token, owner
):
    contact = do_create_contact(tenant, fields={"name": "Ana"})
    confirmed = HouseholdMember.objects.create(
        tenant=tenant,
        contact=contact,
        name="Luis",
        relationship="spouse",
        confirmed_at="2025-01-01T00:00Z",
    )
    response = post(
        client,
        f"/api/v1/contacts/{contact.pk}/household",
        api_token,
        {
            "members": [
                {"name": "luis", "relationship": "sibling"},
                {"name": "Sofía", "relationship": "child"},
            ]
        },
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert [m["name"] for m in body["added"]] == ["Sofía"]
    assert [m["id"] for m in body["protected"]] == [confirmed.pk]
    confirmed.refresh_from_db()
    assert confirmed.relationship == "spouse"


def test_it_manages_attribute_definitions(client, tenant, api_token):
    created = post(
        client,
        "/api/v1/contacts/attributes",
        api_token,
        {"key": "visits", "label": "Visits", "type": "text"},
    )
    assert created.status_code == 201, created.content
    definition_id = created.json()["id"]
    contact = do_create_contact(tenant, fields={"name": "Ana"}, attributes={"visits": "12"})
    changed = post(
        client,
        f"/api/v1/contacts/attributes/{definition_id}",
        api_token,
        {"type": "number"},
        method="patch",
    )
    assert changed.status_code == 200, changed.content
    contact.refresh_from_db()
    assert contact.attributes == {"visits": 12}
    listed = client.get("/api/v1/contacts/attributes", **bearer(api_token)).json()
    assert [d["key"] for d in listed] == ["visits"]
    assert (
        client.delete(
            f"/api/v1/contacts/attributes/{definition_id}", **bearer(api_token)
        ).status_code
        == 204
    )
    contact.refresh_from_db()
    assert contact.attributes == {}


def test_it_manages_the_blocklist(client, tenant, api_token):
    tenant.default_region = "US"
    tenant.save()
    first = post(client, "/api/v1/contacts/blocklist", api_token, {"phone": "(415) 555-0111"})
    again = post(client, "/api/v1/contacts/blocklist", api_token, {"phone": "+14155550111"})
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["value"] == "+14155550111"
    assert_error(post(client, "/api/v1/contacts/blocklist", api_token, {}), 422, "invalid")
    listed = client.get("/api/v1/contacts/blocklist", **bearer(api_token)).json()
    assert listed["count"] == 1
    blocked_id = first.json()["id"]
    assert (
        client.delete(f"/api/v1/contacts/blocklist/{blocked_id}", **bearer(api_token)).status_code
        == 204
    )
    assert not BlockedAddress.objects.exists()


def test_it_needs_the_permission_of_each_route(client, tenant):
    viewer = token_for(tenant, "viewer")
    contact = do_create_contact(tenant, fields={"name": "Ana"})
    assert client.get(f"/api/v1/contacts/{contact.pk}", **bearer(viewer)).status_code == 200
    err = assert_error(post(client, "/api/v1/contacts", viewer, {"name": "Bob"}), 403, "forbidden")
    assert err["permission"] == "contacts.edit"
    assert_error(
        client.post(f"/api/v1/contacts/{contact.pk}/erase", **bearer(viewer)), 403, "forbidden"
    )
    assert_error(
        client.get(f"/api/v1/contacts/{contact.pk}/export", **bearer(viewer)), 403, "forbidden"
    )


def test_another_tenant_cannot_read_or_change_our_contacts(client, tenant, other_tenant):
    ours = do_create_contact(tenant, fields={"name": "Ana"}, phones=["+14155550111"])
    definition = AttributeDefinition.objects.create(tenant=tenant, key="plan", label="Plan")
    blocked = BlockedAddress.objects.create(tenant=tenant, kind="phone", value="+14155550100")
    theirs = do_create_contact(other_tenant, fields={"name": "Other"})
    token = token_for(other_tenant)
    for method, url in [
        ("get", f"/api/v1/contacts/{ours.pk}"),
        ("patch", f"/api/v1/contacts/{ours.pk}"),
        ("delete", f"/api/v1/contacts/{ours.pk}"),
        ("get", f"/api/v1/contacts/{ours.pk}/export"),
        ("post", f"/api/v1/contacts/{ours.pk}/erase"),
        ("get", f"/api/v1/contacts/{ours.pk}/household"),
        ("patch", f"/api/v1/contacts/attributes/{definition.pk}"),
        ("delete", f"/api/v1/contacts/attributes/{definition.pk}"),
        ("delete", f"/api/v1/contacts/blocklist/{blocked.pk}"),
    ]:
        assert_error(post(client, url, token, {"name": "x"}, method=method), 404, "not_found")
    merge = post(client, f"/api/v1/contacts/{theirs.pk}/merge", token, {"duplicate_id": ours.pk})
    assert_error(merge, 404, "not_found")
    listed = client.get("/api/v1/contacts?q=Ana", **bearer(token)).json()
    assert listed["items"] == []
    ours.refresh_from_db()
    assert ours.name == "Ana" and ours.erased_at is None
    assert AttributeDefinition.objects.filter(pk=definition.pk).exists()
    assert BlockedAddress.objects.filter(pk=blocked.pk).exists()
