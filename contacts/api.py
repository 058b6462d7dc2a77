"""Contacts in the JSON API (mounted at /api/v1/ by omnichannel.api): CRUD and search,
household, consent, merge, GDPR export and erase, attribute definitions and the blocklist.

Everything is scoped to the calling token's tenant: another tenant's id answers 404, exactly
like a missing one. Invalid input answers 422 with the usual error body plus ``errors``, which
maps each field to what is wrong with it::

    {"error": {"code": "invalid", "message": "Please correct: …",
               "errors": {"phones.0": "…", "attributes.plan": "“x” is not one of the choices (…)"}}}
"""

from collections.abc import Callable
from datetime import date, datetime
from functools import wraps
from typing import Any, Literal

from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from contacts.api_imports import router as imports_router
from contacts.api_lists import router as lists_router
from contacts.attribute_definitions import (
    definitions_list,
    do_create_attribute_definition,
    do_delete_attribute_definition,
    do_update_attribute_definition,
)
from contacts.blocklist import blocklist_for_tenant, do_block_address, do_unblock_address
from contacts.gdpr import do_erase_contact, do_export_contact
from contacts.households import (
    KEEP_MEMBER,
    apply_automated_household,
    do_add_household_member,
    do_confirm_household_member,
    do_remove_household_member,
    do_update_household_member,
)
from contacts.merge import do_merge_contacts
from contacts.models import (
    AttributeDefinition,
    BlockedAddress,
    Consent,
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
    do_change_consent,
    do_create_contact,
    do_delete_contact,
    do_update_contact,
)
from omnichannel.api import ApiInput, Paginated, error, permission_required
from omnichannel.tenancy import get_in_tenant

router = Router(tags=["contacts"])
# Mounted at /api/v1/ by omnichannel.api, in this order: contacts, then imports, then lists.
ROUTERS = [router, imports_router, lists_router]

PHONE_KINDS = Literal["mobile", "home", "work", "other"]
RELATIONSHIPS = Literal[
    "spouse", "partner", "child", "parent", "sibling", "grandparent", "grandchild", "other"
]
ATTRIBUTE_TYPES = Literal["text", "number", "date", "boolean", "choice"]


# --- Schemas ------------------------------------------------------------------------------------


class PhoneOut(Schema):
    number: str
    kind: str
    primary: bool


class EmailOut(Schema):
    email: str
    primary: bool


class ContactOut(Schema):
    id: int
    name: str
    first_name: str
    last_name: str
    phone: str = Field(..., description="The primary phone, E.164.")
    email: str = Field(..., description="The primary email.")
    phones: list[PhoneOut]
    emails: list[EmailOut]
    address_line1: str
    address_line2: str
    city: str
    region: str
    postal_code: str
    country: str
    timezone: str
    preferred_channel: str
    language: str
    external_ids: dict[str, str]
    created_via: str
    inferred_gender: str
    attributes: dict[str, Any]
    labels: list[str]
    last_contacted_at: datetime | None
    erased_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_phones(contact: Contact) -> list[dict]:
        rows = [
            {"number": p.number, "kind": p.kind, "primary": p.is_primary}
            for p in contact.phones.all()
        ]
        if not rows and contact.phone:  # written without its ContactPhone row
            rows = [{"number": contact.phone, "kind": "mobile", "primary": True}]
        return rows

    @staticmethod
    def resolve_emails(contact: Contact) -> list[dict]:
        rows = [{"email": e.email, "primary": e.is_primary} for e in contact.emails.all()]
        if not rows and contact.email:
            rows = [{"email": contact.email.lower(), "primary": True}]
        return rows

    @staticmethod
    def resolve_labels(contact: Contact) -> list[str]:
        return sorted(link.label.name for link in contact.label_links.all())


class HouseholdMemberOut(Schema):
    id: int
    name: str
    relationship: str
    date_of_birth: date | None
    member_contact_id: int | None = Field(..., alias="member_id")
    source: str
    confirmed: bool = Field(..., alias="is_confirmed")
    confirmed_at: datetime | None


class ConsentOut(Schema):
    channel: str
    sender: str
    status: str
    source: str
    detail: str
    changed_at: datetime


class ListRef(Schema):
    id: int
    name: str


class ContactDetailOut(ContactOut):
    household: list[HouseholdMemberOut]
    consents: list[ConsentOut]
    lists: list[ListRef]

    @staticmethod
    def resolve_household(contact: Contact) -> list:
        return list(contact.household.all())

    @staticmethod
    def resolve_consents(contact: Contact) -> list:
        return list(contact.consents.all())

    @staticmethod
    def resolve_lists(contact: Contact) -> list:
        return [{"id": m.contact_list_id, "name": m.contact_list.name} for m in contact.memberships]


