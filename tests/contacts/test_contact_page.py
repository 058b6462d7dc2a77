import json

import pytest
from django.utils import timezone

from contacts.models import (
    AttributeDefinition,
    Consent,
    Contact,
    ContactLabel,
    ContactList,
    HouseholdMember,
    ListMembership,
)
from contacts.services import do_create_contact
from omnichannel.labels import do_create_label
from omnichannel.models import AuditEvent
from tests.inbox.api_factories import make_conversation, make_inbox, make_message

pytestmark = [pytest.mark.django_db, pytest.mark.clock]

HTMX = {"HX-Request": "true"}


@pytest.fixture
def agent(tenant, make_member):
    return make_member(tenant, "agent")


@pytest.fixture
def ana(tenant):
    return do_create_contact(
        tenant,
        fields={"first_name": "Ana", "last_name": "García", "city": "Puebla"},
        phones=["+525512345678"],
        emails=["ana@example.test"],
    )


def _fill(tenant, contact, n: int) -> None:
    """``n`` of everything the page lists, so that query counts can be compared."""
    inbox = make_inbox(tenant)
    for i in range(n):
        definition = AttributeDefinition.objects.create(
            tenant=tenant, key=f"a{contact.pk}_{i}", label=f"A{i}", type="text"
        )
        contact.attributes[definition.key] = f"v{i}"
        HouseholdMember.objects.create(
            tenant=tenant, contact=contact, name=f"Kid {i}", relationship="child"
        )
        label = do_create_label(tenant, name=f"L{contact.pk}-{i}")
        ContactLabel.objects.create(tenant=tenant, contact=contact, label=label)
        the_list = ContactList.objects.create(tenant=tenant, name=f"List {contact.pk}-{i}")
        ListMembership.objects.create(tenant=tenant, contact_list=the_list, contact=contact)
        make_conversation(inbox, contact, status="closed")
        Consent.objects.create(
            tenant=tenant,
            contact=contact,
            channel="sms",
            sender=f"+1415555{i:04d}",
            status="opted_out",
            source="keyword",
        )
    contact.save()


def test_it_shows_the_contact_in_a_fixed_number_of_queries(
    tenant, owner, login, django_assert_max_num_queries
):
    client = login(owner)
    few = do_create_contact(tenant, fields={"name": "Few"}, phones=["+14155550111"])
    many = do_create_contact(tenant, fields={"name": "Many"}, phones=["+14155550122"])
    _fill(tenant, few, 1)
    _fill(tenant, many, 6)

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count(contact) -> int:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(f"/contacts/{contact.pk}/")
        assert response.status_code == 200
        return len(queries)

    count(few)  # the first request of a session stores the chosen tenant
    assert count(few) == count(many)
    with django_assert_max_num_queries(30):
        response = client.get(f"/contacts/{many.pk}/")
    html = response.content.decode()
    assert "Kid 5" in html and "List " in html and "/inbox/c/" in html


