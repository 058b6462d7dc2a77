"""Lists, segments and bulk operations in the JSON API (mounted at /api/v1/ by omnichannel.api).

Everything is scoped to the calling token's tenant: another tenant's id answers 404, exactly
like a missing one, and another tenant's contact ids in a selection are ignored. Invalid input
answers 422 with the usual error body plus ``errors`` mapping each field to what is wrong::

    {"error": {"code": "invalid", "message": "The filter is not valid.",
               "errors": {"filters.attributes[0].value": "“abc” is not a number"}}}

The filter format (segments, previews, bulk operations) is described in
:mod:`contacts.filters`; bulk operations in :mod:`contacts.bulk`.
"""

from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from contacts import bulk as bulk_ops
from contacts.filters import FilterError, apply_filters, clean_filters, contact_page
from contacts.lists import (
    do_change_list_members,
    do_create_list,
    do_create_segment,
    do_delete_list,
    do_delete_segment,
    do_update_list,
    do_update_segment,
    list_contacts,
    lists_with_counts,
    segment_contacts,
    segments_for_tenant,
)
from contacts.models import BulkOperation, Contact, Segment
from omnichannel.actions import ActionError
from omnichannel.api import ApiInput, Paginated, error, permission_required
from omnichannel.pagination import InvalidCursor
from omnichannel.tenancy import get_in_tenant

router = Router(tags=["contacts: lists, segments, bulk"])

BULK_ACTIONS = Literal[
    "add_to_list", "move_to_list", "remove_from_list", "label", "set_attribute", "delete"
]
FILTER_HELP = (
    "A contact filter: q, attributes [{key, op, value}], consent {channel, status}, labels, "
    "lists, created_after/before, last_contacted_after/before, never_contacted."
)


# --- Schemas ------------------------------------------------------------------------------------


class ListOut(Schema):
    id: int
    name: str
    description: str
    member_count: int
    created_at: datetime


class ListIn(ApiInput):
    name: str = Field(..., min_length=1, max_length=120)
    description: str = Field("", max_length=200)


class ListPatchIn(ApiInput):
    name: str | None = Field(None, min_length=1, max_length=120)
    description: str | None = Field(None, max_length=200)


class MembersIn(ApiInput):
    add: list[int] = Field(default_factory=list, max_length=10_000)
    remove: list[int] = Field(default_factory=list, max_length=10_000)


class MembersOut(Schema):
    added: int = Field(..., description="Memberships created (already-members are not counted).")
    removed: int
    member_count: int


class SegmentOut(Schema):
    id: int
    name: str
    description: str
    filters: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class SegmentIn(ApiInput):
    name: str = Field(..., min_length=1, max_length=120)
    description: str = Field("", max_length=200)
    filters: dict[str, Any] = Field(default_factory=dict, description=FILTER_HELP)


class SegmentPatchIn(ApiInput):
    name: str | None = Field(None, min_length=1, max_length=120)
    description: str | None = Field(None, max_length=200)
    filters: dict[str, Any] | None = Field(None, description=FILTER_HELP)


class PreviewIn(ApiInput):
    filters: dict[str, Any] = Field(default_factory=dict, description=FILTER_HELP)


class ContactSummary(Schema):
    id: int
    name: str
    phone: str
    email: str
    created_at: datetime


class ContactPage(Schema):
    count: int | None = Field(
        ..., description="How many contacts match in all (first page only; null after)."
    )
    items: list[ContactSummary]
    next_cursor: str | None = Field(..., description="Pass as `cursor` for the next page.")


class BulkIn(ApiInput):
    action: BULK_ACTIONS
    params: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            "add_to_list / remove_from_list: {list_id}; move_to_list: {from_list_id, "
            "to_list_id}; label: {label_id}; set_attribute: {key, value} (empty clears); "
            "delete: {}."
        ),
    )
    ids: list[int] | None = Field(None, max_length=10_000, description="The contacts to change.")
    filters: dict[str, Any] | None = Field(
        None, description=f"Instead of ids: everything this matches now. {FILTER_HELP}"
    )


class BulkError(Schema):
    contact_id: int
    reason: str


class BulkOut(Schema):
    id: int
    action: str
    params: dict[str, Any]
    filters: dict[str, Any]
    status: str
    total: int
    processed: int
    changed: int
    unchanged: int
    failed: int
    errors: list[BulkError]
    failure: str
    created_at: datetime
    started_at: datetime | None
    progressed_at: datetime | None
    finished_at: datetime | None

    @staticmethod
    def resolve_unchanged(operation: BulkOperation) -> int:
        return bulk_ops.unchanged_count(operation)


# --- Helpers ------------------------------------------------------------------------------------