class PhoneIn(ApiInput):
    number: str = Field(
        ..., max_length=50, description="Any format; national numbers use the tenant's region."
    )
    kind: PHONE_KINDS = "mobile"
    primary: bool = False


class EmailIn(ApiInput):
    email: str = Field(..., max_length=254)
    primary: bool = False


class ContactIn(ApiInput):
    first_name: str | None = None
    last_name: str | None = None
    name: str | None = Field(None, description="Display name when first/last are unknown.")
    phones: list[PhoneIn] | None = Field(
        None, description="The full list; the first is primary unless one says so."
    )
    emails: list[EmailIn] | None = None
    address_line1: str | None = None
    address_line2: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = Field(None, description="ISO 3166 alpha-2, e.g. MX.")
    timezone: str | None = Field(
        None, description="IANA, e.g. America/Mexico_City; inferred from the phone when blank."
    )
    preferred_channel: str | None = None
    language: str | None = None
    inferred_gender: str | None = None
    external_ids: dict[str, Any] | None = None
    attributes: dict[str, Any] | None = Field(
        None, description='Custom attribute values by key; null or "" removes one.'
    )


class HouseholdMemberIn(ApiInput):
    name: str = Field(..., max_length=200)
    relationship: RELATIONSHIPS
    date_of_birth: date | None = None
    member_contact_id: int | None = Field(None, description="The member's own contact, if any.")


class HouseholdIn(ApiInput):
    members: list[HouseholdMemberIn] = Field(..., max_length=50)
    confirmed: bool = Field(
        False,
        description=(
            "False (automation, e.g. enrichment): members are added or refreshed, confirmed "
            "ones are never changed and nobody is removed. True: a person confirmed them."
        ),
    )


class HouseholdChangesOut(Schema):
    added: list[HouseholdMemberOut]
    updated: list[HouseholdMemberOut]
    protected: list[HouseholdMemberOut] = Field(..., description="Confirmed: left as they are.")


class ConsentIn(ApiInput):
    channel: str
    sender: str = Field(..., description="The tenant's inbox address on that channel.")
    status: Literal["opted_in", "opted_out"]
    detail: str = Field("", max_length=200)


class MergeIn(ApiInput):
    duplicate_id: int = Field(..., description="The contact merged into this one, then deleted.")


class AttributeDefinitionOut(Schema):
    id: int
    key: str
    label: str
    type: str
    choices: list[str]
    is_required: bool
    description: str
    position: int


class AttributeDefinitionIn(ApiInput):
    key: str = Field(..., max_length=60)
    label: str = Field(..., max_length=100)
    type: ATTRIBUTE_TYPES = "text"
    choices: list[str] = Field(default_factory=list)
    is_required: bool = False
    description: str = Field("", max_length=200)
    position: int | None = Field(None, ge=0)


class AttributeDefinitionPatch(ApiInput):
    label: str | None = Field(None, max_length=100)
    type: ATTRIBUTE_TYPES | None = None
    choices: list[str] | None = None
    is_required: bool | None = None
    description: str | None = Field(None, max_length=200)
    position: int | None = Field(None, ge=0)


class BlockedOut(Schema):
    id: int
    kind: str
    value: str
    reason: str
    created_at: datetime


class BlockIn(ApiInput):
    phone: str | None = Field(None, max_length=50)
    email: str | None = Field(None, max_length=254)
    reason: str = Field("", max_length=200)


# --- Helpers ------------------------------------------------------------------------------------


