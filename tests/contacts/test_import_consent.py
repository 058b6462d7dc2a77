"""Consent columns in a CSV import: opt-outs recorded with the import as their source, never
an opt-in over an opt-out on record, and bad cells reported per row and column."""

import pytest

from contacts.actions import do_set_consent, get_or_create_contact_by_phone
from contacts.imports.mapping import (
    MappingInvalid,
    consent_reading,
    consent_target,
    opted_in_target,
    target_choices,
)
from contacts.models import Consent, Contact
from tests.contacts.test_import_support import csv_bytes, import_now, start_import

pytestmark = pytest.mark.django_db

SMS = consent_target("sms", "+15005550006")
MAPPING = {"Phone": "phone", "SMS opt-out": SMS}


def consent_of(tenant, phone: str) -> Consent | None:
    contact = Contact.objects.get(tenant=tenant, phone=phone)
    return Consent.objects.filter(contact=contact, channel="sms", sender="+15005550006").first()


def test_a_column_records_opt_outs_and_opt_ins_for_a_sender(tenant):
    data = csv_bytes(
        [
            ["Phone", "SMS opt-out"],
            ["+14155550101", "yes"],
            ["+14155550102", "no"],
            ["+14155550103", ""],
            ["+14155550104", "maybe"],
        ]
    )
    job = import_now(tenant, data, mapping=MAPPING)

    out = consent_of(tenant, "+14155550101")
    assert (out.status, out.source, out.detail) == ("opted_out", "import", "CSV import, row 2")
    assert consent_of(tenant, "+14155550102").status == "opted_in"
    assert consent_of(tenant, "+14155550103") is None  # blank: no change
    assert job.error_count == 1
    assert job.errors == [
        {"row": 5, "column": "SMS opt-out", "reason": "“maybe” is not yes (opted out) or no"}
    ]


def test_a_file_never_undoes_an_opt_out_on_record(tenant):
    contact, _ = get_or_create_contact_by_phone(tenant, phone="+14155550101")
    do_set_consent(
        contact,
        channel="sms",
        sender="+15005550006",
        status=Consent.Status.OPTED_OUT,
        source=Consent.Source.KEYWORD,
        detail="STOP",
    )
    import_now(
        tenant, csv_bytes([["Phone", "SMS opt-out"], ["+14155550101", "no"]]), mapping=MAPPING
    )
    consent = consent_of(tenant, "+14155550101")
    assert (consent.status, consent.source) == ("opted_out", "keyword")


def test_the_mapping_offers_the_tenants_senders_and_refuses_nonsense(tenant):
    choices = dict(target_choices({}, [("sms", "+15005550006", "Front desk")]))
    assert (SMS, "Opted out of Front desk (+15005550006)") in choices["Consent (yes/no)"]
    data = csv_bytes([["Phone", "Opt-out"], ["+14155550101", "yes"]])
    with pytest.raises(MappingInvalid) as exc:
        start_import(tenant, data, mapping={"Phone": "phone", "Opt-out": "consent:fax:123"})
    assert "consent:<channel>:<sender>" in exc.value.errors["Opt-out"]


OPTED_IN = opted_in_target("sms", "+15005550006")


@pytest.mark.parametrize(
    ("cell", "status"),
    [
        ("yes", "opted_in"), ("Sí", "opted_in"), ("si", "opted_in"), ("TRUE", "opted_in"),
        ("1", "opted_in"), ("Opted in", "opted_in"),
        ("no", "opted_out"), ("false", "opted_out"), ("0", "opted_out"),
        ("opted out", "opted_out"), ("Opted-out", "opted_out"),
    ],
)  # fmt: skip
def test_a_consent_column_reads_yes_as_opted_in_and_no_as_opted_out(tenant, cell, status):
    data = csv_bytes([["Phone", "SMS consent"], ["+14155550101", cell]])
    job = import_now(tenant, data, mapping={"Phone": "phone", "SMS consent": OPTED_IN})
    assert job.error_count == 0, job.errors
    assert consent_of(tenant, "+14155550101").status == status


def test_explicit_words_win_over_the_columns_direction(tenant):
    data = csv_bytes([["Phone", "SMS opt-out"], ["+14155550101", "opted in"]])
    import_now(tenant, data, mapping=MAPPING)
    assert consent_of(tenant, "+14155550101").status == "opted_in"


def test_an_unknown_consent_value_is_reported_for_its_row(tenant):
    data = csv_bytes([["Phone", "SMS consent"], ["+14155550101", "maybe"]])
    job = import_now(tenant, data, mapping={"Phone": "phone", "SMS consent": OPTED_IN})
    assert job.errors == [
        {"row": 2, "column": "SMS consent", "reason": "“maybe” is not yes (opted in) or no"}
    ]


def test_one_sender_takes_one_consent_column(tenant):
    data = csv_bytes([["Phone", "In", "Out"], ["+14155550101", "yes", "no"]])
    with pytest.raises(MappingInvalid) as exc:
        start_import(tenant, data, mapping={"Phone": "phone", "In": OPTED_IN, "Out": SMS})
    assert "already filled from the column “In”" in exc.value.errors["Out"]


def test_the_mapping_offers_both_directions_and_says_how_values_are_read(tenant):
    choices = dict(target_choices({}, [("sms", "+15005550006", "Front desk")]))
    assert choices["Consent (yes/no)"] == [
        (OPTED_IN, "Opted in to Front desk (+15005550006)"),
        (SMS, "Opted out of Front desk (+15005550006)"),
    ]
    assert consent_reading(OPTED_IN) == "yes → opted in, no → opted out"
    assert consent_reading(SMS) == "yes → opted out, no → opted in"
    assert consent_reading("phone") == ""