def reports_invalid(view: Callable) -> Callable:
    """Filter and bulk validation errors answer 422 with the per-field ``errors``."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        try:
            return view(request, *args, **kwargs)
        except FilterError as exc:
            errors = {f"filters.{where}": reason for where, reason in exc.errors.items()}
            return error(request, 422, "invalid", "The filter is not valid.", errors=errors)
        except bulk_ops.InvalidBulkOperation as exc:
            errors = {
                where.replace("filter.", "filters.", 1): reason
                for where, reason in exc.errors.items()
            }
            return error(request, 422, "invalid", "The bulk operation is not valid.", errors=errors)

    return wrapper


def _list(request: HttpRequest, list_id: int):
    return get_in_tenant(lists_with_counts(request.tenant), request.tenant, pk=list_id)


def _segment(request: HttpRequest, segment_id: int) -> Segment:
    return get_in_tenant(Segment.objects.select_related("tenant"), request.tenant, pk=segment_id)


def _contact_page(queryset, *, cursor: str | None, limit: int) -> dict:
    try:
        page = contact_page(
            queryset.only("pk", "name", "phone", "email", "created_at"), cursor=cursor, limit=limit
        )
    except InvalidCursor as exc:
        raise ActionError(str(exc)) from exc
    return {
        "count": None if cursor else queryset.count(),
        "items": page.items,
        "next_cursor": page.next_cursor,
    }


# --- Lists --------------------------------------------------------------------------------------


@router.get("/contacts/lists", response=list[ListOut], summary="The tenant's contact lists")
@permission_required("contacts.view")
@paginate(Paginated, max_limit=200)
def list_list(request: HttpRequest):
    """By name, each with its number of members."""
    return lists_with_counts(request.tenant)


@router.post("/contacts/lists", response={201: ListOut}, summary="Create a contact list")
@permission_required("contacts.edit")
def list_create(request: HttpRequest, payload: ListIn):
    """Names are unique in the tenant whatever their case (409 otherwise)."""
    contact_list = do_create_list(
        request.tenant, name=payload.name, description=payload.description
    )
    return Status(201, _list(request, contact_list.pk))


@router.get("/contacts/lists/{list_id}", response=ListOut, summary="A contact list")
@permission_required("contacts.view")
def list_detail(request: HttpRequest, list_id: int):
    return _list(request, list_id)


@router.patch("/contacts/lists/{list_id}", response=ListOut, summary="Rename or describe a list")
@permission_required("contacts.edit")
def list_update(request: HttpRequest, list_id: int, payload: ListPatchIn):
    contact_list = _list(request, list_id)
    do_update_list(contact_list, name=payload.name, description=payload.description)
    return _list(request, list_id)


@router.delete("/contacts/lists/{list_id}", response={204: None}, summary="Delete a list")
@permission_required("contacts.edit")
def list_delete(request: HttpRequest, list_id: int):
    """The contacts stay; only their membership of this list goes."""
    do_delete_list(_list(request, list_id))
    return Status(204, None)


@router.post(
    "/contacts/lists/{list_id}/members",
    response=MembersOut,
    summary="Add and remove contacts of a list by id",
)
@permission_required("contacts.edit")
def list_members(request: HttpRequest, list_id: int, payload: MembersIn):
    """Adding a member twice or removing a non-member changes nothing; ids that are not this
    tenant's contacts are ignored. For more than 10,000 contacts use `POST /contacts/bulk`."""
    contact_list = _list(request, list_id)
    counts = do_change_list_members(contact_list, add=payload.add, remove=payload.remove)
    return {**counts, "member_count": _list(request, list_id).member_count}


@router.get(
    "/contacts/lists/{list_id}/contacts", response=ContactPage, summary="The contacts of a list"
)
@permission_required("contacts.view")
def list_members_page(
    request: HttpRequest,
    list_id: int,
    cursor: str | None = Query(None, max_length=500),
    limit: int = Query(50, ge=1, le=200),
):
    """Newest first; cursor pagination (`next_cursor` back as `cursor`)."""
    return _contact_page(list_contacts(_list(request, list_id)), cursor=cursor, limit=limit)


# --- Segments -----------------------------------------------------------------------------------


@router.get("/contacts/segments", response=list[SegmentOut], summary="The tenant's segments")
@permission_required("contacts.view")
@paginate(Paginated, max_limit=200)
def segment_list(request: HttpRequest):
    return segments_for_tenant(request.tenant)


