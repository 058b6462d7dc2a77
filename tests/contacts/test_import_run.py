"""Running imports: rows to contacts, errors per row and column, update or skip, duplicates."""

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contacts.imports.services import run_import, write_report
from contacts.models import (
    AttributeDefinition,
    BlockedAddress,
    Contact,
    ContactEmail,
    ContactList,
    ContactPhone,
    ImportJob,
    JobStatus,
    ListMembership,
)
from omnichannel.events import EventType, user_group
from tests.contacts.test_import_support import (
    big_file,
    csv_bytes,
    import_now,
    media_root,  # noqa: F401  (fixture)
    start_import,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]


@pytest.fixture
def plan(tenant):
    return AttributeDefinition.objects.create(
        tenant=tenant, key="plan", label="Plan", type="choice", choices=["basic", "Pro"]
    )


def report(job) -> list[list[str]]:
    out = io.StringIO()
    write_report(job, out)
    return list(csv.reader(io.StringIO(out.getvalue())))


def test_it_imports_10000_rows_with_3_percent_bad_ones_and_reports_each(tenant, owner, plan):
    data, expected = big_file(10_000, bad_every=33)
    bad, warned = expected["bad_rows"], expected["warned_rows"]
    assert 290 <= len(bad) + len(warned) <= 310  # about 3 %

    job = import_now(tenant, data, user=owner)

    assert job.status == JobStatus.DONE
    assert job.total_rows == 10_000
    assert (job.created_count, job.updated_count, job.skipped_count) == (10_000 - len(bad), 0, 0)
    assert (job.error_count, job.warning_count) == (len(bad), len(warned))
    # Every good row is in, once, with its primary phone row.
    phones = set(Contact.objects.for_tenant(tenant).values_list("phone", flat=True))
    assert phones == set(expected["good_phones"])
    assert ContactPhone.objects.for_tenant(tenant).count() == len(expected["good_phones"])
    assert ContactEmail.objects.filter(tenant=tenant, is_primary=True).count() == (
        Contact.objects.for_tenant(tenant).exclude(email="").count()
    )
    # The report names each bad row once, with the column, the reason in words and whether
    # the row was refused or imported without the cell.
    lines = report(job)
    assert lines[0] == ["row", "column", "reason", "result"]
    by_row = {int(row): (column, reason, result) for row, column, reason, result in lines[1:]}
    assert set(by_row) == set(bad) | set(warned)
    for row, kind in {**bad, **warned}.items():
        column, reason, result = by_row[row]
        assert result == ("row not imported" if row in bad else "imported without this cell")
        if kind == "phone":
            assert (column, reason) == ("Teléfono", "“12” is not a valid phone number.")
        elif kind == "email":
            assert (column, reason) == ("Correo", "“not-an-email” is not an email address")
        elif kind == "missing":
            assert column == "Teléfono, Correo"
            assert reason == "has neither a phone number nor an email address"
        else:
            assert column == "Plan"
            assert reason == "“platinum” is not one of the choices (basic, Pro)"


def test_it_fills_every_mapped_field(tenant, plan):
    data = csv_bytes(
        [
            [
                "First",
                "Last",
                "Mobile",
                "Work phone",
                "E-mail",
                "City",
                "Country",
                "Idioma",
                "Canal",
                "Plan",
                "Chatwoot id",
                "Notes",
            ],
            [
                "Ana",
                "García",
                "55 1234 5678",
                "+1 415 555 0111",
                "Ana@Example.COM ",
                "CDMX",
                "México",
                "Spanish",
                "WhatsApp",
                "pro",
                "77",
                "likes calls",
            ],
        ]
    )
    job = import_now(tenant, data)
    assert job.created_count == 1, job.errors
    contact = Contact.objects.get(tenant=tenant)
    assert (contact.first_name, contact.last_name, contact.name) == ("Ana", "García", "Ana García")
    # The row's country decides how its national numbers are read.
    assert contact.phone == "+525512345678"
    assert contact.email == "ana@example.com"
    assert (contact.city, contact.country, contact.language) == ("CDMX", "MX", "es")
    assert contact.preferred_channel == "whatsapp"
    assert contact.attributes == {"plan": "Pro"}
    assert contact.external_ids == {"chatwoot": "77"}
    assert contact.created_via == Contact.CreatedVia.IMPORT
    assert contact.timezone == "America/Mexico_City"  # inferred from the phone
    phones = list(contact.phones.values_list("number", "kind", "is_primary"))
    assert phones == [("+525512345678", "mobile", True), ("+14155550111", "work", False)]


