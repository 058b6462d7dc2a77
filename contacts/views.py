"""The contact page and its forms, the attribute definitions page and the blocklist page.

``contacts/contact.html`` declares the page's swappable pieces as partials, each with a stable
id: ``header`` (``#contact-header``), ``details`` (``#contact-details``: phones, emails,
address…), ``attributes`` (``#contact-attributes``), ``household`` (``#contact-household``),
``consent`` (``#contact-consent``) and ``labels`` (``#contact-labels``). The apps above
contacts add their sections to the side column (``contacts.hooks.contact_panels``: the
inbox's conversations, ``#contact-conversations``). A form posted by htmx gets its piece back
(with per-field errors and a 4xx status plus ``HX-Retarget`` when refused); without JavaScript
the same form redirects back to the page, or renders the whole page with the errors. Views
parse, call one service and render; every lookup is scoped to the request's tenant (404
otherwise).
"""

import json
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import reswap, retarget

from contacts import hooks
from contacts.attribute_definitions import (
    contacts_with_value,
    definitions_list,
    do_create_attribute_definition,
    do_delete_attribute_definition,
    do_update_attribute_definition,
)
from contacts.attributes import attribute_rows
from contacts.blocklist import blocklist_for_tenant, do_block_address, do_unblock_address
from contacts.contact_forms import (
    AttributeDefinitionForm,
    BlockForm,
    ContactForm,
    EmailForm,
    HouseholdMemberForm,
    PhoneForm,
)
from contacts.gdpr import do_erase_contact, do_export_contact
from contacts.households import (
    do_add_household_member,
    do_confirm_household_member,
    do_remove_household_member,
    do_update_household_member,
)
from contacts.merge import do_merge_contacts
from contacts.models import (
    AttributeDefinition,
    BlockedAddress,
    Contact,
    ContactEmail,
    ContactLabel,
    ContactPhone,
    HouseholdMember,
    ListMembership,
)
from contacts.services import (
    ContactInvalid,
    contacts_matching,
    do_add_email,
    do_add_phone,
    do_change_consent,
    do_create_contact,
    do_delete_contact,
    do_label_contact,
    do_make_primary_email,
    do_make_primary_phone,
    do_remove_email,
    do_remove_phone,
    do_set_attributes,
    do_unlabel_contact,
    do_update_contact,
)
from omnichannel.actions import ACTION_ERROR_STATUS, ActionError
from omnichannel.htmx import wants_piece
from omnichannel.models import Label
from omnichannel.tenancy import get_in_tenant, require_permission

TEMPLATE = "contacts/contact.html"
MERGE_CANDIDATES = 20
BLOCKLIST_PAGE_SIZE = 50


# --- rendering ----------------------------------------------------------------------------------


def _permissions(request: HttpRequest) -> dict[str, Any]:
    codenames = request.membership.role.codenames()
    return {
        "user_permissions": codenames,
        "can": {
            "edit": "contacts.edit" in codenames,
            "delete": "contacts.delete" in codenames,
            "export": "contacts.export" in codenames,
            "merge": "contacts.merge" in codenames,
            "erase": "contacts.erase" in codenames,
            "consent": "contacts.manage_consent" in codenames,
            "attributes": "contacts.manage_attributes" in codenames,
            "notifications": "notifications.view" in codenames,
        },
    }


def _contact(request: HttpRequest, contact_id: int) -> Contact:
    return get_in_tenant(Contact, request.tenant, pk=contact_id)


