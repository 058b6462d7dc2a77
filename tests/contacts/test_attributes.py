"""Custom attributes: every write validated per field; definition changes never corrupt values."""

import pytest

from contacts.attribute_definitions import (
    do_create_attribute_definition,
    do_delete_attribute_definition,
    do_update_attribute_definition,
)
from contacts.models import AttributeDefinition, Contact
from contacts.services import ContactInvalid, do_create_contact, do_set_attributes
from omnichannel.models import AuditEvent

pytestmark = pytest.mark.django_db


def define(tenant, key, type="text", **kwargs):
    return do_create_attribute_definition(
        tenant, key=key, label=kwargs.pop("label", key.title()), type=type, **kwargs
    )


def test_every_invalid_value_is_reported_under_its_own_field(tenant):
    define(tenant, "plan", "choice", choices=["Gold", "Silver"])
    define(tenant, "visits", "number")
    define(tenant, "since", "date")
    define(tenant, "vip", "boolean")
    contact = do_create_contact(tenant, fields={"name": "Ana"})
    with pytest.raises(ContactInvalid) as refused:
        do_set_attributes(
            contact,
            {"plan": "Bronze", "visits": "a few", "since": "31/31/2024", "vip": "maybe", "x": 1},
        )
    assert refused.value.errors == {
        "attributes.plan": "“Bronze” is not one of the choices (Gold, Silver)",
        "attributes.visits": "“a few” is not a number",
        "attributes.since": "“31/31/2024” is not a date (use YYYY-MM-DD)",
        "attributes.vip": "“maybe” is not yes or no",
        "attributes.x": "is not a defined attribute",
    }
    contact.refresh_from_db()
    assert contact.attributes == {}


def test_values_are_stored_in_their_typed_form_and_blank_removes_one(tenant):
    define(tenant, "plan", "choice", choices=["Gold", "Silver"])
    define(tenant, "visits", "number")
    define(tenant, "since", "date")
    define(tenant, "vip", "boolean")
    contact = do_create_contact(
        tenant,
        fields={"name": "Ana"},
        attributes={"plan": "gold", "visits": "1.234,5", "since": "01/02/2024", "vip": "sí"},
    )
    assert contact.attributes == {
        "plan": "Gold",
        "visits": 1234.5,
        "since": "2024-02-01",
        "vip": True,
    }
    do_set_attributes(contact, {"visits": "", "vip": "no"})
    contact.refresh_from_db()
    assert contact.attributes == {"plan": "Gold", "since": "2024-02-01", "vip": False}
    # Filterable: stored JSON compares with the containment operator (GIN indexed).
    assert list(Contact.objects.filter(attributes__contains={"plan": "Gold"})) == [contact]


def test_a_required_attribute_is_enforced_when_attributes_are_written(tenant):
    define(tenant, "plan", "choice", choices=["Gold"], is_required=True)
    with pytest.raises(ContactInvalid) as refused:
        do_create_contact(tenant, fields={"name": "Ana"})
    assert refused.value.errors == {"attributes.plan": "is required"}


def test_definition_keys_are_checked_and_unique_per_tenant(tenant, other_tenant):
    define(tenant, "plan")
    with pytest.raises(ContactInvalid) as refused:
        define(tenant, "plan")
    assert refused.value.errors == {"key": "“plan” is already an attribute"}
    with pytest.raises(ContactInvalid) as refused:
        define(tenant, "Bad Key!")
    assert "lower-case" in refused.value.errors["key"]
    with pytest.raises(ContactInvalid) as refused:
        define(tenant, "tier", "choice")
    assert refused.value.errors == {"choices": "give at least one choice"}
    assert define(other_tenant, "plan").key == "plan"


def test_changing_the_type_converts_values_that_fit(tenant):
    visits = define(tenant, "visits", "text")
    ana = do_create_contact(tenant, fields={"name": "Ana"}, attributes={"visits": "12"})
    bob = do_create_contact(tenant, fields={"name": "Bob"}, attributes={"visits": "3,5"})
    do_update_attribute_definition(visits, label="Visits", type="number")
    ana.refresh_from_db()
    bob.refresh_from_db()
    assert ana.attributes == {"visits": 12} and bob.attributes == {"visits": 3.5}
    event = AuditEvent.objects.get(action="attribute.changed")
    assert event.data["values_converted"] == 2


