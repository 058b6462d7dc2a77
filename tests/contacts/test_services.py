import pytest
from django.db import IntegrityError

from contacts.actions import get_or_create_contact_by_phone
from contacts.models import Contact, ContactEmail, ContactPhone
from contacts.services import (
    ContactInvalid,
    contacts_matching,
    do_add_email,
    do_add_phone,
    do_create_contact,
    do_make_primary_phone,
    do_remove_phone,
    do_update_contact,
    find_contact_by_email,
    find_contact_by_phone,
)
from contacts.timezones import timezone_for_phone

pytestmark = [pytest.mark.django_db, pytest.mark.clock]

MEXICO_MOBILE = "+525512345678"
US_NUMBER = "+14155550111"


@pytest.mark.parametrize(
    ("raw", "region", "stored"),
    [
        # Mexico: the retired mobile "1" after +52, channel prefixes, national formats.
        ("+52 1 55 1234 5678", "MX", MEXICO_MOBILE),
        ("+5215512345678", "US", MEXICO_MOBILE),
        ("whatsapp:+5215512345678", "MX", MEXICO_MOBILE),
        ("whatsapp:+525512345678", "US", MEXICO_MOBILE),
        ("WhatsApp: +52 55 1234 5678", "US", MEXICO_MOBILE),
        ("55 1234 5678", "MX", MEXICO_MOBILE),
        ("55-1234-5678", "MX", MEXICO_MOBILE),
        ("(55) 1234 5678", "MX", MEXICO_MOBILE),
        ("+52 (55) 1234-5678", "US", MEXICO_MOBILE),
        ("sms:+525512345678", "US", MEXICO_MOBILE),
        # United States: national formats with the tenant's region, and international ones.
        ("(415) 555-0111", "US", US_NUMBER),
        ("415.555.0111", "US", US_NUMBER),
        ("415 555 0111", "US", US_NUMBER),
        ("415-555-0111", "US", US_NUMBER),
        ("1-415-555-0111", "US", US_NUMBER),
        ("+1 415-555-0111", "MX", US_NUMBER),
        ("+1 (415) 555-0111", "MX", US_NUMBER),
        ("whatsapp:+14155550111", "MX", US_NUMBER),
        ("tel:+14155550111", "US", US_NUMBER),
        ("  +14155550111  ", "US", US_NUMBER),
    ],
)
def test_every_phone_format_matches_the_same_contact(tenant, raw, region, stored):
    mexican = do_create_contact(tenant, fields={"name": "Ana"}, phones=[MEXICO_MOBILE])
    american = do_create_contact(tenant, fields={"name": "Bob"}, phones=[US_NUMBER])
    expected = mexican if stored == MEXICO_MOBILE else american
    tenant.default_region = region
    assert find_contact_by_phone(tenant, raw) == expected
    contact, created = get_or_create_contact_by_phone(tenant, phone=raw)
    assert contact == expected and not created
    # Creating another contact with the same number in this format is refused.
    with pytest.raises(ContactInvalid) as refused:
        do_create_contact(tenant, fields={"name": "Copy"}, phones=[raw])
    assert f"contact {expected.pk}" in refused.value.errors["phones.0"]
    assert Contact.objects.count() == 2


def test_a_secondary_phone_finds_its_contact_too(tenant):
    contact = do_create_contact(tenant, fields={"name": "Ana"}, phones=[US_NUMBER, MEXICO_MOBILE])
    tenant.default_region = "MX"
    assert find_contact_by_phone(tenant, "55 1234 5678") == contact
    found, created = get_or_create_contact_by_phone(tenant, phone="whatsapp:+5215512345678")
    assert found == contact and not created


def test_it_creates_a_contact_with_one_primary_phone_and_email_mirrored(tenant):
    contact = do_create_contact(
        tenant,
        fields={"first_name": " Ana ", "last_name": "García", "country": "mx", "language": "es"},
        phones=[{"number": US_NUMBER, "kind": "work"}, {"number": MEXICO_MOBILE, "primary": True}],
        emails=["Ana@Example.TEST", "ana@work.test"],
    )
    assert contact.name == "Ana García" and contact.country == "MX"
    assert contact.phone == MEXICO_MOBILE and contact.email == "ana@example.test"
    phones = list(contact.phones.values_list("number", "kind", "is_primary"))
    assert phones == [(MEXICO_MOBILE, "mobile", True), (US_NUMBER, "work", False)]
    assert list(contact.emails.values_list("email", "is_primary")) == [
        ("ana@example.test", True),
        ("ana@work.test", False),
    ]
    # The time zone comes from the primary phone's country when nobody said.
    assert contact.timezone == "America/Mexico_City"
    assert contact.created_via == "manual"