def reports_invalid(view: Callable) -> Callable:
    """:class:`ContactInvalid` answers 422 with the per-field ``errors``."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        try:
            return view(request, *args, **kwargs)
        except ContactInvalid as exc:
            return error(request, 422, "invalid", exc.message, errors=exc.errors)

    return wrapper


def contacts_with_details(queryset: QuerySet[Contact]) -> QuerySet[Contact]:
    return queryset.prefetch_related(
        Prefetch("phones", queryset=ContactPhone.objects.order_by("-is_primary", "id")),
        Prefetch("emails", queryset=ContactEmail.objects.order_by("-is_primary", "id")),
        Prefetch("label_links", queryset=ContactLabel.objects.select_related("label")),
    )


def _contact(request: HttpRequest, contact_id: int, *, details: bool = False) -> Contact:
    queryset = contacts_with_details(Contact.objects.all())
    if details:
        queryset = queryset.prefetch_related(
            Prefetch("household", queryset=HouseholdMember.objects.order_by("id")),
            Prefetch("consents", queryset=Consent.objects.order_by("channel", "sender")),
        )
    contact = get_in_tenant(queryset, request.tenant, pk=contact_id)
    if details:
        contact.memberships = list(
            ListMembership.objects.filter(contact=contact)
            .select_related("contact_list")
            .order_by("contact_list__name")
        )
    return contact


def _payload_changes(payload: ContactIn) -> dict[str, Any]:
    data = payload.model_dump(exclude_unset=True)
    phones = data.pop("phones", None)
    emails = data.pop("emails", None)
    attributes = data.pop("attributes", None)
    return {"fields": data, "phones": phones, "emails": emails, "attributes": attributes}


def _actor(request: HttpRequest) -> dict[str, Any]:
    return {"acting_token": request.api_token}


# --- Contacts -----------------------------------------------------------------------------------


@router.get("/contacts", response=list[ContactOut], summary="Search and list contacts")
@permission_required("contacts.view")
@paginate(Paginated, max_limit=200)
def contact_list(
    request: HttpRequest,
    q: str | None = Query(
        None,
        max_length=200,
        description="Name (any case, accents ignored), email, or phone digits in any format.",
    ),
    external_id: str | None = Query(
        None,
        max_length=150,
        pattern=r"^[A-Za-z0-9_.:-]+:.+$",
        description="`system:id`, e.g. `chatwoot:123`: the contact with that id in that system.",
    ),
):
    """Newest first. `q` matches a substring of the name or of any email, or the digits of any
    of the contact's phones ("5512 3456" finds +525512345678)."""
    contacts = contacts_matching(request.tenant, q or "")
    if external_id:
        system, _, value = external_id.partition(":")
        contacts = contacts.filter(external_ids__contains={system: value})
    return contacts_with_details(contacts).order_by("-created_at", "-id")


@router.post("/contacts", response={201: ContactDetailOut}, summary="Create a contact")
@permission_required("contacts.edit")
@reports_invalid
def contact_create(request: HttpRequest, payload: ContactIn):
    changes = _payload_changes(payload)
    contact = do_create_contact(
        request.tenant,
        fields=changes["fields"],
        phones=changes["phones"] or (),
        emails=changes["emails"] or (),
        attributes=changes["attributes"],
        created_via=Contact.CreatedVia.API,
        **_actor(request),
    )
    return Status(201, _contact(request, contact.pk, details=True))


@router.get("/contacts/{int:contact_id}", response=ContactDetailOut, summary="A contact")
@permission_required("contacts.view")
def contact_detail(request: HttpRequest, contact_id: int):
    return _contact(request, contact_id, details=True)


@router.patch("/contacts/{int:contact_id}", response=ContactDetailOut, summary="Change a contact")
@permission_required("contacts.edit")
@reports_invalid
def contact_update(request: HttpRequest, contact_id: int, payload: ContactIn):
    """Only the fields sent change. `phones` and `emails` replace the whole list;
    `attributes` are applied on top of the stored ones (null or "" removes one)."""
    contact = _contact(request, contact_id)
    do_update_contact(contact, **_payload_changes(payload), **_actor(request))
    return _contact(request, contact_id, details=True)


@router.delete("/contacts/{int:contact_id}", response={204: None}, summary="Delete a contact")
@permission_required("contacts.delete")
def contact_delete(request: HttpRequest, contact_id: int):
    """Only a contact without conversations; erase one that has them (409 otherwise)."""
    contact = _contact(request, contact_id)
    do_delete_contact(contact, request=request, **_actor(request))
    return Status(204, None)


@router.get(
    "/contacts/{int:contact_id}/export",
    response=dict[str, Any],
    summary="Everything about a contact (GDPR access), as JSON",
)
@permission_required("contacts.export")
def contact_export(request: HttpRequest, contact_id: int):
    """Recorded in the audit trail."""
    contact = _contact(request, contact_id)
    return do_export_contact(contact, request=request, **_actor(request))


@router.post(
    "/contacts/{int:contact_id}/erase",
    response=ContactDetailOut,
    summary="Erase a contact's personal data (GDPR)",
)
@permission_required("contacts.erase")
def contact_erase(request: HttpRequest, contact_id: int):
    """Personal fields, phones, emails, household, labels and list memberships are removed;
    message bodies become "[erased]" and attachments are deleted; campaign recipients, lifecycle
    events and notifications, the webhook journal, stored import rows and audit entries lose
    what named the person (unsent campaign messages and notifications are cancelled); the
    contact, its conversations and messages stay so counts add up. Erasing twice changes
    nothing."""
    contact = _contact(request, contact_id)
    do_erase_contact(contact, request=request, **_actor(request))
    return _contact(request, contact_id, details=True)