def test_changing_the_type_is_refused_when_a_value_would_not_fit(tenant):
    visits = define(tenant, "visits", "text")
    for name, value in [("Ana", "12"), ("Bob", "many"), ("Cy", "many")]:
        do_create_contact(tenant, fields={"name": name}, attributes={"visits": value})
    with pytest.raises(ContactInvalid) as refused:
        do_update_attribute_definition(visits, label="Visits", type="number")
    assert refused.value.errors["type"].startswith("2 contacts have values that would not fit")
    assert "“many” is not a number" in refused.value.errors["type"]
    visits.refresh_from_db()
    assert visits.type == "text"
    assert sorted(
        Contact.objects.filter(tenant=tenant).values_list("attributes__visits", flat=True)
    ) == ["12", "many", "many"]


def test_removing_a_choice_in_use_is_refused_and_renaming_its_case_converts(tenant):
    plan = define(tenant, "plan", "choice", choices=["gold", "silver"])
    ana = do_create_contact(tenant, fields={"name": "Ana"}, attributes={"plan": "gold"})
    with pytest.raises(ContactInvalid) as refused:
        do_update_attribute_definition(plan, label="Plan", type="choice", choices=["silver"])
    assert "1 contact has a value that would not fit" in refused.value.errors["type"]
    do_update_attribute_definition(
        plan, label="Plan", type="choice", choices="Gold\nSilver\nBronze"
    )
    ana.refresh_from_db()
    plan.refresh_from_db()
    assert ana.attributes == {"plan": "Gold"} and plan.choices == ["Gold", "Silver", "Bronze"]


def test_deleting_a_definition_removes_its_values_in_this_tenant_only(tenant, other_tenant):
    plan = define(tenant, "plan")
    define(other_tenant, "plan")
    ours = do_create_contact(tenant, fields={"name": "Ana"}, attributes={"plan": "x"})
    theirs = do_create_contact(other_tenant, fields={"name": "Bob"}, attributes={"plan": "y"})
    assert do_delete_attribute_definition(plan) == 1
    ours.refresh_from_db()
    theirs.refresh_from_db()
    assert ours.attributes == {} and theirs.attributes == {"plan": "y"}
    assert not AttributeDefinition.objects.filter(tenant=tenant).exists()


def test_the_definitions_page_creates_edits_and_deletes(tenant, owner, login):
    client = login(owner)
    assert client.get("/contacts/attributes/").status_code == 200
    response = client.post(
        "/contacts/attributes/",
        {"key": "plan", "label": "Plan", "type": "choice", "choices": "Gold\nSilver"},
    )
    assert response.status_code == 302
    plan = AttributeDefinition.objects.get(tenant=tenant, key="plan")
    assert plan.choices == ["Gold", "Silver"]
    do_create_contact(tenant, fields={"name": "Ana"}, attributes={"plan": "Gold"})
    page = client.get(f"/contacts/attributes/{plan.pk}/").content.decode()
    assert "1 contact has a value" in page
    response = client.post(
        f"/contacts/attributes/{plan.pk}/", {"label": "Plan", "type": "number", "choices": ""}
    )
    assert response.status_code == 422
    assert "would not fit" in response.content.decode()
    response = client.post(
        "/contacts/attributes/", {"key": "plan", "label": "Again", "type": "text"}
    )
    assert response.status_code == 422 and "already an attribute" in response.content.decode()
    assert client.post(f"/contacts/attributes/{plan.pk}/delete/").status_code == 302
    assert not AttributeDefinition.objects.exists()


def test_the_definitions_page_needs_manage_attributes(tenant, make_member, login):
    client = login(make_member(tenant, "supervisor"))
    assert client.get("/contacts/attributes/").status_code == 403
    response = client.post("/contacts/attributes/", {"key": "x", "label": "X", "type": "text"})
    assert response.status_code == 403
    assert not AttributeDefinition.objects.exists()


def test_other_tenants_do_not_see_our_definitions(tenant, other_tenant, make_member, login):
    define(tenant, "secret_plan")
    client = login(make_member(other_tenant, "owner", email="boss@globex.test"))
    assert "secret_plan" not in client.get("/contacts/attributes/").content.decode()