def test_it_reports_attribute_errors_per_field(tenant):
    AttributeDefinition.objects.create(tenant=tenant, key="visits", label="Visits", type="number")
    AttributeDefinition.objects.create(tenant=tenant, key="since", label="Since", type="date")
    AttributeDefinition.objects.create(
        tenant=tenant, key="vip", label="VIP", type="boolean", is_required=True
    )
    data = csv_bytes(
        [
            ["Phone", "Visits", "Since", "VIP"],
            ["+14155550101", "3", "2024-02-01", "sí"],
            ["+14155550102", "many", "yesterday", "yes"],
            ["+14155550103", "1,5", "01/02/2024", ""],
        ]
    )
    job = import_now(tenant, data)
    # Row 3 goes in without its unreadable cells; row 4 lacks a required attribute.
    assert (job.created_count, job.error_count, job.warning_count) == (2, 1, 1)
    assert job.warnings == [
        {"row": 3, "column": "Visits", "reason": "“many” is not a number"},
        {"row": 3, "column": "Since", "reason": "“yesterday” is not a date (use YYYY-MM-DD)"},
    ]
    assert job.errors == [{"row": 4, "column": "VIP", "reason": "is required"}]
    contact = Contact.objects.get(tenant=tenant, phone="+14155550101")
    assert contact.attributes == {"visits": 3, "since": "2024-02-01", "vip": True}
    contact = Contact.objects.get(tenant=tenant, phone="+14155550102")
    assert contact.attributes == {"vip": True}


def test_it_refuses_blocklisted_numbers_and_emails(tenant):
    BlockedAddress.objects.create(tenant=tenant, kind="phone", value="+14155550101")
    BlockedAddress.objects.create(tenant=tenant, kind="email", value="spam@example.com")
    data = csv_bytes(
        [
            ["Phone", "Email"],
            ["(415) 555-0101", ""],
            ["", "SPAM@example.com"],
            ["+14155550103", "ok@example.com"],
        ]
    )
    job = import_now(tenant, data)
    assert job.errors == [
        {"row": 2, "column": "Phone", "reason": "+14155550101 is on the blocklist"},
        {"row": 3, "column": "Email", "reason": "spam@example.com is on the blocklist"},
    ]
    assert list(Contact.objects.for_tenant(tenant).values_list("phone", flat=True)) == [
        "+14155550103"
    ]


def existing_contact(tenant, **fields):
    phone = fields.pop("phone", "+14155550101")
    email = fields.pop("email", "")
    contact = Contact.objects.create(tenant=tenant, phone=phone, email=email, **fields)
    ContactPhone.objects.create(tenant=tenant, contact=contact, number=phone, is_primary=True)
    if email:
        ContactEmail.objects.create(tenant=tenant, contact=contact, email=email, is_primary=True)
    return contact


def test_it_updates_existing_contacts_matched_by_phone_then_email(tenant):
    by_phone = existing_contact(tenant, name="Old", city="Toluca", first_name="Old")
    by_email = existing_contact(tenant, phone="+14155550199", email="lu@example.com")
    data = csv_bytes(
        [
            ["Nombre", "Apellido", "Celular", "Correo", "Ciudad"],
            ["Ana", "Núñez", "415-555-0101", "ana@example.com", ""],
            ["Lucía", "Paz", "", "LU@example.com", "Puebla"],
        ]
    )
    job = import_now(tenant, data, on_existing="update")
    assert (job.created_count, job.updated_count, job.skipped_count) == (0, 2, 0)
    by_phone.refresh_from_db()
    by_email.refresh_from_db()
    assert (by_phone.name, by_phone.email) == ("Ana Núñez", "ana@example.com")
    assert by_phone.city == "Toluca"  # a blank cell never clears a value
    assert by_phone.emails.get().is_primary
    assert (by_email.name, by_email.city, by_email.phone) == ("Lucía Paz", "Puebla", "+14155550199")
    assert Contact.objects.for_tenant(tenant).count() == 2


def test_it_skips_existing_contacts_when_asked_but_creates_new_ones(tenant):
    contact = existing_contact(tenant, name="Old")
    contact_list = ContactList.objects.create(tenant=tenant, name="Spring")
    data = csv_bytes([["Name", "Phone"], ["New name", "+14155550101"], ["Someone", "+14155550102"]])
    job = import_now(tenant, data, on_existing="skip", contact_list=contact_list)
    assert (job.created_count, job.updated_count, job.skipped_count) == (1, 0, 1)
    contact.refresh_from_db()
    assert contact.name == "Old"
    # Everyone the file names is on the list, skipped contacts included.
    members = set(
        ListMembership.objects.filter(contact_list=contact_list).values_list(
            "contact__phone", flat=True
        )
    )
    assert members == {"+14155550101", "+14155550102"}


