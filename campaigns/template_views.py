"""Message template pages: the list, the editor, and the editor's live pieces.

``campaigns/templates/edit.html`` declares the pieces htmx swaps, each with a stable id:
``segments`` (``#segment-counter``: encoding, segments and cost of the body as typed),
``preview`` (``#template-preview``: the message as a chosen contact gets it),
``contact-options`` (the options of ``#preview-contact``) and ``media``
(``#template-media``). Every form also works without JavaScript (full page, or a redirect
after a POST). Lookups are scoped to the request's tenant: another tenant's template, media
or contact is a 404.

``media_file`` is the public side: the link a provider fetches a template's media from.
"""

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import (
    require_GET,
    require_http_methods,
    require_POST,
    require_safe,
)
from django_htmx.http import reswap, retarget, trigger_client_event

from campaigns.media import (
    MAX_FILES,
    MAX_TOTAL_BYTES,
    check_save_template,
    do_add_template_media,
    do_delete_template,
    do_remove_template_media,
    media_for_link,
    media_link_path,
    media_refusal,
)
from campaigns.models import MessageTemplate, TemplateMedia
from campaigns.services import TemplateInvalid, preview
from campaigns.template_forms import TemplateForm, posted_variables
from contacts.attributes import definitions_for
from contacts.models import Contact
from contacts.services import contacts_matching
from contacts.templating import CONTACT_VARIABLES, TemplateError, check_template, contact_values
from omnichannel.actions import ACTION_ERROR_STATUS, ActionError
from omnichannel.channels import Channel
from omnichannel.files import serve_file
from omnichannel.htmx import wants_piece
from omnichannel.segments import (
    MMS_MESSAGE_PRICE,
    SMS_SEGMENT_PRICE,
    SegmentInfo,
    segment_estimate,
)
from omnichannel.tenancy import get_in_tenant, require_permission

PAGE = "campaigns/templates/edit.html"
PAGE_SIZE = 50
CONTACT_CHOICES = 20
MEDIA_CHANGED = "template-media-changed"  # the counter listens: media turns an SMS into MMS
CONTACT_VARIABLE_LABELS = {
    "firstName": "First name",
    "lastName": "Last name",
    "name": "Full name",
    "phone": "Phone",
    "email": "Email",
    "city": "City",
    "country": "Country",
}


def _can_manage(request: HttpRequest) -> bool:
    return request.membership.has_permission("templates.manage")


def _require_manage(request: HttpRequest) -> None:
    if not _can_manage(request):
        raise PermissionDenied(
            f"Your role ({request.membership.role.name}) does not allow this (it needs the "
            "“templates.manage” permission). Ask a tenant admin."
        )


def _template(request: HttpRequest, template_id: int) -> MessageTemplate:
    return get_in_tenant(MessageTemplate, request.tenant, pk=template_id)


def _has_media(request: HttpRequest, template_id: Any) -> bool:
    if not str(template_id or "").isdigit():
        return False
    return TemplateMedia.objects.for_tenant(request.tenant).filter(template_id=template_id).exists()


# --- list -----------------------------------------------------------------------------------


@require_GET
@require_permission("templates.view")
def template_list(request: HttpRequest) -> HttpResponse:
    templates = (
        MessageTemplate.objects.for_tenant(request.tenant)
        .annotate(media_count=Count("media"))
        .order_by("name", "id")
    )
    page = Paginator(templates, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"section": "campaigns", "page": page, "can_manage": _can_manage(request)}
    return render(request, "campaigns/templates/list.html", context)


# --- the editor -----------------------------------------------------------------------------


def _variable_choices(attributes: dict) -> list[dict[str, str]]:
    """What a template may use: the contact's fields, then the tenant's custom attributes."""
    choices = [
        {"name": name, "label": CONTACT_VARIABLE_LABELS.get(name, name), "kind": "contact"}
        for name in CONTACT_VARIABLES
    ]
    choices += [
        {"name": key, "label": definition.label, "kind": "attribute"}
        for key, definition in sorted(attributes.items())
    ]
    return choices


def _variable_rows(variables: dict) -> list[dict[str, str]]:
    """One row per WhatsApp variable number, plus a few empty ones to add more."""
    numbers = [int(n) for n in variables if str(n).isdigit()]
    last = max([*numbers, 0]) + 2
    return [
        {"number": str(n), "name": variables.get(str(n), "")} for n in range(1, max(last, 3) + 1)
    ]


