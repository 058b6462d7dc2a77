"""The import's write path, a batch at a time: mixed rows, imports repeated, tenants apart."""

import pytest

from contacts.models import (
    BlockedAddress,
    Contact,
    ContactEmail,
    ContactList,
    ContactPhone,
    ListMembership,
)
from tests.contacts.test_import_support import (
    csv_bytes,
    import_now,
    media_root,  # noqa: F401  (fixture)
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]


def phones_of(tenant) -> list[tuple]:
    return sorted(
        ContactPhone.objects.for_tenant(tenant).values_list(
            "contact__name", "number", "kind", "is_primary"
        )
    )


def test_a_batch_of_new_changed_repeated_and_refused_rows_is_written_whole(tenant):
    known = Contact.objects.create(tenant=tenant, name="Known", phone="+14155550150")
    ContactPhone.objects.create(
        tenant=tenant, contact=known, number="+14155550150", is_primary=True
    )
    quiet = Contact.objects.create(tenant=tenant, name="Quiet", phone="+14155550160")
    ContactPhone.objects.create(
        tenant=tenant, contact=quiet, number="+14155550160", is_primary=True
    )
    BlockedAddress.objects.create(tenant=tenant, kind="phone", value="+14155550199")
    contact_list = ContactList.objects.create(tenant=tenant, name="Spring")
    data = csv_bytes(
        [
            ["Name", "Phone", "Phone 2", "Email", "City"],
            ["Ana", "+52 1 55 1234 5678", "", "ana@example.com", "Puebla"],  # new
            ["Known", "(415) 555-0150", "", "known@example.com", "Austin"],  # changed
            ["", "12", "", "", ""],  # refused: no usable phone
            ["Quiet", "+14155550160", "+14155550161", "", ""],  # a second phone only
            ["Ana G.", "", "", "ANA@example.com", ""],  # a repeat of Ana, in the same batch
            ["Spam", "+14155550199", "", "", ""],  # refused: blocklisted
            ["Bea", "", "", "bea@example.com", ""],  # new, an email only
        ]
    )

    job = import_now(tenant, data, contact_list=contact_list)

    assert (job.created_count, job.updated_count, job.error_count) == (2, 3, 2)
    assert [e["row"] for e in job.errors] == [4, 7]
    assert job.errors[1]["reason"] == "+14155550199 is on the blocklist"
    ana = Contact.objects.get(tenant=tenant, email="ana@example.com")
    assert (ana.name, ana.phone, ana.city, ana.timezone) == (
        "Ana G.",
        "+525512345678",
        "Puebla",
        "America/Mexico_City",
    )
    assert ana.created_via == Contact.CreatedVia.IMPORT
    known.refresh_from_db()
    assert (known.email, known.city) == ("known@example.com", "Austin")
    assert known.emails.get().is_primary
    assert phones_of(tenant) == [
        ("Ana G.", "+525512345678", "mobile", True),
        ("Known", "+14155550150", "mobile", True),
        ("Quiet", "+14155550160", "mobile", True),
        ("Quiet", "+14155550161", "mobile", False),
    ]
    bea = Contact.objects.get(tenant=tenant, email="bea@example.com")
    assert (bea.phone, bea.emails.get().is_primary) == ("", True)
    members = set(
        ListMembership.objects.filter(contact_list=contact_list).values_list("contact", flat=True)
    )
    assert members == {ana.pk, known.pk, quiet.pk, bea.pk}


def test_importing_the_same_file_again_changes_nothing(tenant):
    data = csv_bytes(
        [["Name", "Phone", "Email"]]
        + [[f"P{n}", f"+1415555{n:04d}", f"p{n}@example.com"] for n in range(100, 160)]
        + [["Bad", "12", ""]]
    )
    first = import_now(tenant, data, batch_size=25)
    before = list(Contact.objects.for_tenant(tenant).order_by("id").values())
    phones = phones_of(tenant)
    emails = sorted(ContactEmail.objects.for_tenant(tenant).values_list("email", "is_primary"))

    again = import_now(tenant, data, batch_size=25)

    assert (first.created_count, first.error_count) == (60, 1)
    assert (again.created_count, again.updated_count, again.error_count) == (0, 60, 1)
    # Nothing to change: not even updated_at moves.
    assert list(Contact.objects.for_tenant(tenant).order_by("id").values()) == before
    assert phones_of(tenant) == phones
    assert sorted(ContactEmail.objects.for_tenant(tenant).values_list("email", "is_primary")) == (
        emails
    )


def test_two_tenants_importing_the_same_phone_each_get_their_own_contact(tenant, other_tenant):
    data = csv_bytes([["Name", "Phone", "Email"], ["Ana", "+14155550101", "ana@example.com"]])
    mine = import_now(tenant, data)
    Contact.objects.filter(tenant=tenant).update(city="Quito")

    theirs = import_now(other_tenant, data)

    assert (mine.created_count, theirs.created_count, theirs.updated_count) == (1, 1, 0)
    a = Contact.objects.get(tenant=tenant)
    b = Contact.objects.get(tenant=other_tenant)
    assert a.pk != b.pk and (a.city, b.city) == ("Quito", "")
    assert ContactPhone.objects.get(number="+14155550101", tenant=other_tenant).contact_id == b.pk
    assert ContactEmail.objects.get(email="ana@example.com", tenant=tenant).contact_id == a.pk