@pytest.mark.parametrize("on_existing", ["update", "skip"])
def test_it_merges_rows_repeating_a_person_within_the_file(tenant, on_existing):
    data = csv_bytes(
        [
            ["Name", "Phone", "Phone 2", "Email", "City"],
            ["Ana", "+14155550101", "", "", "Quito"],
            ["Beto", "+14155550102", "", "beto@example.com", ""],
            ["Ana García", "(415) 555-0101", "+14155550109", "ana@example.com", ""],
            ["B.", "", "", "BETO@example.com", "Lima"],
        ]
    )
    # Batches of two: the repeat of Ana lands in the next batch, after Ana was committed.
    job = import_now(tenant, data, on_existing=on_existing, batch_size=2)
    assert (job.created_count, job.updated_count, job.error_count) == (2, 2, 0)
    assert job.skipped_count == 0  # those contacts did not exist before the import
    ana = Contact.objects.get(tenant=tenant, phone="+14155550101")
    assert (ana.name, ana.city, ana.email) == ("Ana García", "Quito", "ana@example.com")
    assert set(ana.phones.values_list("number", flat=True)) == {"+14155550101", "+14155550109"}
    beto = Contact.objects.get(tenant=tenant, phone="+14155550102")
    assert (beto.name, beto.city) == ("B.", "Lima")
    assert Contact.objects.for_tenant(tenant).count() == 2


def test_it_merges_repeats_inside_one_batch_too(tenant):
    data = csv_bytes(
        [
            ["Phone", "Email"],
            ["+14155550101", ""],
            ["", "x@example.com"],
            ["+14155550101", "x@example.com"],
        ]
    )
    job = import_now(tenant, data)
    assert (job.created_count, job.updated_count) == (1, 2)
    contact = Contact.objects.get(tenant=tenant)
    assert (contact.phone, contact.email) == ("+14155550101", "x@example.com")


def test_a_row_naming_a_known_number_updates_that_contact(tenant):
    other = existing_contact(tenant, phone="+14155550199", name="Other")
    data = csv_bytes([["Email", "Phone 2"], ["new@example.com", "+14155550199"]])
    job = import_now(tenant, data, mapping={"Email": "email", "Phone 2": "phone_2"})
    # The row matched Other by phone: it is Other who gets the email.
    assert (job.created_count, job.updated_count) == (0, 1)
    other.refresh_from_db()
    assert other.email == "new@example.com"


@pytest.mark.parametrize(
    ("fixture", "encoding", "delimiter"),
    [
        ("es_semicolon_latin1.csv", "cp1252", ";"),
        ("en_comma_utf8_bom.csv", "utf-8-sig", ","),
        ("tab_utf16.csv", "utf-16", "\t"),
        ("utf8_stray_byte.csv", "utf-8", ","),
    ],
)
def test_it_reads_encodings_and_delimiters_end_to_end(tenant, fixture, encoding, delimiter):
    from tests.contacts.test_import_support import FIXTURES

    job = import_now(tenant, (FIXTURES / fixture).read_bytes())
    assert (job.encoding, job.delimiter) == (encoding, delimiter)
    assert job.error_count == 0, job.errors
    names = set(Contact.objects.for_tenant(tenant).values_list("name", flat=True))
    assert {"José Núñez", "María Peña"} <= names
    assert job.created_count == 3


def test_it_counts_a_row_with_too_many_cells_as_an_error(tenant):
    data = b"Phone,Name\r\n+14155550101,Ana,extra\r\n+14155550102,Bea,\r\n"
    job = import_now(tenant, data)
    assert job.errors == [
        {"row": 2, "column": "", "reason": "has 3 cells, more than the 2 columns of the header"}
    ]
    assert job.created_count == 1  # a trailing empty cell is harmless


def test_it_keeps_counts_exact_when_errors_are_too_many_to_store(tenant, settings):
    settings.CONTACTS_IMPORT_MAX_STORED_ERRORS = 10
    data = csv_bytes([["Phone"]] + [["bad"] for _ in range(25)] + [["+14155550101"]])
    job = import_now(tenant, data, batch_size=7)
    assert (job.error_count, len(job.errors), job.created_count) == (25, 10, 1)
    assert report(job)[-1][2].startswith("15 more rows had errors")


def test_each_batch_costs_a_bounded_number_of_queries(tenant, plan):
    contact_list = ContactList.objects.create(tenant=tenant, name="All")
    small, _ = big_file(200)
    large, _ = big_file(2000, start=200)

    def queries(data) -> int:
        job = start_import(tenant, data, contact_list=contact_list)
        with CaptureQueriesContext(connection) as captured:
            assert run_import(job.pk, batch_size=500) == "done"
        return len(captured)

    # 1 batch vs 4 batches: the cost grows per batch, not per row. A batch of new contacts:
    # savepoint, job lock, lookup, ids, 3 COPYs, list, job update, release; and one look at the
    # tables' statistics every ten batches.
    one, four = queries(small), queries(large)
    assert four - one == 3 * 10 + 1, (one, four)
    assert one <= 18