@router.post(
    "/contacts/{int:contact_id}/merge",
    response=ContactDetailOut,
    summary="Merge a duplicate into this contact",
)
@permission_required("contacts.merge")
def contact_merge(request: HttpRequest, contact_id: int, payload: MergeIn):
    """This contact wins: its values stay, the duplicate's fill the gaps; phones, emails,
    consents (an opt-out is never lost), household, lists, labels and conversations move here,
    then the duplicate is deleted."""
    winner = _contact(request, contact_id)
    loser = _contact(request, payload.duplicate_id)
    do_merge_contacts(winner, loser, request=request, **_actor(request))
    return _contact(request, contact_id, details=True)


# --- Household ----------------------------------------------------------------------------------


def _member_contact(request: HttpRequest, member_id: int | None) -> Contact | None:
    return None if member_id is None else get_in_tenant(Contact, request.tenant, pk=member_id)


@router.get(
    "/contacts/{int:contact_id}/household",
    response=list[HouseholdMemberOut],
    summary="A contact's household",
)
@permission_required("contacts.view")
def household_list(request: HttpRequest, contact_id: int):
    return list(_contact(request, contact_id).household.order_by("id"))


@router.post(
    "/contacts/{int:contact_id}/household",
    response=HouseholdChangesOut,
    summary="Add household members",
)
@permission_required("contacts.edit")
@reports_invalid
def household_add(request: HttpRequest, contact_id: int, payload: HouseholdIn):
    """With `confirmed: false` (automation) members are matched by name: new ones are added,
    unconfirmed ones refreshed, confirmed ones never changed, nobody removed."""
    contact = _contact(request, contact_id)
    entries = [
        {
            "name": m.name,
            "relationship": m.relationship,
            "date_of_birth": m.date_of_birth,
            "member": _member_contact(request, m.member_contact_id),
        }
        for m in payload.members
    ]
    if payload.confirmed:
        added = [do_add_household_member(contact, **entry) for entry in entries]
        return {"added": added, "updated": [], "protected": []}
    changes = apply_automated_household(contact, entries, source=HouseholdMember.Source.API)
    return {"added": changes.added, "updated": changes.updated, "protected": changes.protected}


def _household_member(request: HttpRequest, contact_id: int, member_id: int) -> HouseholdMember:
    return get_in_tenant(
        HouseholdMember.objects.select_related("contact"),
        request.tenant,
        pk=member_id,
        contact_id=contact_id,
    )


@router.put(
    "/contacts/{int:contact_id}/household/{int:member_id}",
    response=HouseholdMemberOut,
    summary="Change a household member (confirms it)",
)
@permission_required("contacts.edit")
@reports_invalid
def household_update(
    request: HttpRequest, contact_id: int, member_id: int, payload: HouseholdMemberIn
):
    """`member_contact_id` links the entry to the member's own contact (one of the tenant's,
    404 otherwise; not the contact itself, 422), `null` unlinks it; left out, the link stays."""
    member = _household_member(request, contact_id, member_id)
    link: Any = KEEP_MEMBER
    if "member_contact_id" in payload.model_fields_set:
        link = _member_contact(request, payload.member_contact_id)
    return do_update_household_member(
        member,
        name=payload.name,
        relationship=payload.relationship,
        date_of_birth=payload.date_of_birth,
        member=link,
    )


@router.post(
    "/contacts/{int:contact_id}/household/{int:member_id}/confirm",
    response=HouseholdMemberOut,
    summary="Confirm a household member (protects it from automation)",
)
@permission_required("contacts.edit")
def household_confirm(request: HttpRequest, contact_id: int, member_id: int):
    return do_confirm_household_member(_household_member(request, contact_id, member_id))


@router.delete(
    "/contacts/{int:contact_id}/household/{int:member_id}",
    response={204: None},
    summary="Remove a household member",
)
@permission_required("contacts.edit")
def household_remove(request: HttpRequest, contact_id: int, member_id: int):
    do_remove_household_member(_household_member(request, contact_id, member_id))
    return Status(204, None)


# --- Consent ------------------------------------------------------------------------------------


