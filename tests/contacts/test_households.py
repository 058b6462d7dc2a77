"""Household members: agents confirm; automation adds, never changes or removes confirmed ones."""

import datetime

import pytest

from contacts.households import (
    apply_automated_household,
    do_add_household_member,
    do_confirm_household_member,
    do_remove_household_member,
    do_update_household_member,
)
from contacts.models import HouseholdMember
from contacts.services import ContactInvalid, do_create_contact

pytestmark = [pytest.mark.django_db, pytest.mark.clock]


@pytest.fixture
def ana(tenant):
    return do_create_contact(tenant, fields={"first_name": "Ana"})


def test_an_agent_adds_a_confirmed_member(ana, owner):
    member = do_add_household_member(
        ana, name="  Luis   Pérez ", relationship="spouse", acting_user=owner
    )
    assert member.name == "Luis Pérez" and member.source == "manual"
    assert member.is_confirmed and member.confirmed_by == owner


def test_automation_adds_new_members_unconfirmed(ana):
    changes = apply_automated_household(
        ana,
        [
            {"name": "Sofía", "relationship": "child", "date_of_birth": "2015-03-01"},
            {"name": "Luis", "relationship": "spouse"},
        ],
        source="import",
    )
    assert [m.name for m in changes.added] == ["Sofía", "Luis"]
    sofia = ana.household.get(name="Sofía")
    assert sofia.source == "import" and not sofia.is_confirmed
    assert sofia.date_of_birth == datetime.date(2015, 3, 1)


def test_automation_never_changes_or_removes_confirmed_members(ana, owner):
    confirmed = do_add_household_member(
        ana, name="Luis Pérez", relationship="spouse", date_of_birth="1980-01-02", acting_user=owner
    )
    unconfirmed = HouseholdMember.objects.create(
        tenant=ana.tenant, contact=ana, name="Sofia", relationship="other", source="ai"
    )

    # The same names (in another case and without accents) with different details, one new
    # member, and nothing about the others: automation must not remove them.
    changes = apply_automated_household(
        ana,
        [
            {"name": "luis perez", "relationship": "sibling", "date_of_birth": "1999-09-09"},
            {"name": "SOFÍA", "relationship": "child"},
            {"name": "Mateo", "relationship": "child"},
        ],
        source="ai",
    )

    confirmed.refresh_from_db()
    assert (confirmed.name, confirmed.relationship, confirmed.date_of_birth) == (
        "Luis Pérez",
        "spouse",
        datetime.date(1980, 1, 2),
    )
    assert changes.protected == [confirmed]
    unconfirmed.refresh_from_db()
    assert unconfirmed.relationship == "child" and unconfirmed.name == "Sofia"
    assert changes.updated == [unconfirmed]
    assert [m.name for m in changes.added] == ["Mateo"]
    assert set(ana.household.values_list("name", flat=True)) == {"Luis Pérez", "Sofia", "Mateo"}

    # An empty update removes nobody.
    apply_automated_household(ana, [], source="import")
    assert ana.household.count() == 3


def test_automation_applied_twice_adds_nothing_more(ana):
    entries = [{"name": "Mateo", "relationship": "child"}]
    apply_automated_household(ana, entries, source="import")
    changes = apply_automated_household(ana, entries, source="import")
    assert changes.added == [] and changes.updated == []
    assert ana.household.count() == 1


def test_automation_is_refused_as_a_manual_source_and_checks_every_entry(ana):
    with pytest.raises(ValueError):
        apply_automated_household(ana, [], source="manual")
    with pytest.raises(ContactInvalid) as refused:
        apply_automated_household(
            ana,
            [
                {"name": "Ok", "relationship": "child"},
                {"name": "", "relationship": "cousin", "date_of_birth": "yesterday"},
            ],
            source="import",
        )
    assert refused.value.errors == {
        "household.1.name": "is required",
        "household.1.relationship": (
            "“cousin” is not a relationship (spouse, partner, child, parent, sibling, "
            "grandparent, grandchild, other)"
        ),
        "household.1.date_of_birth": "“yesterday” is not a date (use YYYY-MM-DD)",
    }
    assert not ana.household.exists()  # nothing half-written


def test_an_agent_confirms_edits_and_removes(ana, owner):
    automated = apply_automated_household(
        ana, [{"name": "Luis", "relationship": "sibling"}], source="ai"
    ).added[0]
    do_confirm_household_member(automated, acting_user=owner)
    automated.refresh_from_db()
    assert automated.is_confirmed and automated.confirmed_by == owner
    do_update_household_member(automated, name="Luis", relationship="spouse", acting_user=owner)
    automated.refresh_from_db()
    assert automated.relationship == "spouse"
    do_remove_household_member(automated, acting_user=owner)
    assert not ana.household.exists()


def test_a_member_can_link_to_their_own_contact_in_the_same_tenant(ana, other_tenant):
    luis = do_create_contact(ana.tenant, fields={"first_name": "Luis"})
    member = do_add_household_member(ana, name="Luis", relationship="spouse", member=luis)
    assert member.member == luis
    stranger = do_create_contact(other_tenant, fields={"first_name": "Stranger"})
    with pytest.raises(ContactInvalid):
        do_add_household_member(ana, name="X", relationship="other", member=stranger)
    with pytest.raises(ContactInvalid):
        do_add_household_member(ana, name="Me", relationship="other", member=ana)


def test_a_date_of_birth_in_the_future_is_refused(ana):
    tomorrow = datetime.date.today() + datetime.timedelta(days=2)
    with pytest.raises(ContactInvalid) as refused:
        do_add_household_member(ana, name="X", relationship="child", date_of_birth=tomorrow)
    assert refused.value.errors == {"date_of_birth": "is in the future"}
