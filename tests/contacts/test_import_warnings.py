"""One bad optional cell costs that cell, not the row: the row is imported without it and a
warning names the row, the column and why; a row with no usable phone or email is still
refused, and so is a bad value for a required attribute."""

import csv
import io

import pytest

from contacts.imports.services import write_report
from contacts.models import AttributeDefinition, Contact
from tests.contacts.test_import_support import (
    csv_bytes,
    import_now,
    media_root,  # noqa: F401  (fixture)
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

HEADER = ["Phone", "Email", "Email 2", "Birthday", "Plan", "Country", "VIP"]


@pytest.fixture
def attributes(tenant):
    AttributeDefinition.objects.create(tenant=tenant, key="birthday", label="Birthday", type="date")
    AttributeDefinition.objects.create(
        tenant=tenant, key="plan", label="Plan", type="choice", choices=["basic", "Pro"]
    )
    AttributeDefinition.objects.create(
        tenant=tenant, key="vip", label="VIP", type="boolean", is_required=True
    )


def report(job) -> list[list[str]]:
    out = io.StringIO()
    write_report(job, out)
    return list(csv.reader(io.StringIO(out.getvalue())))


def test_bad_optional_cells_are_dropped_with_a_warning_and_the_row_is_imported(tenant, attributes):
    data = csv_bytes(
        [
            HEADER,
            [
                "+14155550101",
                "ana@example.com",
                "not-an-email",
                "yesterday",
                "gold",
                "Atlantis",
                "yes",
            ],
            ["+14155550102", "", "", "1990-04-01", "pro", "", "no"],
        ]
    )
    job = import_now(tenant, data)

    assert (job.created_count, job.error_count, job.warning_count) == (2, 0, 1)
    assert job.errors == []
    assert job.warnings == [
        {"row": 2, "column": "Email 2", "reason": "“not-an-email” is not an email address"},
        {"row": 2, "column": "Birthday", "reason": "“yesterday” is not a date (use YYYY-MM-DD)"},
        {"row": 2, "column": "Plan", "reason": "“gold” is not one of the choices (basic, Pro)"},
        {
            "row": 2,
            "column": "Country",
            "reason": "“Atlantis” is not a two-letter country code such as MX or US",
        },
    ]
    ana = Contact.objects.get(tenant=tenant, phone="+14155550101")
    assert (ana.email, ana.country, ana.attributes) == ("ana@example.com", "", {"vip": True})
    assert list(ana.emails.values_list("email", flat=True)) == ["ana@example.com"]


def test_a_row_without_a_usable_phone_or_email_is_still_refused(tenant):
    data = csv_bytes(
        [
            ["Phone", "Email", "City"],
            ["12", "", "Quito"],
            ["12", "not-an-email", "Lima"],
            ["12", "bo@example.com", "Cusco"],
        ]
    )
    job = import_now(tenant, data)

    assert (job.created_count, job.error_count, job.warning_count) == (1, 2, 1)
    assert job.errors == [
        {"row": 2, "column": "Phone", "reason": "“12” is not a valid phone number."},
        {"row": 3, "column": "Phone", "reason": "“12” is not a valid phone number."},
        {"row": 3, "column": "Email", "reason": "“not-an-email” is not an email address"},
    ]
    assert job.warnings == [
        {"row": 4, "column": "Phone", "reason": "“12” is not a valid phone number."}
    ]
    assert Contact.objects.get(tenant=tenant).email == "bo@example.com"


def test_a_bad_value_for_a_required_attribute_refuses_the_row(tenant, attributes):
    data = csv_bytes([["Phone", "VIP"], ["+14155550101", "perhaps"]])
    job = import_now(tenant, data)
    assert (job.created_count, job.error_count, job.warning_count) == (0, 1, 0)
    assert job.errors == [{"row": 2, "column": "VIP", "reason": "“perhaps” is not yes or no"}]


def test_the_report_and_the_job_page_show_the_warnings(tenant, attributes, login, owner):
    data = csv_bytes(
        [
            ["Phone", "Birthday", "VIP"],
            ["+14155550101", "soon", "yes"],
            ["oops", "", "yes"],
        ]
    )
    job = import_now(tenant, data, user=owner)

    assert report(job) == [
        ["row", "column", "reason", "result"],
        ["2", "Birthday", "“soon” is not a date (use YYYY-MM-DD)", "imported without this cell"],
        ["3", "Phone", "“oops” is not a phone number.", "row not imported"],
    ]
    page = login(owner).get(f"/contacts/import/{job.pk}/").content.decode()
    assert 'data-count="warnings">1<' in page
    assert "Imported without these cells" in page
    assert "“soon” is not a date (use YYYY-MM-DD)" in page