@router.get(
    "/contacts/{int:contact_id}/consents",
    response=list[ConsentOut],
    summary="A contact's opt-ins and opt-outs",
)
@permission_required("contacts.view")
def consent_list(request: HttpRequest, contact_id: int):
    return list(_contact(request, contact_id).consents.order_by("channel", "sender"))


@router.put(
    "/contacts/{int:contact_id}/consents",
    response=ConsentOut,
    summary="Record an opt-in or opt-out for one channel and sender",
)
@permission_required("contacts.manage_consent")
def consent_set(request: HttpRequest, contact_id: int, payload: ConsentIn):
    """Recorded with source `api` and audited."""
    contact = _contact(request, contact_id)
    return do_change_consent(
        contact,
        channel=payload.channel,
        sender=payload.sender,
        status=payload.status,
        source=Consent.Source.API,
        detail=payload.detail,
        request=request,
        **_actor(request),
    )


# --- Attribute definitions ----------------------------------------------------------------------


@router.get(
    "/contacts/attributes",
    response=list[AttributeDefinitionOut],
    summary="The tenant's custom attribute definitions",
)
@permission_required("contacts.view")
def attribute_list(request: HttpRequest):
    return list(definitions_list(request.tenant))


@router.post(
    "/contacts/attributes",
    response={201: AttributeDefinitionOut},
    summary="Define a custom attribute",
)
@permission_required("contacts.manage_attributes")
@reports_invalid
def attribute_create(request: HttpRequest, payload: AttributeDefinitionIn):
    definition = do_create_attribute_definition(
        request.tenant, request=request, **payload.model_dump(), **_actor(request)
    )
    return Status(201, definition)


@router.patch(
    "/contacts/attributes/{int:definition_id}",
    response=AttributeDefinitionOut,
    summary="Change a custom attribute (not its key)",
)
@permission_required("contacts.manage_attributes")
@reports_invalid
def attribute_update(request: HttpRequest, definition_id: int, payload: AttributeDefinitionPatch):
    """A new type or new choices must fit every stored value (they are converted: text "12"
    becomes the number 12); otherwise 422 says how many contacts are in the way."""
    definition = get_in_tenant(AttributeDefinition, request.tenant, pk=definition_id)
    current = {
        "label": definition.label,
        "type": definition.type,
        "choices": definition.choices,
        "is_required": definition.is_required,
        "description": definition.description,
        "position": definition.position,
    }
    current.update(payload.model_dump(exclude_unset=True, exclude_none=True))
    return do_update_attribute_definition(definition, request=request, **current, **_actor(request))


@router.delete(
    "/contacts/attributes/{int:definition_id}",
    response={204: None},
    summary="Delete a custom attribute and its values",
)
@permission_required("contacts.manage_attributes")
def attribute_delete(request: HttpRequest, definition_id: int):
    definition = get_in_tenant(AttributeDefinition, request.tenant, pk=definition_id)
    do_delete_attribute_definition(definition, request=request, **_actor(request))
    return Status(204, None)


# --- Blocklist ----------------------------------------------------------------------------------


@router.get(
    "/contacts/blocklist", response=list[BlockedOut], summary="Blocked numbers and addresses"
)
@permission_required("contacts.manage_consent")
@paginate(Paginated, max_limit=200)
def blocklist(request: HttpRequest):
    return blocklist_for_tenant(request.tenant)


@router.post(
    "/contacts/blocklist",
    response={200: BlockedOut, 201: BlockedOut},
    summary="Block a phone number or an email address",
)
@permission_required("contacts.manage_consent")
def block(request: HttpRequest, payload: BlockIn):
    """Nothing is sent to it and no contact is created for it. 201 when new, 200 when it was
    already blocked."""
    if bool(payload.phone) == bool(payload.email):
        return error(request, 422, "invalid", "Send either phone or email.")
    kind = BlockedAddress.Kind.PHONE if payload.phone else BlockedAddress.Kind.EMAIL
    blocked, created = do_block_address(
        request.tenant,
        kind=kind,
        value=payload.phone or payload.email or "",
        reason=payload.reason,
        request=request,
        **_actor(request),
    )
    return Status(201 if created else 200, blocked)


@router.delete("/contacts/blocklist/{int:blocked_id}", response={204: None}, summary="Unblock")
@permission_required("contacts.manage_consent")
def unblock(request: HttpRequest, blocked_id: int) -> HttpResponse | Status:
    blocked = get_in_tenant(BlockedAddress, request.tenant, pk=blocked_id)
    do_unblock_address(blocked, request=request, **_actor(request))
    return Status(204, None)