def _contact_choices(request: HttpRequest, q: str = "") -> list[Contact]:
    contacts = contacts_matching(request.tenant, q).filter(erased_at__isnull=True)
    return list(contacts.order_by("name", "id")[:CONTACT_CHOICES])


def _media_context(template: MessageTemplate | None) -> dict[str, Any]:
    if template is None or template.pk is None:
        return {"media": [], "media_refusal": None, "media_total": 0}
    media = list(TemplateMedia.objects.filter(template=template).order_by("position", "id"))
    for item in media:
        item.link = media_link_path(item)
    return {
        "media": media,
        "media_refusal": media_refusal(template.channel, template.content_sid),
        "media_total": sum(item.size for item in media),
    }


def _editor(
    request: HttpRequest,
    *,
    form: TemplateForm,
    template: MessageTemplate | None = None,
    variables: dict | None = None,
    status: int = 200,
) -> HttpResponse:
    attributes = definitions_for(request.tenant)
    choices = _variable_choices(attributes)
    body = form["body"].value() or ""
    channel = form["channel"].value() or Channel.SMS
    media = _media_context(template)
    context = {
        "section": "campaigns",
        "form": form,
        "template": template,
        "can_manage": _can_manage(request),
        "variable_choices": choices,
        "variable_names": {choice["name"] for choice in choices},
        "has_attributes": bool(attributes),
        "variable_rows": _variable_rows(
            variables if variables is not None else (template.variables if template else {})
        ),
        "contacts": _contact_choices(request),
        "max_files": MAX_FILES,
        "max_total_mb": MAX_TOTAL_BYTES // 1024 // 1024,
        **media,
        **segment_estimate(body, channel, bool(media["media"])),
    }
    return render(request, PAGE, context, status=status)


def _form_with_service_errors(form: TemplateForm, exc: TemplateInvalid) -> TemplateForm:
    form.add_service_errors(exc)
    if "media" in form.service_errors:  # a channel the template's media cannot go with
        form.add_error("channel", form.service_errors.pop("media"))
    return form


