"""CSV import routes of the JSON API (mounted by omnichannel.api at /api/v1/).

``POST /contacts/import`` takes the file and the column mapping in one multipart request and
answers 202 with the job; poll ``GET /contacts/imports/{id}`` until ``status`` is ``done``
(or ``failed`` / ``cancelled``), then fetch the rows that were not imported from
``GET /contacts/imports/{id}/report.csv``. Jobs of another tenant answer 404.
"""

import io
import json
from datetime import datetime
from typing import Any, Literal

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from ninja import Field, File, Form, Router, Schema, Status, UploadedFile

from contacts.attributes import definitions_for
from contacts.imports.mapping import MappingInvalid, auto_map, check_mapping
from contacts.imports.services import (
    ImportRejected,
    check_upload,
    do_create_import,
    do_start_import,
    imports_for_tenant,
    progress_of,
    write_report,
)
from contacts.models import ContactList, ImportJob
from omnichannel.api import error, error_responses, permission_required
from omnichannel.tenancy import get_in_tenant

router = Router(tags=["contacts"])

ERRORS_IN_STATUS = 100


class ImportErrorOut(Schema):
    row: int
    column: str
    reason: str


class ImportJobOut(Schema):
    id: int
    status: str = Field(..., description="pending, running, done, failed or cancelled")
    filename: str
    encoding: str
    delimiter: str
    mapping: dict[str, str]
    on_existing: str
    list_id: int | None = Field(None, alias="add_to_list_id")
    total_rows: int
    processed_rows: int
    percent: int
    created: int = Field(..., alias="created_count")
    updated: int = Field(..., alias="updated_count")
    skipped: int = Field(..., alias="skipped_count")
    error_rows: int = Field(..., alias="error_count")
    errors: list[ImportErrorOut] = Field(
        ..., description=f"The first {ERRORS_IN_STATUS} problems; the report has them all."
    )
    warning_rows: int = Field(
        ..., alias="warning_count", description="Rows imported without some of their cells."
    )
    warnings: list[ImportErrorOut] = Field(
        ..., description=f"The first {ERRORS_IN_STATUS} cells left out; the report has them all."
    )
    failure: str
    report_url: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @staticmethod
    def resolve_processed_rows(job: ImportJob) -> int:
        return progress_of(job).processed

    @staticmethod
    def resolve_percent(job: ImportJob) -> int:
        return progress_of(job).percent

    @staticmethod
    def resolve_errors(job: ImportJob) -> list[dict[str, Any]]:
        return job.errors[:ERRORS_IN_STATUS]

    @staticmethod
    def resolve_warnings(job: ImportJob) -> list[dict[str, Any]]:
        return job.warnings[:ERRORS_IN_STATUS]

    @staticmethod
    def resolve_report_url(job: ImportJob) -> str:
        return reverse("api:contacts_import_report", args=[job.pk])


def _mapping_error(request: HttpRequest, errors: dict[str, str]) -> HttpResponse:
    return error(
        request,
        422,
        "invalid",
        "The column mapping is not valid: "
        + "; ".join(f"{column}: {reason}" for column, reason in errors.items()),
        details=errors,
    )


@router.post(
    "/contacts/import",
    response={202: ImportJobOut},
    summary="Import contacts from a CSV file (in the background)",
    openapi_extra=error_responses(413),
)
@permission_required("contacts.import")
def contacts_import(
    request: HttpRequest,
    file: File[UploadedFile],
    mapping: Form[str | None] = None,
    on_existing: Form[Literal["update", "skip"]] = "update",
    list_id: Form[int | None] = None,
):
    """`mapping` is a JSON object `{"column header": "field"}`; fields are `first_name`,
    `last_name`, `name`, `phone`, `phone_2`, `phone_3`, `phone_home`, `phone_work`, `email`,
    `email_2`, `email_3`, `address_line1`, `address_line2`, `city`, `region`, `postal_code`,
    `country`, `timezone`, `language`, `preferred_channel`, `ext:<system>` (an id in another
    system) and `attr:<key>` (a custom attribute); other columns are ignored. Without
    `mapping`, columns are matched by their names (English or Spanish).

    Rows match existing contacts by phone, then email; `on_existing` says whether those are
    updated or left alone. Rows repeating a person earlier in the same file are merged into it.
    Answers 202 with the job to poll; 422 with `details` per column for a mapping that cannot
    be used; 400 for a file that is not CSV; 413 for one that is too large.
    """
    try:
        data, sniffed = check_upload(file)
    except ImportRejected as exc:
        code = "too_large" if exc.status == 413 else "not_csv"
        return error(request, exc.status, code, exc.message)
    definitions = definitions_for(request.tenant)
    if mapping is None or not mapping.strip():
        wanted: Any = auto_map(sniffed.headers, definitions)
    else:
        try:
            wanted = json.loads(mapping)
        except ValueError:
            return _mapping_error(request, {"mapping": "is not valid JSON"})
    contact_list = None
    if list_id is not None:
        contact_list = get_in_tenant(ContactList, request.tenant, pk=list_id)
    try:
        # Checked before anything is stored: a refused mapping leaves no file behind.
        check_mapping(wanted, sniffed.headers, definitions)
        with transaction.atomic():
            job = do_create_import(
                request.tenant, filename=file.name or "contacts.csv", data=data, sniffed=sniffed
            )
            job = do_start_import(
                job,
                mapping=wanted,
                on_existing=on_existing,
                contact_list=contact_list,
                acting_token=request.api_token,
                request=request,
            )
    except MappingInvalid as exc:
        return _mapping_error(request, exc.errors)
    return Status(202, job)


@router.get(
    "/contacts/imports/{int:job_id}",
    response=ImportJobOut,
    summary="An import's status, progress and first errors",
)
@permission_required("contacts.import")
def contacts_import_status(request: HttpRequest, job_id: int):
    return get_in_tenant(imports_for_tenant(request.tenant), request.tenant, pk=job_id)


@router.get(
    "/contacts/imports/{int:job_id}/report.csv",
    summary="The rows that were not imported, as CSV (row, column, reason)",
    url_name="contacts_import_report",
    response={200: None},
    openapi_extra={"responses": {200: {"content": {"text/csv": {}}}}},
)
@permission_required("contacts.import")
def contacts_import_report(request: HttpRequest, job_id: int):
    """Row numbers are as a spreadsheet shows them: the header is row 1."""
    job = get_in_tenant(imports_for_tenant(request.tenant), request.tenant, pk=job_id)
    out = io.StringIO()
    write_report(job, out)
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-report.csv"'
    return response
