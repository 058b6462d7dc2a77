"""The contact filter format (contacts.filters): validation, and what each condition matches.

The small factories at the top are shared by the other tests of lists, segments and bulk
operations.
"""

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.http import QueryDict
from django.utils import timezone

from contacts import search as contacts_search
from contacts.filters import (
    FilterError,
    FilterNames,
    apply_filters,
    clean_filters,
    contact_page,
    contacts_matching,
    describe_filters,
    filters_from_params,
    filters_to_params,
)
from contacts.models import (
    AttributeDefinition,
    Consent,
    Contact,
    ContactEmail,
    ContactLabel,
    ContactList,
    ContactPhone,
    ListMembership,
)
from omnichannel.models import Label

pytestmark = [pytest.mark.django_db, pytest.mark.clock]


# --- Factories (also used by test_lists, test_bulk, test_list_page, test_api_lists) -------------


def make_contact(tenant, name="", *, phone="", email="", attributes=None, **fields) -> Contact:
    """A contact with its primary phone and email rows, as the contact services keep them."""
    contact = Contact.objects.create(
        tenant=tenant, name=name, phone=phone, email=email, attributes=attributes or {}, **fields
    )
    if phone:
        ContactPhone.objects.create(tenant=tenant, contact=contact, number=phone, is_primary=True)
    if email:
        ContactEmail.objects.create(
            tenant=tenant, contact=contact, email=email.lower(), is_primary=True
        )
    return contact


def define(tenant, key, type="text", **fields) -> AttributeDefinition:
    fields.setdefault("label", key.replace("_", " ").capitalize())
    return AttributeDefinition.objects.create(tenant=tenant, key=key, type=type, **fields)


def make_list(tenant, name, *contacts) -> ContactList:
    contact_list = ContactList.objects.create(tenant=tenant, name=name)
    for contact in contacts:
        ListMembership.objects.create(tenant=tenant, contact_list=contact_list, contact=contact)
    return contact_list


def make_label(tenant, name, *contacts, color="blue") -> Label:
    label = Label.objects.create(tenant=tenant, name=name, color=color)
    for contact in contacts:
        ContactLabel.objects.create(tenant=tenant, contact=contact, label=label)
    return label


def names_of(queryset) -> set[str]:
    return set(queryset.values_list("name", flat=True))


def matching(tenant, filters) -> set[str]:
    return names_of(contacts_matching(tenant, filters))


@pytest.fixture
def plans(tenant):
    """Plan (choice), visits (number), renewal (date), vip (yes/no), notes (text)."""
    define(tenant, "plan", "choice", choices=["gold", "silver", "bronze"])
    define(tenant, "visits", "number")
    define(tenant, "renewal", "date")
    define(tenant, "vip", "boolean")
    define(tenant, "notes", "text")
    make_contact(tenant, "Ana", attributes={"plan": "gold", "visits": 10, "renewal": "2025-01-31"})
    make_contact(tenant, "Beto", attributes={"plan": "gold", "visits": 9, "vip": True})
    make_contact(tenant, "Carla", attributes={"plan": "silver", "visits": 100, "vip": False})
    make_contact(tenant, "Dario", attributes={"renewal": "2025-10-01", "notes": "Prefiere García"})
    make_contact(tenant, "Elena")


# --- Attributes ---------------------------------------------------------------------------------


def test_it_matches_attribute_equality_and_one_of(tenant, plans):
    assert matching(tenant, {"attributes": [{"key": "plan", "op": "eq", "value": "gold"}]}) == {
        "Ana",
        "Beto",
    }
    # Choices are read like any attribute write: any case.
    assert matching(tenant, {"attributes": [{"key": "plan", "value": "GOLD"}]}) == {"Ana", "Beto"}
    one_of = {"attributes": [{"key": "plan", "op": "in", "value": ["silver", "bronze"]}]}
    assert matching(tenant, one_of) == {"Carla"}
    assert matching(tenant, {"attributes": [{"key": "plan", "op": "in", "value": "gold, silver"}]})
    assert matching(tenant, {"attributes": [{"key": "vip", "op": "eq", "value": "yes"}]}) == {
        "Beto"
    }


def test_it_counts_contacts_without_a_value_as_not_equal(tenant, plans):
    assert matching(tenant, {"attributes": [{"key": "plan", "op": "neq", "value": "gold"}]}) == {
        "Carla",
        "Dario",
        "Elena",
    }