@require_http_methods(["GET", "POST"])
@require_permission("templates.manage")
def template_create(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _editor(request, form=TemplateForm())
    form = TemplateForm(request.POST)
    variables = posted_variables(request.POST)
    if not form.is_valid():
        return _editor(request, form=form, variables=variables, status=422)
    try:
        template = check_save_template(request.tenant, **form.values(variables))
    except TemplateInvalid as exc:
        form = _form_with_service_errors(form, exc)
        return _editor(request, form=form, variables=variables, status=422)
    messages.success(request, f"Template “{template}” created.")
    return redirect("campaign-templates:edit", template.pk)


@require_http_methods(["GET", "POST"])
@require_permission("templates.view")
def template_edit(request: HttpRequest, template_id: int) -> HttpResponse:
    template = _template(request, template_id)
    if request.method == "GET":
        initial = {
            "name": template.name,
            "channel": template.channel,
            "body": template.body,
            "content_sid": template.content_sid,
        }
        return _editor(request, form=TemplateForm(initial=initial), template=template)
    _require_manage(request)
    form = TemplateForm(request.POST)
    variables = posted_variables(request.POST)
    if not form.is_valid():
        return _editor(request, form=form, template=template, variables=variables, status=422)
    try:
        check_save_template(request.tenant, template=template, **form.values(variables))
    except TemplateInvalid as exc:
        template.refresh_from_db()  # the failed save left the refused values on the instance
        form = _form_with_service_errors(form, exc)
        return _editor(request, form=form, template=template, variables=variables, status=422)
    messages.success(request, f"Template “{template}” saved.")
    return redirect("campaign-templates:edit", template.pk)


@require_POST
@require_permission("templates.manage")
def template_delete(request: HttpRequest, template_id: int) -> HttpResponse:
    template = _template(request, template_id)
    name = str(template)
    try:
        do_delete_template(template)
    except ActionError as exc:
        messages.error(request, exc.message)
        return redirect("campaign-templates:edit", template_id)
    messages.success(request, f"Template “{name}” deleted.")
    return redirect("campaign-templates:list")


# --- live pieces of the editor ----------------------------------------------------------------


@require_POST
@require_permission("templates.view")
def segments(request: HttpRequest) -> HttpResponse:
    """The counter under the body: what the text as typed costs as SMS (or MMS)."""
    channel = request.POST.get("channel", Channel.SMS)
    has_media = _has_media(request, request.POST.get("template"))
    context = segment_estimate(request.POST.get("body", ""), channel, has_media)
    return render(request, f"{PAGE}#segments", context)


def _preview_context(request: HttpRequest) -> dict[str, Any]:
    data = request.POST
    contact_id = data.get("preview_contact", "")
    if not contact_id:
        return {"contact": None}
    contact = get_in_tenant(Contact, request.tenant, pk=contact_id)
    keys = list(definitions_for(request.tenant))
    body = data.get("body", "")
    channel = data.get("channel", Channel.SMS)
    problems: list[str] = []
    try:
        check_template(body, keys)
    except TemplateError as exc:
        problems = exc.problems
    text: str | None
    info: SegmentInfo | None
    try:
        text, info = preview(MessageTemplate(tenant=request.tenant, body=body), contact)
    except TemplateError:
        text, info = None, None  # malformed placeholders: the problems say where
    variables = []
    if channel == Channel.WHATSAPP:
        values = contact_values(contact, keys)
        variables = [
            {"number": number, "name": name, "value": values.get(name, "")}
            for number, name in posted_variables(data).items()
        ]
    mms = channel == Channel.SMS and _has_media(request, data.get("template"))
    if mms:
        cost = MMS_MESSAGE_PRICE
    else:
        cost = info.cost(SMS_SEGMENT_PRICE) if info and channel == Channel.SMS else None
    return {
        "contact": contact,
        "text": text,
        "info": info,
        "cost": cost,
        "mms": mms,
        "problems": problems,
        "variables": variables,
        "is_sms": channel == Channel.SMS,
    }


@require_POST
@require_permission("templates.view")
def template_preview(request: HttpRequest) -> HttpResponse:
    """The body being written, rendered for the chosen contact (unknown variables named)."""
    return render(request, f"{PAGE}#preview", _preview_context(request))


@require_GET
@require_permission("templates.view")
def contact_options(request: HttpRequest) -> HttpResponse:
    """The preview's contact choices matching ``q``."""
    q = request.GET.get("q", "").strip()
    context = {"contacts": _contact_choices(request, q), "q": q}
    return render(request, f"{PAGE}#contact-options", context)


# --- media ----------------------------------------------------------------------------------


def _media_response(
    request: HttpRequest, template: MessageTemplate, *, error: str = "", status: int = 200
) -> HttpResponse:
    if not wants_piece(request):
        if error:
            messages.error(request, error)
        return redirect("campaign-templates:edit", template.pk)
    context = {
        "template": template,
        "can_manage": True,
        "media_error": error,
        "max_files": MAX_FILES,
        "max_total_mb": MAX_TOTAL_BYTES // 1024 // 1024,
        **_media_context(template),
    }
    response = render(request, f"{PAGE}#media", context, status=status)
    if error:
        return reswap(retarget(response, "#template-media"), "outerHTML")
    return trigger_client_event(response, MEDIA_CHANGED)


@require_POST
@require_permission("templates.manage")
def media_add(request: HttpRequest, template_id: int) -> HttpResponse:
    template = _template(request, template_id)
    upload = request.FILES.get("file")
    if upload is None:
        return _media_response(request, template, error="Choose a file to add.", status=422)
    try:
        do_add_template_media(template, upload)
    except ActionError as exc:
        status = ACTION_ERROR_STATUS.get(exc.code, 422)
        return _media_response(request, template, error=exc.message, status=status)
    return _media_response(request, template)


@require_POST
@require_permission("templates.manage")
def media_remove(request: HttpRequest, template_id: int, media_id: int) -> HttpResponse:
    template = _template(request, template_id)
    media = get_in_tenant(TemplateMedia, request.tenant, pk=media_id, template=template)
    try:
        do_remove_template_media(media)
    except ActionError as exc:
        status = ACTION_ERROR_STATUS.get(exc.code, 422)
        return _media_response(request, template, error=exc.message, status=status)
    return _media_response(request, template)


@require_safe  # Twilio checks the type with a HEAD before it GETs the file
def media_file(request: HttpRequest, token: str) -> HttpResponse:
    """A template's media, for the provider that sends it: no login, the signed link is the
    key (and the same link works in the editor's previews)."""
    media = media_for_link(token)
    if media is None or not media.file:
        raise Http404("This link is not valid.")
    try:
        return serve_file(
            media.file,
            content_type=media.content_type,
            filename=media.file.name.rsplit("/", 1)[-1],
        )
    except FileNotFoundError:
        raise Http404("This file is gone.") from None
