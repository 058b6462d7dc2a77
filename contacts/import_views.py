"""The CSV import pages: upload, map the columns, follow the progress, download the report.

Pieces and their stable ids: the job page's ``progress`` partial (``#import-{id}-progress``)
is what the worker pushes over the websocket (out of band) after each batch, what
``import-progress`` answers for the no-websocket fallback, and what a reload renders from
the database.
"""

import io

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from contacts import hooks
from contacts.attributes import definitions_for
from contacts.imports.mapping import (
    IGNORE,
    MappingInvalid,
    auto_map,
    consent_reading,
    parse_consent_target,
    read_consent,
    target_choices,
)
from contacts.imports.services import (
    TEMPLATE,
    ImportRejected,
    check_upload,
    do_cancel_import,
    do_create_import,
    do_start_import,
    imports_for_tenant,
    is_draft,
    max_upload_bytes,
    progress_context,
    read_head,
    write_report,
)
from contacts.imports.sniff import NotACsv
from contacts.lists import do_create_list
from contacts.models import ContactList, ImportJob
from omnichannel.actions import ACTION_ERROR_STATUS, ActionError
from omnichannel.tenancy import get_in_tenant, require_permission

RECENT_IMPORTS = 20
NEW_LIST = "new"


def _job(request: HttpRequest, job_id: int) -> ImportJob:
    return get_in_tenant(imports_for_tenant(request.tenant), request.tenant, pk=job_id)


@require_http_methods(["GET", "POST"])
@require_permission("contacts.import")
def import_upload(request: HttpRequest) -> HttpResponse:
    error, status = "", 200
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            error, status = "Choose a CSV file to upload.", 400
        else:
            try:
                data, sniffed = check_upload(upload)
            except ImportRejected as exc:
                error, status = exc.message, exc.status
            else:
                job = do_create_import(
                    request.tenant,
                    filename=upload.name,
                    data=data,
                    sniffed=sniffed,
                    acting_user=request.user,
                )
                return redirect("contacts:import-mapping", job_id=job.pk)
    return render(
        request,
        "contacts/import.html",
        {
            "section": "contacts",
            "jobs": imports_for_tenant(request.tenant)[:RECENT_IMPORTS],
            "error": error,
            "max_mb": max_upload_bytes() // 1_048_576,
        },
        status=status,
    )


def _chosen_list(request: HttpRequest) -> ContactList | None:
    choice = request.POST.get("list", "")
    if not choice:
        return None
    if choice == NEW_LIST:
        name = " ".join(request.POST.get("new_list", "").split())
        existing = ContactList.objects.for_tenant(request.tenant).filter(name__iexact=name).first()
        return existing or do_create_list(request.tenant, name=name)
    return get_in_tenant(ContactList, request.tenant, pk=choice)


@require_http_methods(["GET", "POST"])
@require_permission("contacts.import")
def import_mapping(request: HttpRequest, job_id: int) -> HttpResponse:
    job = _job(request, job_id)
    if not is_draft(job):
        return redirect("contacts:import-detail", job_id=job.pk)
    try:
        sniffed = read_head(job)
    except NotACsv as exc:
        messages.error(request, str(exc))
        return redirect("contacts:import-upload")
    definitions = definitions_for(request.tenant)
    errors: dict[str, str] = {}
    status = 200
    on_existing = ImportJob.OnExisting.UPDATE
    list_choice, new_list = "", ""
    if request.method == "POST":
        mapping = {
            header: request.POST.get(f"map-{i}", IGNORE) for i, header in enumerate(sniffed.headers)
        }
        on_existing = request.POST.get("on_existing", "")
        list_choice = request.POST.get("list", "")
        new_list = request.POST.get("new_list", "")
        try:
            with transaction.atomic():
                do_start_import(
                    job,
                    mapping=mapping,
                    on_existing=on_existing,
                    contact_list=_chosen_list(request),
                    acting_user=request.user,
                    request=request,
                )
        except MappingInvalid as exc:
            errors, status = exc.errors, 400
        except ActionError as exc:
            messages.error(request, exc.message)
            status = ACTION_ERROR_STATUS.get(exc.code, 400)
        else:
            return redirect("contacts:import-detail", job_id=job.pk)
    else:
        mapping = auto_map(sniffed.headers, definitions)
    columns = []
    for i, header in enumerate(sniffed.headers):
        target = mapping.get(header) or IGNORE
        columns.append(
            {
                "index": i,
                "header": header,
                "samples": [row[i] for row in sniffed.preview if row[i].strip()][:3],
                "target": target,
                "error": errors.get(header, ""),
                "consent_reading": consent_reading(target),
                "consent_unknown": _unreadable_consents(target, [r[i] for r in sniffed.preview]),
            }
        )
    choices = [
        (group, [(value, label, consent_reading(value)) for value, label in options])
        for group, options in target_choices(definitions, hooks.senders(request.tenant))
    ]
    return render(
        request,
        "contacts/import_mapping.html",
        {
            "section": "contacts",
            "job": job,
            "sniffed": sniffed,
            "columns": columns,
            "choices": choices,
            "mapping_error": errors.get("mapping", "") or errors.get("on_existing", ""),
            "on_existing": on_existing,
            "on_existing_choices": ImportJob.OnExisting.choices,
            "lists": ContactList.objects.for_tenant(request.tenant).order_by("name"),
            "list_choice": list_choice,
            "new_list": new_list,
        },
        status=status,
    )


def _unreadable_consents(target: str, cells: list[str]) -> list[str]:
    """The preview's values of a consent column that are neither yes nor no, once each."""
    consent = parse_consent_target(target)
    if consent is None:
        return []
    unknown: list[str] = []
    for cell in cells:
        value = cell.strip()
        if not value or value in unknown:
            continue
        try:
            read_consent(consent, value)
        except ValueError:
            unknown.append(value)
    return unknown


def _job_context(request: HttpRequest, job: ImportJob) -> dict:
    return {"section": "contacts", **progress_context(job, viewer=request.user)}


@require_GET
@require_permission("contacts.import")
def import_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    job = _job(request, job_id)
    if is_draft(job):
        return redirect("contacts:import-mapping", job_id=job.pk)
    return render(request, TEMPLATE, _job_context(request, job))


@require_GET
@require_permission("contacts.import")
def import_progress(request: HttpRequest, job_id: int) -> HttpResponse:
    """The progress piece alone (for pages without a websocket)."""
    job = _job(request, job_id)
    return HttpResponse(
        render_to_string(f"{TEMPLATE}#progress", _job_context(request, job), request)
    )


@require_POST
@require_permission("contacts.import")
def import_cancel(request: HttpRequest, job_id: int) -> HttpResponse:
    job = _job(request, job_id)
    try:
        do_cancel_import(job)
    except ActionError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "The import was stopped. Rows already imported are kept.")
    return redirect("contacts:import-detail", job_id=job.pk)


@require_GET
@require_permission("contacts.import")
def import_report(request: HttpRequest, job_id: int) -> HttpResponse:
    job = _job(request, job_id)
    out = io.StringIO()
    write_report(job, out)
    # The byte-order mark makes Excel read the report as UTF-8.
    response = HttpResponse("\ufeff" + out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-report.csv"'
    return response
