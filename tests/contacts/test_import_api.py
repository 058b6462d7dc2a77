"""The import API: POST /contacts/import (202), polling, the report, refusals, tenancy."""

import csv
import io
import json

import pytest

from contacts.models import AttributeDefinition, Contact, ContactList, ImportJob, ListMembership
from omnichannel.models import AuditEvent
from tests.contacts.test_import_support import (
    csv_bytes,
    media_root,  # noqa: F401  (fixture)
    upload,
)
from tests.inbox.api_factories import assert_error, bearer, token_for

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

FILE = csv_bytes(
    [
        ["Nombre", "Teléfono", "Correo", "Plan"],
        ["Ana", "+14155550101", "ana@example.com", "pro"],
        ["Bo", "12", "", "basic"],
        ["Cy", "", "", ""],
        ["Di", "+14155550104", "", "gold"],
    ]
)


@pytest.fixture
def plan(tenant):
    return AttributeDefinition.objects.create(
        tenant=tenant, key="plan", label="Plan", type="choice", choices=["basic", "Pro"]
    )


def post_import(client, raw, data=FILE, name="contacts.csv", **fields):
    return client.post(
        "/api/v1/contacts/import", data={"file": upload(data, name), **fields}, **bearer(raw)
    )


def test_it_accepts_a_csv_with_202_then_imports_it_in_the_background(
    client, tenant, api_token, plan, eager_tasks, django_capture_on_commit_callbacks
):
    mapping = {"Nombre": "name", "Teléfono": "phone", "Correo": "email", "Plan": "attr:plan"}
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = post_import(client, api_token, mapping=json.dumps(mapping), on_existing="skip")
    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["status"], body["mapping"], body["on_existing"]) == ("pending", mapping, "skip")
    assert (body["encoding"], body["delimiter"], body["filename"]) == ("utf-8", ",", "contacts.csv")
    assert body["report_url"] == f"/api/v1/contacts/imports/{body['id']}/report.csv"
    assert len(queued) == 1  # the task is sent once the job is committed
    assert Contact.objects.for_tenant(tenant).count() == 0

    queued[0]()  # the broker delivers it: eager here, so it runs now
    status = client.get(f"/api/v1/contacts/imports/{body['id']}", **bearer(api_token))
    assert status.status_code == 200
    job = status.json()
    assert (job["status"], job["total_rows"], job["processed_rows"], job["percent"]) == (
        "done", 4, 4, 100,
    )  # fmt: skip
    assert (job["created"], job["updated"], job["skipped"], job["error_rows"]) == (2, 0, 0, 2)
    assert job["errors"] == [
        {"row": 3, "column": "Teléfono", "reason": "“12” is not a valid phone number."},
        {"row": 4, "column": "Teléfono, Correo",
         "reason": "has neither a phone number nor an email address"},
    ]  # fmt: skip
    # Row 5 is imported without its plan.
    assert job["warning_rows"] == 1
    assert job["warnings"] == [
        {"row": 5, "column": "Plan", "reason": "“gold” is not one of the choices (basic, Pro)"},
    ]

    report = client.get(job["report_url"], **bearer(api_token))
    assert report.status_code == 200
    assert report["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(report.content.decode())))
    assert rows == [
        ["row", "column", "reason", "result"],
        ["3", "Teléfono", "“12” is not a valid phone number.", "row not imported"],
        [
            "4",
            "Teléfono, Correo",
            "has neither a phone number nor an email address",
            "row not imported",
        ],
        [
            "5",
            "Plan",
            "“gold” is not one of the choices (basic, Pro)",
            "imported without this cell",
        ],
    ]
    assert AuditEvent.objects.filter(tenant=tenant, action="contact.imported").count() == 1


def test_without_a_mapping_columns_are_matched_by_name(client, tenant, api_token, plan):
    response = post_import(client, api_token)
    assert response.status_code == 202, response.content
    assert response.json()["mapping"] == {
        "Nombre": "name",
        "Teléfono": "phone",
        "Correo": "email",
        "Plan": "attr:plan",
    }


def test_it_adds_the_contacts_to_a_list_of_the_tenant(
    client, tenant, other_tenant, api_token, eager_tasks, django_capture_on_commit_callbacks
):
    mine = ContactList.objects.create(tenant=tenant, name="Mine")
    theirs = ContactList.objects.create(tenant=other_tenant, name="Theirs")
    refused = post_import(client, api_token, list_id=theirs.pk)
    assert_error(refused, 404, "not_found")
    with django_capture_on_commit_callbacks(execute=True):
        accepted = post_import(client, api_token, list_id=mine.pk)
    assert accepted.status_code == 202, accepted.content
    assert ListMembership.objects.filter(contact_list=mine).count() == 2


def test_a_bad_mapping_is_422_with_details_per_column(client, tenant, api_token):
    mapping = {"Nombre": "nmae", "Teléfono": "phone", "Correo": "phone", "Nope": "email"}
    response = post_import(client, api_token, mapping=json.dumps(mapping))
    error = assert_error(response, 422, "invalid")
    assert error["details"] == {
        "Nombre": "“nmae” is not a contact field",
        "Correo": "“Phone” is already filled from the column “Teléfono”",
        "Nope": "is not a column of the file",
    }
    assert "Nombre: “nmae” is not a contact field" in error["message"]
    assert not ImportJob.objects.exists()

    no_identity = post_import(client, api_token, mapping=json.dumps({"Nombre": "name"}))
    assert "phone or an email" in assert_error(no_identity, 422, "invalid")["details"]["mapping"]
    not_json = post_import(client, api_token, mapping="{nope")
    assert assert_error(not_json, 422, "invalid")["details"] == {"mapping": "is not valid JSON"}
    bad_choice = post_import(client, api_token, on_existing="merge")
    assert_error(bad_choice, 422, "invalid")


def test_it_refuses_what_is_not_a_csv_with_400(client, api_token):
    xlsx = b"PK\x03\x04" + b"\x00" * 200
    error = assert_error(post_import(client, api_token, data=xlsx, name="c.xlsx"), 400, "not_csv")
    assert "Excel" in error["message"]
    empty = post_import(client, api_token, data=b"")
    assert_error(empty, 400, "not_csv")
    assert not ImportJob.objects.exists()


def test_it_refuses_a_file_too_large_with_413(client, api_token, settings):
    settings.CONTACTS_IMPORT_MAX_BYTES = 100
    error = assert_error(post_import(client, api_token, data=FILE * 2), 413, "too_large")
    assert "at most" in error["message"]


def test_another_tenant_cannot_see_a_job_or_its_report(client, tenant, other_tenant, api_token):
    response = post_import(client, api_token)
    job_id = response.json()["id"]
    theirs = token_for(other_tenant)
    assert_error(
        client.get(f"/api/v1/contacts/imports/{job_id}", **bearer(theirs)), 404, "not_found"
    )
    report = client.get(f"/api/v1/contacts/imports/{job_id}/report.csv", **bearer(theirs))
    assert_error(report, 404, "not_found")
    assert ImportJob.objects.get(pk=job_id).tenant == tenant


def test_it_needs_the_import_permission(client, tenant):
    agent = token_for(tenant, "agent")  # agents edit contacts but do not import them
    error = assert_error(post_import(client, agent), 403, "forbidden")
    assert error["permission"] == "contacts.import"