def contact_context(
    request: HttpRequest,
    contact: Contact,
    *,
    attribute_input: dict[str, str] | None = None,
    attribute_errors: dict[str, str] | None = None,
    forms: dict[str, Any] | None = None,
    piece_errors: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Everything the contact page shows, in a fixed number of queries. ``piece_errors`` maps
    a piece (``details``, ``household``…) to the refusal shown in it."""
    tenant = request.tenant
    definitions = list(definitions_list(tenant))
    attributes, orphan_attributes = attribute_rows(
        contact, definitions, submitted=attribute_input, errors=attribute_errors
    )
    phones = list(ContactPhone.objects.filter(contact=contact).order_by("-is_primary", "id"))
    if not phones and contact.phone:  # written without its row: shown, managed once edited
        phones = [ContactPhone(number=contact.phone, is_primary=True)]
    emails = list(ContactEmail.objects.filter(contact=contact).order_by("-is_primary", "id"))
    if not emails and contact.email:
        emails = [ContactEmail(email=contact.email, is_primary=True)]
    blocked = set(
        BlockedAddress.objects.for_tenant(tenant)
        .filter(value__in=[p.number for p in phones] + [e.email for e in emails])
        .values_list("value", flat=True)
    )
    consents = {(c.channel, c.sender): c for c in contact.consents.all()}
    consent_rows = []
    for sender in hooks.senders(tenant):
        consent = consents.pop((sender.channel, sender.address), None)
        consent_rows.append({"sender": sender, "consent": consent})
    for consent in consents.values():  # senders whose inbox was removed
        consent_rows.append({"sender": None, "consent": consent})
    label_links = list(
        ContactLabel.objects.filter(contact=contact).select_related("label").order_by("label__name")
    )
    on_contact = {link.label_id for link in label_links}
    panels = [hook(request, contact) for hook in hooks.contact_panels]
    return {
        "section": "contacts",
        "contact": contact,
        "phones": phones,
        "emails": emails,
        "blocked": blocked,
        "attributes": attributes,
        "orphan_attributes": orphan_attributes,
        "household": list(
            HouseholdMember.objects.filter(contact=contact)
            .select_related("member", "confirmed_by")
            .order_by("id")
        ),
        "relationships": HouseholdMember.Relationship.choices,
        "consent_rows": consent_rows,
        "label_links": label_links,
        "available_labels": [
            label
            for label in Label.objects.for_tenant(tenant).order_by("name", "id")
            if label.pk not in on_contact
        ],
        "list_memberships": list(
            ListMembership.objects.filter(contact=contact)
            .select_related("contact_list")
            .order_by("contact_list__name")
        ),
        "panels": panels,
        "deletable": not any(panel.keeps_contact for panel in panels),
        "phone_form": PhoneForm(),
        "email_form": EmailForm(),
        "member_form": HouseholdMemberForm(),
        "phone_kinds": ContactPhone.Kind.choices,
        "errors": piece_errors or {},
        **(forms or {}),
        **_permissions(request),
    }


def _page(
    request: HttpRequest,
    contact: Contact,
    *,
    piece: str | None = None,
    status: int = 200,
    **extra: Any,
) -> HttpResponse:
    context = contact_context(request, contact, **extra)
    if piece is not None and wants_piece(request):
        response = render(request, f"{TEMPLATE}#{piece}", context, status=status)
        if status >= 400:
            retarget(response, f"#contact-{piece}")
            reswap(response, "outerHTML")
        return response
    return render(request, TEMPLATE, context, status=status)


def _done(request: HttpRequest, contact: Contact, piece: str, message: str = "") -> HttpResponse:
    """After a successful POST: the fresh piece (htmx) or back to the page."""
    if wants_piece(request):
        contact.refresh_from_db()
        return _page(request, contact, piece=piece)
    if message:
        messages.success(request, message)
    return redirect(f"{reverse('contacts:detail', args=[contact.pk])}#contact-{piece}")


def _refused(
    request: HttpRequest, contact: Contact, piece: str, exc: ActionError, **extra: Any
) -> HttpResponse:
    """A refused change: the piece with the reason (htmx), or the page with it."""
    status = 422 if isinstance(exc, ContactInvalid) else ACTION_ERROR_STATUS.get(exc.code, 400)
    if not wants_piece(request):
        messages.error(request, exc.message)
    contact.refresh_from_db()
    return _page(
        request, contact, piece=piece, status=status, piece_errors={piece: exc.message}, **extra
    )


# --- the page, create and edit --------------------------------------------------------------------


@require_GET
@require_permission("contacts.view")
def detail(request: HttpRequest, contact_id: int) -> HttpResponse:
    return _page(request, _contact(request, contact_id))


def _form_page(
    request: HttpRequest, form: ContactForm, contact: Contact | None, *, status: int = 200
) -> HttpResponse:
    context = {"form": form, "contact": contact, "section": "contacts", **_permissions(request)}
    return render(request, "contacts/contact_form.html", context, status=status)


@require_http_methods(["GET", "POST"])
@require_permission("contacts.edit")
def create(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _form_page(request, ContactForm(), None)
    form = ContactForm(request.POST)
    if not form.is_valid():
        return _form_page(request, form, None, status=422)
    try:
        contact = do_create_contact(
            request.tenant,
            fields=form.contact_fields(),
            phones=[form.cleaned_data["phone"]] if form.cleaned_data["phone"] else [],
            emails=[form.cleaned_data["email"]] if form.cleaned_data["email"] else [],
            created_via=Contact.CreatedVia.MANUAL,
            acting_user=request.user,
        )
    except ContactInvalid as exc:
        form.add_service_errors(exc)
        return _form_page(request, form, None, status=422)
    messages.success(request, f"{contact} was added.")
    return redirect("contacts:detail", contact.pk)


@require_http_methods(["GET", "POST"])
@require_permission("contacts.edit")
def edit(request: HttpRequest, contact_id: int) -> HttpResponse:
    contact = _contact(request, contact_id)
    if contact.erased_at is not None:
        messages.error(request, "This contact's personal data was erased; it cannot be edited.")
        return redirect("contacts:detail", contact.pk)
    if request.method == "GET":
        initial = {name: getattr(contact, name) for name in ContactForm.base_fields}
        return _form_page(request, ContactForm(initial=initial, editing=True), contact)
    form = ContactForm(request.POST, editing=True)
    if not form.is_valid():
        return _form_page(request, form, contact, status=422)
    try:
        do_update_contact(contact, fields=form.contact_fields(), acting_user=request.user)
    except ContactInvalid as exc:
        form.add_service_errors(exc)
        return _form_page(request, form, contact, status=422)
    except ActionError as exc:
        messages.error(request, exc.message)
        return _form_page(request, form, contact, status=ACTION_ERROR_STATUS.get(exc.code, 400))
    messages.success(request, "Contact saved.")
    return redirect("contacts:detail", contact.pk)


@require_POST
@require_permission("contacts.delete")
def delete(request: HttpRequest, contact_id: int) -> HttpResponse:
    contact = _contact(request, contact_id)
    label = str(contact)
    try:
        do_delete_contact(contact, acting_user=request.user, request=request)
    except ActionError as exc:
        return _refused(request, contact, "header", exc)
    messages.success(request, f"{label} was deleted.")
    return redirect("contacts:index")


# --- phones and emails --------------------------------------------------------------------------


@require_POST
@require_permission("contacts.edit")
def phone_add(request: HttpRequest, contact_id: int) -> HttpResponse:
    contact = _contact(request, contact_id)
    form = PhoneForm(request.POST)
    if not form.is_valid():
        return _page(request, contact, piece="details", status=422, forms={"phone_form": form})
    try:
        do_add_phone(
            contact,
            form.cleaned_data["number"],
            kind=form.cleaned_data["kind"] or ContactPhone.Kind.MOBILE,
            primary=form.cleaned_data["primary"],
        )
    except ContactInvalid as exc:
        form.add_error("number", next(iter(exc.errors.values())))
        return _page(request, contact, piece="details", status=422, forms={"phone_form": form})
    except ActionError as exc:
        return _refused(request, contact, "details", exc, forms={"phone_form": form})
    return _done(request, contact, "details", "Phone number added.")


def _phone(contact: Contact, phone_id: int) -> ContactPhone:
    phone = ContactPhone.objects.filter(contact=contact, pk=phone_id).first()
    if phone is None:
        raise Http404("No phone found.")
    return phone


@require_POST
@require_permission("contacts.edit")
def phone_primary(request: HttpRequest, contact_id: int, phone_id: int) -> HttpResponse:
    contact = _contact(request, contact_id)
    try:
        do_make_primary_phone(contact, _phone(contact, phone_id))
    except ActionError as exc:
        return _refused(request, contact, "details", exc)
    return _done(request, contact, "details", "Primary phone changed.")


@require_POST
@require_permission("contacts.edit")
def phone_remove(request: HttpRequest, contact_id: int, phone_id: int) -> HttpResponse:
    contact = _contact(request, contact_id)
    try:
        do_remove_phone(contact, _phone(contact, phone_id))
    except ActionError as exc:
        return _refused(request, contact, "details", exc)
    return _done(request, contact, "details", "Phone number removed.")


@require_POST
@require_permission("contacts.edit")
def email_add(request: HttpRequest, contact_id: int) -> HttpResponse:
    contact = _contact(request, contact_id)
    form = EmailForm(request.POST)
    if not form.is_valid():
        return _page(request, contact, piece="details", status=422, forms={"email_form": form})
    try:
        do_add_email(contact, form.cleaned_data["email"], primary=form.cleaned_data["primary"])
    except ContactInvalid as exc:
        form.add_error("email", next(iter(exc.errors.values())))
        return _page(request, contact, piece="details", status=422, forms={"email_form": form})
    except ActionError as exc:
        return _refused(request, contact, "details", exc, forms={"email_form": form})
    return _done(request, contact, "details", "Email address added.")


def _email(contact: Contact, email_id: int) -> ContactEmail:
    email = ContactEmail.objects.filter(contact=contact, pk=email_id).first()
    if email is None:
        raise Http404("No email found.")
    return email


@require_POST
@require_permission("contacts.edit")
def email_primary(request: HttpRequest, contact_id: int, email_id: int) -> HttpResponse:
    contact = _contact(request, contact_id)
    try:
        do_make_primary_email(contact, _email(contact, email_id))
    except ActionError as exc:
        return _refused(request, contact, "details", exc)
    return _done(request, contact, "details", "Primary email changed.")


@require_POST
@require_permission("contacts.edit")
def email_remove(request: HttpRequest, contact_id: int, email_id: int) -> HttpResponse:
    contact = _contact(request, contact_id)
    try:
        do_remove_email(contact, _email(contact, email_id))
    except ActionError as exc:
        return _refused(request, contact, "details", exc)
    return _done(request, contact, "details", "Email address removed.")


# --- attributes ---------------------------------------------------------------------------------


@require_POST
@require_permission("contacts.edit")
def attributes_save(request: HttpRequest, contact_id: int) -> HttpResponse:
    """The whole attributes form: every definition's value, blank removes it."""
    contact = _contact(request, contact_id)
    definitions = list(definitions_list(request.tenant))
    submitted = {d.key: request.POST.get(f"attr-{d.key}", "") for d in definitions}
    try:
        do_set_attributes(contact, submitted, acting_user=request.user)
    except ContactInvalid as exc:
        errors = {key.removeprefix("attributes."): reason for key, reason in exc.errors.items()}
        if not wants_piece(request):
            messages.error(request, "Some attributes were not saved; see the reasons below.")
        return _page(
            request,
            contact,
            piece="attributes",
            status=422,
            attribute_input=submitted,
            attribute_errors=errors,
        )
    except ActionError as exc:
        return _refused(request, contact, "attributes", exc)
    return _done(request, contact, "attributes", "Attributes saved.")


# --- household ----------------------------------------------------------------------------------


def _member(contact: Contact, member_id: int) -> HouseholdMember:
    member = (
        HouseholdMember.objects.filter(contact=contact, pk=member_id)
        .select_related("contact")
        .first()
    )
    if member is None:
        raise Http404("No household member found.")
    return member


@require_POST
@require_permission("contacts.edit")
def household_add(request: HttpRequest, contact_id: int) -> HttpResponse:
    contact = _contact(request, contact_id)
    form = HouseholdMemberForm(request.POST)
    if not form.is_valid():
        return _page(request, contact, piece="household", status=422, forms={"member_form": form})
    try:
        do_add_household_member(contact, **form.cleaned_data, acting_user=request.user)
    except ActionError as exc:
        return _refused(request, contact, "household", exc, forms={"member_form": form})
    return _done(request, contact, "household", "Household member added.")


@require_POST
@require_permission("contacts.edit")
def household_edit(request: HttpRequest, contact_id: int, member_id: int) -> HttpResponse:
    contact = _contact(request, contact_id)
    member = _member(contact, member_id)
    form = HouseholdMemberForm(request.POST)
    if not form.is_valid():
        first = next(iter(form.errors.items()))
        exc = ActionError(f"{first[0].replace('_', ' ').capitalize()}: {first[1][0]}")
        return _refused(request, contact, "household", exc)
    try:
        do_update_household_member(member, **form.cleaned_data, acting_user=request.user)
    except ActionError as exc:
        return _refused(request, contact, "household", exc)
    return _done(request, contact, "household", f"{member.name} saved and confirmed.")


@require_POST
@require_permission("contacts.edit")
def household_confirm(request: HttpRequest, contact_id: int, member_id: int) -> HttpResponse:
    contact = _contact(request, contact_id)
    member = _member(contact, member_id)
    do_confirm_household_member(member, acting_user=request.user)
    return _done(request, contact, "household", f"{member.name} confirmed.")


@require_POST
@require_permission("contacts.edit")
def household_remove(request: HttpRequest, contact_id: int, member_id: int) -> HttpResponse:
    contact = _contact(request, contact_id)
    member = _member(contact, member_id)
    do_remove_household_member(member, acting_user=request.user)
    return _done(request, contact, "household", f"{member.name} removed.")


# --- consent and labels -------------------------------------------------------------------------


@require_POST
@require_permission("contacts.manage_consent")
def consent_set(request: HttpRequest, contact_id: int) -> HttpResponse:
    contact = _contact(request, contact_id)
    try:
        do_change_consent(
            contact,
            channel=request.POST.get("channel", ""),
            sender=request.POST.get("sender", ""),
            status=request.POST.get("status", ""),
            acting_user=request.user,
            request=request,
        )
    except ActionError as exc:
        return _refused(request, contact, "consent", exc)
    return _done(request, contact, "consent", "Consent recorded.")


@require_POST
@require_permission("contacts.edit")
def label_add(request: HttpRequest, contact_id: int) -> HttpResponse:
    contact = _contact(request, contact_id)
    label = get_in_tenant(Label, request.tenant, pk=request.POST.get("label"))
    do_label_contact(contact, label)
    return _done(request, contact, "labels")


@require_POST
@require_permission("contacts.edit")
def label_remove(request: HttpRequest, contact_id: int, label_id: int) -> HttpResponse:
    contact = _contact(request, contact_id)
    do_unlabel_contact(contact, get_in_tenant(Label, request.tenant, pk=label_id))
    return _done(request, contact, "labels")


# --- merge, export, erase -----------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@require_permission("contacts.merge")
def merge(request: HttpRequest, contact_id: int) -> HttpResponse:
    """Pick the duplicate by search, compare the two, choose which one is kept, merge."""
    contact = _contact(request, contact_id)
    if request.method == "POST":
        other = _contact(request, request.POST.get("other", "0"))
        keep = request.POST.get("keep", "this")
        winner, loser = (contact, other) if keep == "this" else (other, contact)
        try:
            winner = do_merge_contacts(winner, loser, acting_user=request.user, request=request)
        except ActionError as exc:
            messages.error(request, exc.message)
            return redirect(f"{reverse('contacts:merge', args=[contact.pk])}?with={other.pk}")
        messages.success(request, f"Merged: {loser} is now part of {winner}.")
        return redirect("contacts:detail", winner.pk)

    q = request.GET.get("q", "").strip()
    other = None
    if request.GET.get("with"):
        other = _contact(request, request.GET["with"])
        if other.pk == contact.pk:
            raise Http404("Choose another contact.")
    candidates: list[Contact] = []
    if q and other is None:
        candidates = list(
            contacts_matching(request.tenant, q)
            .exclude(pk=contact.pk)
            .filter(erased_at__isnull=True)
            .order_by("name", "id")[:MERGE_CANDIDATES]
        )
    context = {
        "section": "contacts",
        "contact": contact,
        "other": other,
        "q": q,
        "candidates": candidates,
        **_permissions(request),
    }
    if wants_piece(request) and other is None:
        return render(request, "contacts/merge.html#candidates", context)
    return render(request, "contacts/merge.html", context)


@require_POST
@require_permission("contacts.export")
def export(request: HttpRequest, contact_id: int) -> HttpResponse:
    """The JSON file of everything about the contact (a download; audited)."""
    contact = _contact(request, contact_id)
    data = do_export_contact(contact, acting_user=request.user, request=request)
    response = HttpResponse(
        json.dumps(data, indent=2, ensure_ascii=False, default=str),
        content_type="application/json; charset=utf-8",
    )
    stamp = timezone.localdate().isoformat()  # the day where the person reads times
    response["Content-Disposition"] = f'attachment; filename="contact-{contact.pk}-{stamp}.json"'
    return response


@require_http_methods(["GET", "POST"])
@require_permission("contacts.erase")
def erase(request: HttpRequest, contact_id: int) -> HttpResponse:
    contact = _contact(request, contact_id)
    if request.method == "POST":
        if request.POST.get("confirm") != "erase":
            messages.error(request, "Tick the box to confirm the erasure.")
        else:
            do_erase_contact(contact, acting_user=request.user, request=request)
            messages.success(request, "The contact's personal data was erased.")
            return redirect("contacts:detail", contact.pk)
    context = {
        "section": "contacts",
        "contact": contact,
        "erase_preview": [line for hook in hooks.erase_previews for line in hook(contact)],
        **_permissions(request),
    }
    return render(
        request, "contacts/erase.html", context, status=200 if request.method == "GET" else 400
    )


# --- attribute definitions ----------------------------------------------------------------------


def _definitions_page(
    request: HttpRequest,
    *,
    form: AttributeDefinitionForm | None = None,
    editing: AttributeDefinition | None = None,
    status: int = 200,
) -> HttpResponse:
    definitions = list(definitions_list(request.tenant))
    context = {
        "section": "contacts",
        "definitions": definitions,
        "form": form or AttributeDefinitionForm(editing=editing is not None),
        "editing": editing,
        "in_use": contacts_with_value(editing) if editing else None,
        **_permissions(request),
    }
    return render(request, "contacts/attributes.html", context, status=status)


def _definition_values(form: AttributeDefinitionForm) -> dict[str, Any]:
    data = dict(form.cleaned_data)
    data.pop("key", None)
    return data


@require_http_methods(["GET", "POST"])
@require_permission("contacts.manage_attributes")
def attribute_definitions(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _definitions_page(request)
    form = AttributeDefinitionForm(request.POST)
    if not form.is_valid():
        return _definitions_page(request, form=form, status=422)
    try:
        definition = do_create_attribute_definition(
            request.tenant,
            key=form.cleaned_data["key"],
            **_definition_values(form),
            acting_user=request.user,
            request=request,
        )
    except ContactInvalid as exc:
        form.add_service_errors(exc)
        return _definitions_page(request, form=form, status=422)
    messages.success(request, f"Attribute “{definition.label}” created.")
    return redirect("contacts:attributes")


@require_http_methods(["GET", "POST"])
@require_permission("contacts.manage_attributes")
def attribute_definition_edit(request: HttpRequest, definition_id: int) -> HttpResponse:
    definition = get_in_tenant(AttributeDefinition, request.tenant, pk=definition_id)
    if request.method == "GET":
        initial = {
            "label": definition.label,
            "type": definition.type,
            "choices": "\n".join(definition.choices),
            "is_required": definition.is_required,
            "description": definition.description,
        }
        form = AttributeDefinitionForm(initial=initial, editing=True)
        return _definitions_page(request, form=form, editing=definition)
    form = AttributeDefinitionForm(request.POST, editing=True)
    if not form.is_valid():
        return _definitions_page(request, form=form, editing=definition, status=422)
    try:
        do_update_attribute_definition(
            definition, **_definition_values(form), acting_user=request.user, request=request
        )
    except ContactInvalid as exc:
        form.add_service_errors(exc)
        return _definitions_page(request, form=form, editing=definition, status=422)
    messages.success(request, f"Attribute “{definition.label}” saved.")
    return redirect("contacts:attributes")


@require_POST
@require_permission("contacts.manage_attributes")
def attribute_definition_delete(request: HttpRequest, definition_id: int) -> HttpResponse:
    definition = get_in_tenant(AttributeDefinition, request.tenant, pk=definition_id)
    cleared = do_delete_attribute_definition(definition, acting_user=request.user, request=request)
    messages.success(
        request,
        f"Attribute “{definition.label}” deleted"
        + (f", and its value on {cleared} contacts." if cleared else "."),
    )
    return redirect("contacts:attributes")


# --- blocklist ----------------------------------------------------------------------------------


def _blocklist_page(
    request: HttpRequest, *, form: BlockForm | None = None, status: int = 200
) -> HttpResponse:
    rows: QuerySet[BlockedAddress] = blocklist_for_tenant(request.tenant)
    q = request.GET.get("q", "").strip()
    if q:
        rows = rows.filter(value__icontains=q)
    page = Paginator(rows, BLOCKLIST_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "section": "contacts",
        "page": page,
        "q": q,
        "form": form or BlockForm(),
        **_permissions(request),
    }
    return render(request, "contacts/blocklist.html", context, status=status)


@require_http_methods(["GET", "POST"])
@require_permission("contacts.manage_consent")
def blocklist(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _blocklist_page(request)
    form = BlockForm(request.POST)
    if not form.is_valid():
        return _blocklist_page(request, form=form, status=422)
    try:
        blocked, created = do_block_address(
            request.tenant,
            kind=form.cleaned_data["kind"] or ContactPhone.Kind.MOBILE,
            value=form.cleaned_data["value"],
            reason=form.cleaned_data["reason"],
            acting_user=request.user,
            request=request,
        )
    except ActionError as exc:
        form.add_error("value", exc.message)
        return _blocklist_page(request, form=form, status=422)
    if created:
        messages.success(request, f"{blocked.value} is blocked.")
    else:
        messages.info(request, f"{blocked.value} was already blocked.")
    return redirect("contacts:blocklist")


@require_POST
@require_permission("contacts.manage_consent")
def unblock(request: HttpRequest, blocked_id: int) -> HttpResponse:
    blocked = get_in_tenant(BlockedAddress, request.tenant, pk=blocked_id)
    do_unblock_address(blocked, acting_user=request.user, request=request)
    messages.success(request, f"{blocked.value} is no longer blocked.")
    return redirect("contacts:blocklist")
