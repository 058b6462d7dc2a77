"""Static lists and segments (contacts.lists)."""

import pytest

from contacts.filters import FilterError
from contacts.lists import (
    do_change_list_members,
    do_create_list,
    do_create_segment,
    do_delete_list,
    do_delete_segment,
    do_update_list,
    do_update_segment,
    list_contacts,
    lists_with_counts,
    segment_contacts,
    segment_count,
)
from contacts.models import AttributeDefinition, Contact, ContactList, ListMembership, Segment
from omnichannel.actions import ActionError
from tests.contacts.test_filters import define, make_contact, make_list

pytestmark = pytest.mark.django_db


def test_it_creates_renames_and_deletes_a_list(tenant):
    contact_list = do_create_list(tenant, name="  Spring   fair ", description=" Visitors ")
    assert (contact_list.name, contact_list.description) == ("Spring fair", "Visitors")
    do_update_list(contact_list, name="Spring fair 2025")
    contact_list.refresh_from_db()
    assert contact_list.name == "Spring fair 2025" and contact_list.description == "Visitors"
    member = make_contact(tenant, "Ana")
    do_change_list_members(contact_list, add=[member.pk])
    do_delete_list(contact_list)
    assert not ContactList.objects.filter(pk=contact_list.pk).exists()
    assert Contact.objects.filter(pk=member.pk).exists()  # the contacts stay
    assert not ListMembership.objects.exists()


def test_list_names_are_unique_per_tenant_whatever_the_case(tenant, other_tenant):
    first = do_create_list(tenant, name="VIP")
    second = do_create_list(tenant, name="Newsletter")
    with pytest.raises(ActionError) as exc:
        do_create_list(tenant, name="vip")
    assert exc.value.code == "conflict"
    with pytest.raises(ActionError):
        do_update_list(second, name="Vip")
    do_update_list(first, name="vip")  # its own name in another case is fine
    assert do_create_list(other_tenant, name="VIP").tenant == other_tenant
    with pytest.raises(ActionError, match="needs a name"):
        do_create_list(tenant, name="   ")


def test_adding_twice_and_removing_a_non_member_change_nothing(tenant):
    ana, beto, carla = (make_contact(tenant, n) for n in ("Ana", "Beto", "Carla"))
    contact_list = do_create_list(tenant, name="VIP")
    assert do_change_list_members(contact_list, add=[ana.pk, beto.pk]) == {"added": 2, "removed": 0}
    assert do_change_list_members(contact_list, add=[ana.pk, beto.pk, str(carla.pk)]) == {
        "added": 1,
        "removed": 0,
    }
    assert do_change_list_members(contact_list, remove=[beto.pk, beto.pk]) == {
        "added": 0,
        "removed": 1,
    }
    assert do_change_list_members(contact_list, remove=[beto.pk]) == {"added": 0, "removed": 0}
    assert set(list_contacts(contact_list).values_list("name", flat=True)) == {"Ana", "Carla"}
    assert lists_with_counts(tenant).get(pk=contact_list.pk).member_count == 2


def test_another_tenants_contacts_are_never_added(tenant, other_tenant):
    ours = make_contact(tenant, "Ours")
    theirs = make_contact(other_tenant, "Theirs")
    contact_list = do_create_list(tenant, name="VIP")
    assert do_change_list_members(contact_list, add=[ours.pk, theirs.pk, 999_999]) == {
        "added": 1,
        "removed": 0,
    }
    assert list(ListMembership.objects.values_list("contact_id", flat=True)) == [ours.pk]
    # Removing through our list never touches their lists either.
    their_list = make_list(other_tenant, "Theirs", theirs)
    do_change_list_members(contact_list, remove=[theirs.pk])
    assert ListMembership.objects.filter(contact_list=their_list).count() == 1


def test_a_list_counts_its_members_in_one_query(tenant, django_assert_num_queries):
    make_list(tenant, "A", *(make_contact(tenant, f"A{n}") for n in range(3)))
    make_list(tenant, "B")
    with django_assert_num_queries(1):
        counts = {row.name: row.member_count for row in lists_with_counts(tenant)}
    assert counts == {"A": 3, "B": 0}


def test_a_segment_saves_its_filter_cleaned_and_counts_who_matches_now(tenant):
    define(tenant, "plan", "choice", choices=["gold", "silver"])
    make_contact(tenant, "Ana", attributes={"plan": "gold"})
    segment = do_create_segment(
        tenant, name="Gold", filters={"attributes": [{"key": "plan", "value": "GOLD"}]}
    )
    assert segment.filters == {"attributes": [{"key": "plan", "op": "eq", "value": "gold"}]}
    assert segment_count(segment) == 1
    make_contact(tenant, "Beto", attributes={"plan": "gold"})
    assert set(segment_contacts(segment).values_list("name", flat=True)) == {"Ana", "Beto"}


def test_a_segment_refuses_an_invalid_filter(tenant):
    with pytest.raises(FilterError) as exc:
        do_create_segment(tenant, name="Bad", filters={"attributes": [{"key": "nope"}]})
    assert "attributes[0].key" in exc.value.errors
    assert not Segment.objects.exists()


def test_a_segment_whose_attribute_was_deleted_refuses_to_match(tenant):
    definition = define(tenant, "plan", "choice", choices=["gold"])
    make_contact(tenant, "Ana", attributes={"plan": "gold"})
    make_contact(tenant, "Beto")
    segment = do_create_segment(
        tenant, name="Gold", filters={"attributes": [{"key": "plan", "value": "gold"}]}
    )
    AttributeDefinition.objects.filter(pk=definition.pk).delete()
    # Quietly dropping the condition would target everyone.
    with pytest.raises(FilterError):
        segment_count(segment)


def test_a_segment_is_renamed_refiltered_and_deleted(tenant):
    define(tenant, "plan", "choice", choices=["gold", "silver"])
    segment = do_create_segment(tenant, name="Gold", filters={})
    do_create_segment(tenant, name="Silver", filters={})
    with pytest.raises(ActionError) as exc:
        do_update_segment(segment, name="SILVER")
    assert exc.value.code == "conflict"
    do_update_segment(
        segment,
        name="Gold members",
        filters={"attributes": [{"key": "plan", "op": "in", "value": "gold"}]},
    )
    segment.refresh_from_db()
    assert segment.name == "Gold members"
    assert segment.filters["attributes"][0]["value"] == ["gold"]
    do_delete_segment(segment)
    assert list(Segment.objects.values_list("name", flat=True)) == ["Silver"]