def test_it_shows_details_attributes_household_consent_labels_and_conversations(
    tenant, agent, login, ana
):
    AttributeDefinition.objects.create(
        tenant=tenant, key="plan", label="Plan", type="choice", choices=["Gold", "Silver"]
    )
    ana.attributes = {"plan": "Gold"}
    ana.save()
    HouseholdMember.objects.create(
        tenant=tenant, contact=ana, name="Luis", relationship="spouse", source="ai"
    )
    inbox = make_inbox(tenant)
    conversation = make_conversation(inbox, ana)
    make_message(conversation, direction="in", body="Hola")
    response = login(agent).get(f"/contacts/{ana.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert ">AG<" in html  # the inbox's initials filter
    assert "+52 55 1234 5678" in html and "ana@example.test" in html and "Puebla" in html
    assert "America/Mexico_City" in html
    assert 'value="Gold" selected' in html
    assert "Luis" in html and "From AI enrichment" in html
    assert f'href="/inbox/c/{conversation.pk}/"' in html
    assert inbox.name in html
    # An agent edits, but cannot change consent, merge, export or erase.
    assert "Save attributes" in html
    assert "Mark opted out" not in html
    assert "Export JSON" not in html and "Erase…" not in html and "Merge…" not in html


def test_a_viewer_sees_the_contact_without_forms(tenant, make_member, login, ana):
    viewer = make_member(tenant, "viewer")
    html = login(viewer).get(f"/contacts/{ana.pk}/").content.decode()
    assert "Ana García" in html
    assert (
        "Save attributes" not in html
        and "Add member" not in html
        and '<form method="post" action="/contacts/' not in html
    )


def test_it_saves_attributes_and_reports_errors_per_field_in_place(tenant, agent, login, ana):
    AttributeDefinition.objects.create(
        tenant=tenant, key="plan", label="Plan", type="choice", choices=["Gold", "Silver"]
    )
    AttributeDefinition.objects.create(tenant=tenant, key="visits", label="Visits", type="number")
    AttributeDefinition.objects.create(tenant=tenant, key="since", label="Since", type="date")
    client = login(agent)
    url = f"/contacts/{ana.pk}/attributes/"
    response = client.post(
        url,
        {"attr-plan": "Bronze", "attr-visits": "lots", "attr-since": "2024-02-30"},
        headers=HTMX,
    )
    assert response.status_code == 422
    assert response["HX-Retarget"] == "#contact-attributes"
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="contact-attributes"')
    assert "“Bronze” is not one of the choices (Gold, Silver)" in html
    assert "“lots” is not a number" in html
    assert "“2024-02-30” is not a date" in html
    assert 'value="lots"' in html  # what was typed stays in the field
    ana.refresh_from_db()
    assert ana.attributes == {}

    response = client.post(url, {"attr-plan": "silver", "attr-visits": "1.234,5", "attr-since": ""})
    assert response.status_code == 302
    ana.refresh_from_db()
    assert ana.attributes == {"plan": "Silver", "visits": 1234.5}


def test_it_adds_confirms_edits_and_removes_household_members(tenant, agent, login, ana):
    client = login(agent)
    automated = HouseholdMember.objects.create(
        tenant=tenant, contact=ana, name="Luis", relationship="sibling", source="import"
    )
    response = client.post(
        f"/contacts/{ana.pk}/household/", {"name": "Sofía", "relationship": "child"}, headers=HTMX
    )
    assert response.status_code == 200
    assert "Sofía" in response.content.decode()
    sofia = HouseholdMember.objects.get(name="Sofía")
    assert sofia.is_confirmed and sofia.confirmed_by == agent and sofia.source == "manual"

    client.post(f"/contacts/{ana.pk}/household/{automated.pk}/confirm/")
    automated.refresh_from_db()
    assert automated.is_confirmed and automated.confirmed_by == agent

    client.post(
        f"/contacts/{ana.pk}/household/{automated.pk}/",
        {"name": "Luis", "relationship": "spouse", "date_of_birth": "1980-05-01"},
    )
    automated.refresh_from_db()
    assert automated.relationship == "spouse" and str(automated.date_of_birth) == "1980-05-01"

    response = client.post(
        f"/contacts/{ana.pk}/household/", {"name": "", "relationship": "child"}, headers=HTMX
    )
    assert response.status_code == 422 and response["HX-Retarget"] == "#contact-household"

    client.post(f"/contacts/{ana.pk}/household/{sofia.pk}/remove/")
    assert list(ana.household.values_list("name", flat=True)) == ["Luis"]


def test_it_adds_removes_and_switches_primary_phones_and_emails(tenant, agent, login, ana):
    client = login(agent)
    response = client.post(
        f"/contacts/{ana.pk}/phones/", {"number": "(415) 555-0111", "kind": "work"}, headers=HTMX
    )
    assert response.status_code == 200
    phone = ana.phones.get(number="+14155550111")
    client.post(f"/contacts/{ana.pk}/phones/{phone.pk}/primary/")
    ana.refresh_from_db()
    assert ana.phone == "+14155550111"
    response = client.post(f"/contacts/{ana.pk}/phones/", {"number": "12"}, headers=HTMX)
    assert response.status_code == 422 and response["HX-Retarget"] == "#contact-details"
    assert "“12” is not a" in response.content.decode()
    client.post(f"/contacts/{ana.pk}/phones/{phone.pk}/remove/")
    ana.refresh_from_db()
    assert ana.phone == "+525512345678"
    client.post(f"/contacts/{ana.pk}/emails/", {"email": "ana@work.test", "primary": "on"})
    ana.refresh_from_db()
    assert ana.email == "ana@work.test"


def test_it_changes_consent_only_with_manage_consent(tenant, agent, owner, login, ana):
    inbox = make_inbox(tenant)
    data = {"channel": inbox.kind, "sender": inbox.address, "status": "opted_out"}
    assert login(agent).post(f"/contacts/{ana.pk}/consent/", data).status_code == 403
    response = login(owner).post(f"/contacts/{ana.pk}/consent/", data, headers=HTMX)
    assert response.status_code == 200 and "Opted out" in response.content.decode()
    consent = Consent.objects.get(contact=ana)
    assert consent.status == "opted_out" and consent.source == "manual"
    event = AuditEvent.objects.get(action="contact.consent_changed")
    assert event.actor == owner and event.data["to"] == "opted_out"


def test_it_labels_a_contact(tenant, agent, login, ana):
    label = do_create_label(tenant, name="VIP")
    client = login(agent)
    response = client.post(f"/contacts/{ana.pk}/labels/", {"label": label.pk}, headers=HTMX)
    assert response.status_code == 200 and "VIP" in response.content.decode()
    client.post(f"/contacts/{ana.pk}/labels/{label.pk}/remove/")
    assert not ContactLabel.objects.exists()


def test_it_creates_and_edits_a_contact_with_a_form(tenant, agent, login):
    client = login(agent)
    assert client.get("/contacts/new/").status_code == 200
    response = client.post(
        "/contacts/new/", {"first_name": "Bob", "phone": "not a phone", "country": "Narnia"}
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert "is not a phone number" in html and "two-letter country code" in html
    response = client.post(
        "/contacts/new/", {"first_name": "Bob", "phone": "(415) 555-0111", "language": "en-US"}
    )
    contact = Contact.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/contacts/{contact.pk}/"
    assert contact.phone == "+14155550111" and contact.created_via == "manual"
    assert contact.timezone == "America/Los_Angeles"
    response = client.post(
        f"/contacts/{contact.pk}/edit/", {"first_name": "Bob", "last_name": "Ray"}
    )
    assert response.status_code == 302
    contact.refresh_from_db()
    assert contact.name == "Bob Ray" and contact.phone == "+14155550111"


def test_it_merges_after_picking_the_duplicate_by_search(tenant, owner, login, ana):
    duplicate = do_create_contact(tenant, fields={"name": "Ana G."}, phones=["+14155550111"])
    client = login(owner)
    response = client.get(f"/contacts/{ana.pk}/merge/", {"q": "555 0111"}, headers=HTMX)
    assert response.status_code == 200
    assert f"?with={duplicate.pk}" in response.content.decode()
    compare = client.get(f"/contacts/{ana.pk}/merge/", {"with": duplicate.pk})
    assert "Keep Ana García" in compare.content.decode()
    response = client.post(f"/contacts/{ana.pk}/merge/", {"other": duplicate.pk, "keep": "this"})
    assert response.status_code == 302 and response["Location"] == f"/contacts/{ana.pk}/"
    assert not Contact.objects.filter(pk=duplicate.pk).exists()
    assert set(ana.phones.values_list("number", flat=True)) == {"+525512345678", "+14155550111"}


def test_it_downloads_the_export_and_erases_after_confirmation(tenant, owner, login, ana):
    conversation = make_conversation(make_inbox(tenant), ana)
    make_message(conversation, direction="in", body="Mi dirección es Calle 5")
    client = login(owner)
    response = client.post(f"/contacts/{ana.pk}/export/")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith(f'attachment; filename="contact-{ana.pk}-')
    data = json.loads(response.content)
    assert data["contact"]["first_name"] == "Ana"
    assert data["conversations"][0]["messages"][0]["body"] == "Mi dirección es Calle 5"
    assert AuditEvent.objects.filter(action="data.exported", actor=owner).count() == 1

    page = client.get(f"/contacts/{ana.pk}/erase/")
    assert "1 message in 1 conversation" in page.content.decode()
    assert client.post(f"/contacts/{ana.pk}/erase/", {}).status_code == 400
    ana.refresh_from_db()
    assert ana.erased_at is None
    response = client.post(f"/contacts/{ana.pk}/erase/", {"confirm": "erase"})
    assert response.status_code == 302
    ana.refresh_from_db()
    assert ana.erased_at is not None and ana.name == ""
    html = client.get(f"/contacts/{ana.pk}/").content.decode()
    assert "Personal data erased" in html and "Save attributes" not in html


def test_export_and_erase_need_their_permissions(tenant, agent, login, ana):
    client = login(agent)
    assert client.post(f"/contacts/{ana.pk}/export/").status_code == 403
    assert client.post(f"/contacts/{ana.pk}/erase/", {"confirm": "erase"}).status_code == 403
    assert client.post(f"/contacts/{ana.pk}/merge/", {"other": ana.pk}).status_code == 403
    ana.refresh_from_db()
    assert ana.erased_at is None


def test_another_tenant_gets_404_for_every_contact_page_and_form(
    tenant, other_tenant, login, ana, make_member
):
    outsider = make_member(other_tenant, "owner", email="boss@globex.test")
    HouseholdMember.objects.create(tenant=tenant, contact=ana, name="Luis", relationship="spouse")
    member = ana.household.get()
    phone = ana.phones.get()
    definition = AttributeDefinition.objects.create(tenant=tenant, key="plan", label="Plan")
    theirs = do_create_contact(other_tenant, fields={"name": "Theirs"})
    client = login(outsider)
    for url in [
        f"/contacts/{ana.pk}/",
        f"/contacts/{ana.pk}/edit/",
        f"/contacts/{ana.pk}/merge/",
        f"/contacts/{ana.pk}/erase/",
        f"/contacts/attributes/{definition.pk}/",
    ]:
        assert client.get(url).status_code == 404, url
    for url, data in [
        (f"/contacts/{ana.pk}/attributes/", {"attr-plan": "x"}),
        (f"/contacts/{ana.pk}/household/", {"name": "X", "relationship": "child"}),
        (f"/contacts/{ana.pk}/household/{member.pk}/remove/", {}),
        (f"/contacts/{ana.pk}/phones/{phone.pk}/remove/", {}),
        (f"/contacts/{ana.pk}/export/", {}),
        (f"/contacts/{ana.pk}/erase/", {"confirm": "erase"}),
        (f"/contacts/{ana.pk}/delete/", {}),
        (f"/contacts/{theirs.pk}/merge/", {"other": ana.pk, "keep": "this"}),
        (f"/contacts/attributes/{definition.pk}/delete/", {}),
    ]:
        assert client.post(url, data).status_code == 404, url
    ana.refresh_from_db()
    assert ana.erased_at is None and ana.name == "Ana García"
    assert ana.household.count() == 1 and ana.phones.count() == 1
    assert AttributeDefinition.objects.filter(pk=definition.pk).exists()
    assert Contact.objects.filter(pk=theirs.pk).exists()


def test_erased_at_is_not_reset_by_viewing(tenant, owner, login, ana):
    ana.erased_at = timezone.now()
    ana.save()
    response = login(owner).get(f"/contacts/{ana.pk}/edit/")
    assert response.status_code == 302


def test_people_read_phones_formatted_even_in_confirmations(tenant, agent, login, ana):
    """Links, inputs, the API and exports keep E.164; what people read is formatted."""
    page = login(agent).get(f"/contacts/{ana.pk}/").content.decode()
    assert '<a href="tel:+525512345678">+52 55 1234 5678</a>' in page
    assert 'data-confirm="Remove +52 55 1234 5678?"' in page
    assert "Remove +525512345678" not in page