def test_it_compares_numbers_as_numbers_and_dates_as_dates(tenant, plans):
    # As text, "100" < "9" and "10" < "9": numbers must compare as numbers.
    assert matching(tenant, {"attributes": [{"key": "visits", "op": "gt", "value": 9}]}) == {
        "Ana",
        "Carla",
    }
    assert matching(tenant, {"attributes": [{"key": "visits", "op": "lt", "value": "10"}]}) == {
        "Beto"
    }
    before = {"attributes": [{"key": "renewal", "op": "lt", "value": "01/02/2025"}]}
    assert clean_filters(tenant, before)["attributes"][0]["value"] == "2025-02-01"
    assert matching(tenant, before) == {"Ana"}
    assert matching(
        tenant, {"attributes": [{"key": "renewal", "op": "gt", "value": "2025-02-01"}]}
    ) == {"Dario"}


def test_it_matches_text_fragments_ignoring_case_and_accents(tenant, plans):
    contains = {"attributes": [{"key": "notes", "op": "contains", "value": "garcia"}]}
    assert matching(tenant, contains) == {"Dario"}


def test_it_matches_set_and_unset_attributes(tenant, plans):
    assert matching(tenant, {"attributes": [{"key": "vip", "op": "set"}]}) == {"Beto", "Carla"}
    unset = {"attributes": [{"key": "visits", "op": "unset"}]}
    assert matching(tenant, unset) == {"Dario", "Elena"}


def test_it_combines_conditions_with_and(tenant, plans):
    both = {
        "attributes": [
            {"key": "plan", "op": "eq", "value": "gold"},
            {"key": "visits", "op": "gt", "value": 9},
        ]
    }
    assert matching(tenant, both) == {"Ana"}