def test_it_keeps_a_given_timezone_and_leaves_an_ambiguous_one_blank(tenant):
    given = do_create_contact(
        tenant, fields={"name": "A", "timezone": "Europe/Madrid"}, phones=[US_NUMBER]
    )
    assert given.timezone == "Europe/Madrid"
    toll_free = do_create_contact(tenant, fields={"name": "B"}, phones=["+18005550199"])
    assert toll_free.timezone == ""


@pytest.mark.parametrize(
    ("number", "zone"),
    [
        (MEXICO_MOBILE, "America/Mexico_City"),
        (US_NUMBER, "America/Los_Angeles"),
        ("+12025550123", "America/New_York"),
        ("+34612345678", "Europe/Madrid"),  # Madrid or the Canaries: the mainland
        ("+5511987654321", "America/Sao_Paulo"),
        ("+18005550199", ""),  # toll-free: anywhere in North America
        ("", ""),
    ],
)
def test_it_infers_the_timezone_from_the_number(number, zone):
    assert timezone_for_phone(number) == zone


def test_it_reports_every_problem_at_once_and_writes_nothing(tenant):
    with pytest.raises(ContactInvalid) as refused:
        do_create_contact(
            tenant,
            fields={
                "first_name": "x" * 101,
                "timezone": "Mars/Olympus",
                "preferred_channel": "fax",
                "language": "español!",
                "inferred_gender": "robot",
                "favourite_colour": "blue",
                "external_ids": {"bad key!": "1"},
            },
            phones=["12", MEXICO_MOBILE, {"number": US_NUMBER, "kind": "pager"}],
            emails=["not-an-email"],
        )
    errors = refused.value.errors
    assert set(errors) == {
        "first_name",
        "timezone",
        "preferred_channel",
        "language",
        "inferred_gender",
        "favourite_colour",
        "external_ids.bad key!",
        "phones.0",
        "phones.2",
        "emails.0",
    }
    assert errors["first_name"] == "is longer than 100 characters"
    assert "“fax” is not a channel" in errors["preferred_channel"]
    assert not Contact.objects.exists() and not ContactPhone.objects.exists()


def test_a_contact_needs_at_least_a_name_a_phone_or_an_email(tenant):
    with pytest.raises(ContactInvalid) as refused:
        do_create_contact(tenant, fields={"city": "Puebla"})
    assert "name" in refused.value.errors
    assert do_create_contact(tenant, emails=["a@b.test"]).email == "a@b.test"


def test_the_same_number_twice_in_one_request_is_one_phone(tenant):
    contact = do_create_contact(tenant, phones=["+1 415 555 0111", "(415) 555-0111"])
    assert contact.phones.count() == 1


def test_only_one_phone_can_be_marked_primary(tenant):
    with pytest.raises(ContactInvalid) as refused:
        do_create_contact(
            tenant,
            phones=[
                {"number": US_NUMBER, "primary": True},
                {"number": MEXICO_MOBILE, "primary": True},
            ],
        )
    assert refused.value.errors == {"phones": "only one phone number can be the primary one"}


def test_update_changes_only_what_is_given_and_recomputes_the_name(tenant):
    contact = do_create_contact(
        tenant, fields={"name": "whatsapp profile", "city": "Puebla"}, phones=[US_NUMBER]
    )
    assert contact.name == "whatsapp profile"
    do_update_contact(contact, fields={"first_name": "Ana", "last_name": "López"})
    contact.refresh_from_db()
    assert contact.name == "Ana López" and contact.city == "Puebla" and contact.phone == US_NUMBER
    do_update_contact(contact, phones=[MEXICO_MOBILE], emails=["ana@example.test"])
    contact.refresh_from_db()
    assert contact.phone == MEXICO_MOBILE and contact.email == "ana@example.test"
    assert list(contact.phones.values_list("number", flat=True)) == [MEXICO_MOBILE]
    # A freed number can go to someone else.
    other = do_create_contact(tenant, fields={"name": "Bob"}, phones=[US_NUMBER])
    assert other.phone == US_NUMBER