@router.post("/contacts/segments", response={201: SegmentOut}, summary="Save a filter as a segment")
@permission_required("contacts.edit")
@reports_invalid
def segment_create(request: HttpRequest, payload: SegmentIn):
    """The filter is validated now (422 with per-field errors) and stored normalised."""
    segment = do_create_segment(
        request.tenant,
        name=payload.name,
        description=payload.description,
        filters=payload.filters,
    )
    return Status(201, segment)


@router.post(
    "/contacts/segments/preview",
    response=ContactPage,
    summary="Who a filter matches, before saving it",
)
@permission_required("contacts.view")
@reports_invalid
def segment_preview(request: HttpRequest, payload: PreviewIn, limit: int = Query(10, ge=1, le=200)):
    """The count and the first contacts (newest first) the filter matches now."""
    filters = clean_filters(request.tenant, payload.filters)
    matching = apply_filters(Contact.objects.all(), request.tenant, filters)
    return _contact_page(matching, cursor=None, limit=limit)


@router.get("/contacts/segments/{segment_id}", response=SegmentOut, summary="A segment")
@permission_required("contacts.view")
def segment_detail(request: HttpRequest, segment_id: int):
    return _segment(request, segment_id)


@router.patch(
    "/contacts/segments/{segment_id}",
    response=SegmentOut,
    summary="Rename a segment or change its filter",
)
@permission_required("contacts.edit")
@reports_invalid
def segment_update(request: HttpRequest, segment_id: int, payload: SegmentPatchIn):
    """Only the fields sent change; `filters` replaces the whole filter."""
    segment = _segment(request, segment_id)
    return do_update_segment(
        segment, name=payload.name, description=payload.description, filters=payload.filters
    )


@router.delete("/contacts/segments/{segment_id}", response={204: None}, summary="Delete a segment")
@permission_required("contacts.edit")
def segment_delete(request: HttpRequest, segment_id: int):
    do_delete_segment(_segment(request, segment_id))
    return Status(204, None)


@router.get(
    "/contacts/segments/{segment_id}/contacts",
    response=ContactPage,
    summary="Who the segment matches now",
)
@permission_required("contacts.view")
@reports_invalid
def segment_members(
    request: HttpRequest,
    segment_id: int,
    cursor: str | None = Query(None, max_length=500),
    limit: int = Query(50, ge=1, le=200),
):
    """Newest first with `count` on the first page; cursor pagination. A segment whose filter
    names a deleted attribute, list or label answers 422 instead of matching more people."""
    return _contact_page(
        segment_contacts(_segment(request, segment_id)), cursor=cursor, limit=limit
    )


# --- Bulk operations ----------------------------------------------------------------------------


@router.post(
    "/contacts/bulk",
    response={202: BulkOut},
    summary="Start a bulk operation on contacts (runs in the background)",
)
@permission_required("contacts.bulk")
@reports_invalid
def bulk_start(request: HttpRequest, payload: BulkIn):
    """Send `ids` or `filters` (`{}` is every contact). The selection is frozen now: contacts
    that match later are not included. Answers 202 with the operation; poll
    `GET /contacts/bulk/{id}`. `delete` also needs `contacts.delete`, the others
    `contacts.edit`."""
    operation = bulk_ops.do_start_bulk_operation(
        request.tenant,
        action=payload.action,
        params=payload.params,
        ids=payload.ids,
        filters=payload.filters,
        acting_token=request.api_token,
        request=request,
    )
    return Status(202, operation)


@router.get("/contacts/bulk", response=list[BulkOut], summary="The tenant's bulk operations")
@permission_required("contacts.bulk")
@paginate(Paginated, max_limit=100)
def bulk_list(request: HttpRequest):
    """Newest first."""
    return bulk_ops.bulk_operations_for_tenant(request.tenant)


def _operation(request: HttpRequest, operation_id: int) -> BulkOperation:
    return get_in_tenant(
        bulk_ops.bulk_operations_for_tenant(request.tenant), request.tenant, pk=operation_id
    )


@router.get(
    "/contacts/bulk/{operation_id}", response=BulkOut, summary="A bulk operation's progress"
)
@permission_required("contacts.bulk")
def bulk_detail(request: HttpRequest, operation_id: int):
    """`processed` of `total` handled so far: `changed`, `unchanged` (nothing to do) and
    `failed` (with the first reasons in `errors`)."""
    return _operation(request, operation_id)


@router.post(
    "/contacts/bulk/{operation_id}/cancel",
    response=BulkOut,
    summary="Stop a bulk operation before its next batch",
)
@permission_required("contacts.bulk")
def bulk_cancel(request: HttpRequest, operation_id: int):
    """Batches already applied stay applied. A finished operation answers 409."""
    bulk_ops.do_cancel_bulk_operation(
        _operation(request, operation_id), acting_token=request.api_token, request=request
    )
    return _operation(request, operation_id)