def test_equality_is_a_jsonb_containment_the_gin_index_answers(tenant, plans):
    Contact.objects.bulk_create(
        Contact(tenant=tenant, name=f"Bronze {n}", attributes={"plan": "bronze", "visits": n})
        for n in range(3000)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE contacts_contact")
    qs = contacts_matching(tenant, {"attributes": [{"key": "plan", "value": "gold"}]})
    sql, params = qs.query.sql_with_params()
    assert "@>" in sql
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "contact_attributes_idx" in plan, plan


# --- Validation ---------------------------------------------------------------------------------


def test_it_reports_every_problem_by_field(tenant, plans, other_tenant):
    theirs = make_list(other_tenant, "Theirs")
    with pytest.raises(FilterError) as exc:
        clean_filters(
            tenant,
            {
                "attributes": [
                    {"key": "plna", "op": "eq", "value": "gold"},
                    {"key": "visits", "op": "contains", "value": "1"},
                    {"key": "visits", "op": "gt", "value": "lots"},
                    {"key": "plan", "op": "eq", "value": "platinum"},
                    {"key": "renewal", "op": "lt"},
                ],
                "consent": {"channel": "fax", "status": "opted_out"},
                "lists": [theirs.pk],
                "created_after": "yesterday",
                "never_contacted": True,
                "last_contacted_after": "2025-01-01",
                "colour": "red",
            },
        )
    errors = exc.value.errors
    assert errors["attributes[0].key"] == "“plna” is not a defined attribute"
    assert errors["attributes[1].op"].startswith("“contains” does not apply to number attributes")
    assert errors["attributes[2].value"] == "“lots” is not a number"
    assert errors["attributes[3].value"].startswith("“platinum” is not one of the choices")
    assert errors["attributes[4].value"] == "needs a value"
    assert errors["consent.channel"].startswith("choose a channel")
    # Another tenant's list is reported exactly like a missing one.
    assert errors["lists"] == f"no list with id {theirs.pk}"
    assert errors["created_after"] == "“yesterday” is not a date (use YYYY-MM-DD)"
    assert errors["never_contacted"] == "contradicts last_contacted_after/before"
    assert errors["colour"].startswith("is not a filter")


def test_it_refuses_an_empty_range_and_wrong_shapes(tenant):
    with pytest.raises(FilterError) as exc:
        clean_filters(
            tenant,
            {
                "created_after": "2025-02-01",
                "created_before": "2025-01-01",
                "attributes": {"plan": "gold"},
                "labels": ["one"],
            },
        )
    assert exc.value.errors == {
        "created_before": "must be later than created_after",
        "attributes": "expects a list of conditions",
        "labels": "“one” is not an id",
    }
    with pytest.raises(FilterError):
        clean_filters(tenant, ["not", "an", "object"])
    with pytest.raises(FilterError) as exc:
        clean_filters(tenant, {"attributes": [{"key": ""}]})
    assert exc.value.errors == {"attributes[0].key": "choose an attribute"}


def test_it_normalises_what_it_keeps(tenant, plans):
    label = make_label(tenant, "VIP")
    cleaned = clean_filters(
        tenant,
        {
            "q": "  ana   maria ",
            "attributes": [{"key": "visits", "op": "gt", "value": "1.234,5"}],
            "labels": [str(label.pk), label.pk],
            "consent": {"channel": "", "status": ""},
            "created_after": "",
        },
    )
    assert cleaned == {
        "q": "ana maria",
        "attributes": [{"key": "visits", "op": "gt", "value": 1234.5}],
        "labels": [label.pk],
    }


# --- Consent, labels, lists, dates --------------------------------------------------------------


def test_it_filters_by_consent_per_channel_and_sender(tenant):
    out = make_contact(tenant, "Out")
    into = make_contact(tenant, "In")
    make_contact(tenant, "Never asked")
    other_sender = make_contact(tenant, "Out elsewhere")
    for contact, status, sender in (
        (out, Consent.Status.OPTED_OUT, "+14155550100"),
        (into, Consent.Status.OPTED_IN, "+14155550100"),
        (other_sender, Consent.Status.OPTED_OUT, "+14155550199"),
    ):
        Consent.objects.create(
            tenant=tenant,
            contact=contact,
            channel="sms",
            sender=sender,
            status=status,
            source=Consent.Source.MANUAL,
        )

    def consent(status, sender=None):
        wanted = {"channel": "sms", "status": status}
        if sender:
            wanted["sender"] = sender
        return matching(tenant, {"consent": wanted})

    assert consent("opted_out") == {"Out", "Out elsewhere"}
    assert consent("opted_out", "+14155550100") == {"Out"}
    assert consent("opted_in") == {"In"}
    assert consent("not_opted_out", "+14155550100") == {"In", "Never asked", "Out elsewhere"}
    assert consent("unknown") == {"Never asked"}
    assert matching(tenant, {"consent": {"channel": "whatsapp", "status": "opted_out"}}) == set()


def test_it_filters_by_any_of_the_labels_and_lists(tenant):
    ana, beto, carla = (make_contact(tenant, n) for n in ("Ana", "Beto", "Carla"))
    vip = make_label(tenant, "VIP", ana)
    late = make_label(tenant, "Late", beto)
    newsletter = make_list(tenant, "Newsletter", ana, carla)
    assert matching(tenant, {"labels": [vip.pk, late.pk]}) == {"Ana", "Beto"}
    assert matching(tenant, {"lists": [newsletter.pk]}) == {"Ana", "Carla"}
    assert matching(tenant, {"lists": [newsletter.pk], "labels": [late.pk]}) == set()


def test_it_reads_days_in_the_tenants_time_zone(tenant):
    tenant.timezone = "America/Mexico_City"
    tenant.save()
    mexico = ZoneInfo("America/Mexico_City")
    # 23:30 on 31 January in Mexico City is already 1 February in UTC.
    late = datetime.datetime(2025, 1, 31, 23, 30, tzinfo=mexico)
    make_contact(tenant, "Late January", created_at=late)
    make_contact(tenant, "February", created_at=datetime.datetime(2025, 2, 1, 8, tzinfo=mexico))
    assert matching(tenant, {"created_before": "2025-02-01"}) == {"Late January"}
    assert matching(tenant, {"created_after": "2025-02-01"}) == {"February"}
    assert matching(tenant, {"created_after": "2025-01-31T23:00:00-06:00"}) == {
        "Late January",
        "February",
    }


def test_it_filters_by_last_contact(tenant):
    now = timezone.now()
    make_contact(tenant, "Recent", last_contacted_at=now - datetime.timedelta(days=2))
    make_contact(tenant, "Old", last_contacted_at=now - datetime.timedelta(days=400))
    make_contact(tenant, "Never")
    cutoff = (now - datetime.timedelta(days=30)).date().isoformat()
    assert matching(tenant, {"last_contacted_before": cutoff}) == {"Old"}
    assert matching(tenant, {"last_contacted_after": cutoff}) == {"Recent"}
    assert matching(tenant, {"never_contacted": True}) == {"Never"}
    assert matching(tenant, {"never_contacted": False}) == {"Recent", "Old"}


# --- Search -------------------------------------------------------------------------------------


def test_it_searches_names_emails_and_phone_fragments_in_any_format(tenant):
    make_contact(tenant, "José García", phone="+14155550111", email="jose@example.test")
    second = make_contact(tenant, "Lucía", phone="+525512345678")
    ContactPhone.objects.create(tenant=tenant, contact=second, number="+14155559876")
    make_contact(tenant, "Other", phone="+14155550222", email="other@example.test")
    assert matching(tenant, {"q": "jose garcia"}) == {"José García"}
    assert matching(tenant, {"q": "JOSE@EXAMPLE"}) == {"José García"}
    assert matching(tenant, {"q": "(415) 555-0111"}) == {"José García"}
    assert matching(tenant, {"q": "55 1234 5678"}) == {"Lucía"}
    assert matching(tenant, {"q": "555-9876"}) == {"Lucía"}  # a second number
    assert matching(tenant, {"q": "415 555"}) == {"José García", "Lucía", "Other"}


@pytest.mark.parametrize(
    "q", ["garcia", "555-0111", "415 555", "@example.test", "9876", "OTHER@EXAMPLE", "nadie"]
)
def test_it_finds_the_same_contacts_in_page_order_through_the_index_or_row_by_row(
    tenant, other_tenant, monkeypatch, q
):
    make_contact(tenant, "José García", phone="+14155550111", email="jose@example.test")
    second = make_contact(tenant, "Lucía García", phone="+525512345678")
    ContactPhone.objects.create(tenant=tenant, contact=second, number="+14155559876")
    third = make_contact(tenant, "Other", phone="+14155550222", email="other@example.test")
    ContactEmail.objects.create(tenant=tenant, contact=third, email="second@example.test")
    make_contact(other_tenant, "José García", phone="+14155550111", email="jose@example.test")

    def page() -> list[str]:
        rows = contact_page(contacts_matching(tenant, {"q": q}), limit=10).items
        return [row.name for row in rows]

    index_first = page()
    # With room for no hit (then for one), every kind that has hits is tested on each row.
    monkeypatch.setattr(contacts_search, "INDEX_FIRST_HITS", 0)
    row_by_row = page()
    monkeypatch.setattr(contacts_search, "INDEX_FIRST_HITS", 1)
    mixed = page()

    assert index_first == row_by_row == mixed
    assert (
        index_first
        == {
            "garcia": ["Lucía García", "José García"],
            "555-0111": ["José García"],
            "415 555": ["Other", "Lucía García", "José García"],
            "@example.test": ["Other", "José García"],
            "9876": ["Lucía García"],
            "OTHER@EXAMPLE": ["Other"],
            "nadie": [],
        }[q]
    )


def test_a_national_number_finds_its_e164_form(tenant):
    tenant.default_region = "GB"
    tenant.save()
    make_contact(tenant, "London", phone="+447911123456")
    # The trunk 0 is not among the E.164 digits: the number is normalised as well.
    assert matching(tenant, {"q": "07911 123456"}) == {"London"}


# --- Tenancy and erased contacts ----------------------------------------------------------------


def test_a_filter_never_reaches_another_tenants_contacts(tenant, other_tenant):
    for owner in (tenant, other_tenant):
        define(owner, "plan", "choice", choices=["gold"])
        make_contact(
            owner, f"Gold of {owner.name}", attributes={"plan": "gold"}, phone="+14155550111"
        )
    gold = {"attributes": [{"key": "plan", "value": "gold"}]}
    assert matching(tenant, gold) == {"Gold of Acme Travel"}
    assert matching(tenant, {"q": "4155550111"}) == {"Gold of Acme Travel"}
    assert matching(tenant, {}) == {"Gold of Acme Travel"}


def test_erased_contacts_never_match(tenant):
    make_contact(tenant, "Kept")
    make_contact(tenant, "", erased_at=timezone.now())
    assert matching(tenant, {}) == {"Kept"}


# --- The list page's query string and descriptions ------------------------------------------------


def test_the_query_string_round_trips(tenant, plans):
    label = make_label(tenant, "VIP")
    newsletter = make_list(tenant, "Newsletter")
    cleaned = clean_filters(
        tenant,
        {
            "q": "ana",
            "attributes": [
                {"key": "plan", "op": "in", "value": ["gold", "silver"]},
                {"key": "vip", "op": "eq", "value": True},
                {"key": "notes", "op": "set"},
            ],
            "consent": {"channel": "sms", "status": "opted_out"},
            "labels": [label.pk],
            "lists": [newsletter.pk],
            "created_after": "2025-01-01",
            "never_contacted": False,
        },
    )
    query = QueryDict(mutable=True)
    for name, value in filters_to_params(cleaned):
        query.appendlist(name, value)
    assert clean_filters(tenant, filters_from_params(query)) == cleaned


def test_it_describes_a_filter_in_words(tenant, plans):
    newsletter = make_list(tenant, "Newsletter")
    cleaned = clean_filters(
        tenant,
        {
            "attributes": [
                {"key": "plan", "value": "gold"},
                {"key": "visits", "op": "gt", "value": 3},
            ],
            "consent": {"channel": "whatsapp", "status": "opted_out"},
            "lists": [newsletter.pk],
            "never_contacted": True,
        },
    )
    assert describe_filters(cleaned, FilterNames.for_tenant(tenant)) == [
        "Plan is gold",
        "Visits is more than 3",
        "Opted out of WhatsApp",
        "In Newsletter",
        "Never contacted",
    ]


def test_apply_filters_runs_no_query_of_its_own(tenant, plans, django_assert_num_queries):
    cleaned = clean_filters(tenant, {"attributes": [{"key": "plan", "value": "gold"}]})
    with django_assert_num_queries(1):
        assert len(list(apply_filters(Contact.objects.all(), tenant, cleaned))) == 2