@pytest.fixture
def user_events(tenant, owner, private_channel_prefix, group_events):
    """What is published to the owner's group, read from the real channel layer."""
    return group_events(user_group(tenant.pk, owner.pk))


def test_it_publishes_progress_to_the_uploader_once_committed(
    tenant, owner, user_events, django_capture_on_commit_callbacks
):
    data = csv_bytes([["Phone"], ["+14155550101"], ["oops"], ["+14155550102"]])
    job = start_import(tenant, data, user=owner)
    with django_capture_on_commit_callbacks(execute=True):
        run_import(job.pk, batch_size=2)
    events = user_events()
    assert [e["event"] for e in events] == [EventType.CONTACTS_IMPORT_PROGRESS] * len(events)
    final = events[-1]
    assert final["payload"] == {
        "id": job.pk, "status": "done", "processed": 3, "total": 3, "percent": 100,
        "created": 2, "updated": 0, "skipped": 0, "errors": 1,
    }  # fmt: skip
    html = final["html_by_zone"]["UTC"]  # the uploader follows the tenant's zone
    assert f'id="import-{job.pk}-progress"' in html and 'hx-swap-oob="true"' in html
    assert "data-poll-url" not in html  # finished: nothing left to poll
    assert "“oops” is not a phone number." in html


def test_a_cancelled_import_stops_between_batches(tenant):
    from contacts.imports.services import do_cancel_import

    data = csv_bytes([["Phone"], ["+14155550101"]])
    job = start_import(tenant, data)
    do_cancel_import(job)
    assert run_import(job.pk) == "nothing to do"
    assert Contact.objects.for_tenant(tenant).count() == 0
    assert ImportJob.objects.get(pk=job.pk).status == JobStatus.CANCELLED


def test_a_file_that_breaks_mid_way_fails_the_job_with_a_message(tenant, settings):
    import csv as csv_module

    limit = csv_module.field_size_limit()
    rows = b"".join(b"+1415555%04d,ok\r\n" % n for n in range(101, 111))  # rows 2 to 11
    data = b"Phone,Notes\r\n" + rows + b'+14155550199,"' + b"x" * (limit + 10) + b"\r\n"
    job = start_import(tenant, data)  # the preview (first rows) reads well
    assert run_import(job.pk) == "failed"
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.failure.startswith(
        f"Row 12 has a cell longer than {limit:,} characters, more than a cell may hold: "
        "usually a quote mark that opens a cell and never closes it"
    )


def test_a_nul_past_the_first_64_kb_is_a_row_error_and_every_other_row_imports(tenant):
    rows = [["Nombre", "Teléfono", "Correo", "Ciudad"]]
    rows += [
        [f"Persona {n}", f"+1212555{n:04d}", f"persona{n}@example.com", "Ciudad de México"]
        for n in range(2001)
    ]
    bad_row = 1902  # spreadsheet row: header is row 1
    rows[bad_row - 1][0] = "Per\x00sona"
    data = csv_bytes(rows)
    assert data.index(b"\x00") > 64 * 1024  # past what the upload looks at

    job = import_now(tenant, data)

    assert job.status == JobStatus.DONE
    assert (job.total_rows, job.created_count, job.error_count) == (2001, 2000, 1)
    assert report(job)[1:] == [
        [
            str(bad_row),
            "Nombre",
            "contains a NUL character: binary data, not text",
            "row not imported",
        ]
    ]
    assert not Contact.objects.for_tenant(tenant).filter(phone="+12125551900").exists()


def test_a_cell_too_long_for_a_spreadsheet_refuses_its_row_whatever_its_column(tenant):
    data = csv_bytes(
        [
            ["Nombre", "Teléfono", "Notas"],
            ["Ana", "+14155550101", "x" * 1_000_000],
            ["Bo", "+14155550102", "ok"],
        ]
    )

    job = import_now(tenant, data)  # "Notas" is not imported, but the row cannot be trusted

    assert (job.status, job.created_count, job.error_count) == (JobStatus.DONE, 1, 1)
    assert report(job)[1:] == [
        [
            "2",
            "Notas",
            "is 1,000,000 characters long; a cell holds at most 32,767 (a quote mark that "
            "opens a cell and never closes it can cause this)",
            "row not imported",
        ]
    ]
    assert list(Contact.objects.for_tenant(tenant).values_list("name", flat=True)) == ["Bo"]