def test_phone_actions_keep_one_primary_and_the_mirror(tenant):
    contact = do_create_contact(tenant, fields={"name": "Ana"}, phones=[US_NUMBER])
    do_add_phone(contact, "+52 1 55 1234 5678", kind="home")
    contact.refresh_from_db()
    assert contact.phone == US_NUMBER
    mexican = contact.phones.get(number=MEXICO_MOBILE)
    do_make_primary_phone(contact, mexican)
    contact.refresh_from_db()
    assert contact.phone == MEXICO_MOBILE
    assert list(contact.phones.filter(is_primary=True).values_list("number", flat=True)) == [
        MEXICO_MOBILE
    ]
    do_remove_phone(contact, contact.phones.get(number=MEXICO_MOBILE))
    contact.refresh_from_db()
    assert contact.phone == US_NUMBER and contact.phones.get().is_primary
    do_remove_phone(contact, contact.phones.get())
    contact.refresh_from_db()
    assert contact.phone == "" and not contact.phones.exists()


def test_adding_a_number_another_contact_has_is_refused(tenant):
    ana = do_create_contact(tenant, fields={"name": "Ana"}, phones=[US_NUMBER])
    bob = do_create_contact(tenant, fields={"name": "Bob"}, emails=["bob@example.test"])
    with pytest.raises(ContactInvalid) as refused:
        do_add_phone(bob, "(415) 555-0111")
    assert f"contact {ana.pk}" in refused.value.errors["phones.0"]
    with pytest.raises(ContactInvalid):
        do_add_email(ana, "BOB@example.test")


def test_the_database_refuses_a_number_on_two_contacts(tenant):
    ana = do_create_contact(tenant, fields={"name": "Ana"}, phones=[US_NUMBER])
    bob = do_create_contact(tenant, fields={"name": "Bob"})
    with pytest.raises(IntegrityError):
        ContactPhone.objects.create(tenant=tenant, contact=bob, number=ana.phone)


def test_contacts_written_without_phone_rows_are_adopted_on_edit(tenant):
    legacy = Contact.objects.create(tenant=tenant, name="Old", phone=US_NUMBER, email="O@x.test")
    assert find_contact_by_phone(tenant, "(415) 555-0111") == legacy
    assert find_contact_by_email(tenant, "o@X.test") == legacy
    do_add_phone(legacy, MEXICO_MOBILE)
    legacy.refresh_from_db()
    assert legacy.phone == US_NUMBER
    assert set(legacy.phones.values_list("number", "is_primary")) == {
        (US_NUMBER, True),
        (MEXICO_MOBILE, False),
    }
    assert ContactEmail.objects.get(contact=legacy).email == "o@x.test"


def test_search_matches_names_without_accents_phone_digits_and_emails(tenant, other_tenant):
    ana = do_create_contact(
        tenant,
        fields={"first_name": "Ána", "last_name": "Núñez"},
        phones=[MEXICO_MOBILE, US_NUMBER],
        emails=["ana@example.test", "boss@globex.test"],
    )
    do_create_contact(other_tenant, fields={"name": "Ana Nunez"}, phones=[MEXICO_MOBILE])

    def found(q):
        return list(contacts_matching(tenant, q))

    assert found("nunez") == [ana]
    assert found("ANA NÚ") == [ana]
    assert found("1234 5678") == [ana]
    assert found("(415) 555") == [ana]
    assert found("globex") == [ana]
    assert found("zzz") == []


def test_an_erased_contact_cannot_be_changed(tenant):
    from django.utils import timezone

    from omnichannel.actions import ActionError

    contact = do_create_contact(tenant, fields={"name": "Ana"})
    Contact.objects.filter(pk=contact.pk).update(erased_at=timezone.now())
    with pytest.raises(ActionError) as refused:
        do_update_contact(contact, fields={"name": "Back"})
    assert refused.value.code == "gone"
