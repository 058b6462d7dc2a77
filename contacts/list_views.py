"""Contacts pages: the list (search, filters, selection, bulk actions, save as segment), the
lists and segments pages, and bulk operations with their live progress.

Every form works without JavaScript (``static/contacts/list.js`` only adds conveniences). The
list's filters live in the query string (see :func:`contacts.filters.filters_from_params`), so
a filtered list is a link; forms that act on it carry that query string in ``filter_query``.

Pieces and their stable ids: ``contact-rows`` (rows of a page and the "more" row, for htmx
"load more"), ``segment-count`` (a segment's count, loaded lazily), ``bulk-progress``
(``#bulk-{id}-progress``, also pushed over the websocket as an out-of-band swap).
"""

from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from contacts import bulk as bulk_ops
from contacts.filters import (
    CONSENT_STATUSES,
    OP_LABELS,
    OPS_BY_TYPE,
    FilterError,
    FilterNames,
    apply_filters,
    clean_filters,
    contact_page,
    describe_filters,
    filters_from_params,
    filters_to_params,
    has_filter_params,
    ids_of,
)
from contacts.lists import (
    do_create_list,
    do_create_segment,
    do_delete_list,
    do_delete_segment,
    do_update_list,
    do_update_segment,
    lists_with_counts,
    segment_count,
    segments_for_tenant,
)
from contacts.models import BulkOperation, Contact, ContactLabel, ContactList, Segment
from omnichannel.actions import ACTION_ERROR_STATUS, ActionError
from omnichannel.channels import Channel
from omnichannel.htmx import wants_piece
from omnichannel.pagination import InvalidCursor
from omnichannel.tenancy import get_in_tenant, require_permission

PAGE_SIZE = 50
BULK_PAGE_SIZE = 50


def _render(
    request: HttpRequest, template: str, context: dict, *, status: int = 200
) -> HttpResponse:
    return render(request, template, context, status=status)


def _can(request: HttpRequest, codename: str) -> bool:
    return request.membership.has_permission(codename)


def _refused(request: HttpRequest, exc: ActionError) -> int:
    messages.error(request, exc.message)
    return ACTION_ERROR_STATUS.get(exc.code, 400)


def _list_url(params: QueryDict | str | None = None) -> str:
    url = reverse("contacts:index")
    query = params.urlencode() if isinstance(params, QueryDict) else (params or "")
    return f"{url}?{query}" if query else url


# --- The contacts list ---------------------------------------------------------------------------


def _requested(request: HttpRequest, params: QueryDict) -> tuple[dict, Segment | None]:
    """The raw filter asked for, and the segment it came from or is being edited from.

    ``?segment=5`` alone loads the segment's filter; with filter fields (the form, once
    submitted) the fields win, so the segment's filter can be changed and saved back.
    """
    segment = None
    if params.get("segment"):
        segment = get_in_tenant(Segment, request.tenant, pk=params["segment"])
    if segment is not None and not has_filter_params(params):
        return dict(segment.filters), segment
    return filters_from_params(params), segment


def _query_of(filters: dict, segment: Segment | None) -> str:
    params = filters_to_params(filters)
    if segment is not None:
        params.insert(0, ("segment", str(segment.pk)))
    return urlencode(params)


def _contact_rows(queryset: QuerySet[Contact]) -> QuerySet[Contact]:
    return queryset.only(
        "pk", "name", "phone", "email", "created_at", "tenant_id"
    ).prefetch_related(
        Prefetch(
            "label_links",
            queryset=ContactLabel.objects.select_related("label").order_by("label__name"),
        )
    )


def _attribute_rows(filters: dict) -> list[dict]:
    """The filter form's attribute rows: the current conditions and one blank row to add."""
    rows = []
    for condition in filters.get("attributes", ()):
        value = condition.get("value", "")
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        elif isinstance(value, bool):
            value = "yes" if value else "no"
        rows.append({"key": condition["key"], "op": condition["op"], "value": value})
    return [*rows, {"key": "", "op": "eq", "value": ""}]


@require_GET
@require_permission("contacts.view")
def index(request: HttpRequest) -> HttpResponse:
    tenant = request.tenant
    names = FilterNames.for_tenant(tenant)
    raw, segment = _requested(request, request.GET)
    cursor = request.GET.get("cursor") or None
    filter_errors: dict[str, str] = {}
    try:
        filters = clean_filters(tenant, raw, names=names)
    except FilterError as exc:
        filters, filter_errors = {}, exc.errors
    page, total = None, 0
    if not filter_errors:
        matching = apply_filters(Contact.objects.all(), tenant, filters)
        try:
            page = contact_page(_contact_rows(matching), cursor=cursor, limit=PAGE_SIZE)
        except InvalidCursor as exc:
            return HttpResponseBadRequest(str(exc))
        if not (cursor and wants_piece(request)):
            total = matching.count()
    filter_query = _query_of(filters, segment)
    context = {
        "page": page,
        "total": total,
        "cursor": cursor,
        "filters": filters,
        "filter_query": filter_query,
        "filter_errors": filter_errors,
        "raw": raw,
        "described": describe_filters(filters, names),
        "segment": segment,
        "names": names,
        "attribute_rows": _attribute_rows(raw if filter_errors else filters),
        "ops": [(op, OP_LABELS[op]) for op in OP_LABELS],
        "ops_by_type": {t: sorted(ops) for t, ops in OPS_BY_TYPE.items()},
        "channels": Channel.choices,
        "consent_statuses": CONSENT_STATUSES,
        "segments": segments_for_tenant(tenant).only("pk", "name"),
        "bulk_actions": BulkOperation.Action.choices,
        "can_edit": _can(request, "contacts.edit"),
        "can_bulk": _can(request, "contacts.bulk"),
        "section": "contacts",
        "tab": "contacts",
    }
    if cursor and wants_piece(request):
        return _render(request, "contacts/list.html#contact-rows", context)
    status = 400 if filter_errors else 200
    return _render(request, "contacts/list.html", context, status=status)


# --- Lists ---------------------------------------------------------------------------------------


def _lists_page(request: HttpRequest, *, status: int = 200) -> HttpResponse:
    context = {
        "lists": lists_with_counts(request.tenant),
        "can_edit": _can(request, "contacts.edit"),
        "section": "contacts",
        "tab": "lists",
    }
    return _render(request, "contacts/lists.html", context, status=status)


@require_GET
@require_permission("contacts.view")
def lists(request: HttpRequest) -> HttpResponse:
    return _lists_page(request)


@require_POST
@require_permission("contacts.edit")
def list_create(request: HttpRequest) -> HttpResponse:
    try:
        contact_list = do_create_list(
            request.tenant,
            name=request.POST.get("name", ""),
            description=request.POST.get("description", ""),
        )
    except ActionError as exc:
        return _lists_page(request, status=_refused(request, exc))
    messages.success(request, f"List “{contact_list.name}” created.")
    return redirect("contacts:lists")


@require_POST
@require_permission("contacts.edit")
def list_update(request: HttpRequest, list_id: int) -> HttpResponse:
    contact_list = get_in_tenant(ContactList, request.tenant, pk=list_id)
    try:
        do_update_list(
            contact_list,
            name=request.POST.get("name"),
            description=request.POST.get("description"),
        )
    except ActionError as exc:
        return _lists_page(request, status=_refused(request, exc))
    messages.success(request, f"List “{contact_list.name}” saved.")
    return redirect("contacts:lists")


@require_POST
@require_permission("contacts.edit")
def list_delete(request: HttpRequest, list_id: int) -> HttpResponse:
    contact_list = get_in_tenant(ContactList, request.tenant, pk=list_id)
    do_delete_list(contact_list)
    messages.success(request, f"List “{contact_list.name}” deleted; its contacts are kept.")
    return redirect("contacts:lists")


# --- Segments ------------------------------------------------------------------------------------


def _segments_page(request: HttpRequest, *, status: int = 200) -> HttpResponse:
    names = FilterNames.for_tenant(request.tenant)
    segments = list(segments_for_tenant(request.tenant))
    for segment in segments:
        try:
            segment.described = describe_filters(
                clean_filters(request.tenant, segment.filters, names=names), names
            )
            segment.invalid = None
        except FilterError as exc:
            segment.described = describe_filters(segment.filters, names)
            segment.invalid = str(exc)
    context = {
        "segments": segments,
        "can_edit": _can(request, "contacts.edit"),
        "section": "contacts",
        "tab": "segments",
    }
    return _render(request, "contacts/segments.html", context, status=status)


@require_GET
@require_permission("contacts.view")
def segments(request: HttpRequest) -> HttpResponse:
    return _segments_page(request)


@require_GET
@require_permission("contacts.view")
def segment_count_view(request: HttpRequest, segment_id: int) -> HttpResponse:
    segment = get_in_tenant(Segment.objects.select_related("tenant"), request.tenant, pk=segment_id)
    try:
        count, invalid = segment_count(segment), None
    except FilterError as exc:
        count, invalid = None, str(exc)
    context = {"segment": segment, "count": count, "invalid": invalid}
    return _render(request, "contacts/segments.html#segment-count", context)


def _filters_of_post(request: HttpRequest) -> tuple[dict, Segment | None]:
    """The filter a list-page form acted on (its ``filter_query``)."""
    return _requested(request, QueryDict(request.POST.get("filter_query", "")))


@require_POST
@require_permission("contacts.edit")
def segment_create(request: HttpRequest) -> HttpResponse:
    raw, _ = _filters_of_post(request)
    try:
        segment = do_create_segment(
            request.tenant,
            name=request.POST.get("name", ""),
            description=request.POST.get("description", ""),
            filters=raw,
        )
    except ActionError as exc:
        _refused(request, exc)
        return redirect(_list_url(request.POST.get("filter_query")))
    except FilterError as exc:
        messages.error(request, f"The filter is not valid: {exc}")
        return redirect(_list_url(request.POST.get("filter_query")))
    messages.success(request, f"Segment “{segment.name}” saved.")
    return redirect(_list_url(f"segment={segment.pk}"))


@require_POST
@require_permission("contacts.edit")
def segment_update(request: HttpRequest, segment_id: int) -> HttpResponse:
    """Rename or describe (segments page), or save the list page's filter into it."""
    segment = get_in_tenant(Segment.objects.select_related("tenant"), request.tenant, pk=segment_id)
    filters = None
    if "filter_query" in request.POST:
        raw, _ = _filters_of_post(request)
        filters = raw
    try:
        do_update_segment(
            segment,
            name=request.POST.get("name"),
            description=request.POST.get("description"),
            filters=filters,
        )
    except ActionError as exc:
        if filters is None:
            return _segments_page(request, status=_refused(request, exc))
        _refused(request, exc)
    except FilterError as exc:
        messages.error(request, f"The filter is not valid: {exc}")
    else:
        messages.success(request, f"Segment “{segment.name}” saved.")
    if filters is not None:
        return redirect(_list_url(f"segment={segment.pk}"))
    return redirect("contacts:segments")


@require_POST
@require_permission("contacts.edit")
def segment_delete(request: HttpRequest, segment_id: int) -> HttpResponse:
    segment = get_in_tenant(Segment, request.tenant, pk=segment_id)
    do_delete_segment(segment)
    messages.success(request, f"Segment “{segment.name}” deleted; no contact was changed.")
    return redirect("contacts:segments")


# --- Bulk operations -----------------------------------------------------------------------------


def _bulk_params(post: QueryDict) -> dict:
    return {
        "list_id": post.get("list_id"),
        "from_list_id": post.get("from_list_id"),
        "to_list_id": post.get("to_list_id"),
        "label_id": post.get("label_id"),
        "key": post.get("attribute_key"),
        "value": post.get("attribute_value"),
    }


def _describe_action(action: str, params: dict, names: FilterNames) -> str:
    def list_name(key: str) -> str:
        return f"“{names.lists.get(params.get(key), 'a deleted list')}”"

    match action:
        case BulkOperation.Action.ADD_TO_LIST:
            return f"Add to the list {list_name('list_id')}"
        case BulkOperation.Action.REMOVE_FROM_LIST:
            return f"Remove from the list {list_name('list_id')}"
        case BulkOperation.Action.MOVE_TO_LIST:
            return f"Move from {list_name('from_list_id')} to {list_name('to_list_id')}"
        case BulkOperation.Action.LABEL:
            return f"Label “{names.labels.get(params.get('label_id'), 'a deleted label')}”"
        case BulkOperation.Action.SET_ATTRIBUTE:
            definition = names.definitions.get(params.get("key"))
            label = definition.label if definition else params.get("key")
            value = params.get("value")
            if value is None:
                return f"Clear {label}"
            if isinstance(value, bool):
                value = "yes" if value else "no"
            return f"Set {label} to {value}"
        case BulkOperation.Action.DELETE:
            return "Delete the contacts"
    return action


@require_POST
@require_permission("contacts.bulk")
def bulk_start(request: HttpRequest) -> HttpResponse:
    """Start an operation on the selected contacts or on everything the filter matches.

    Deleting, and anything on a whole filter, first shows a confirmation page (which posts the
    same fields back with ``confirmed``)."""
    post = request.POST
    action = post.get("action", "")
    back = _list_url(post.get("filter_query"))
    everything = post.get("scope") == "all"
    ids = None if everything else post.getlist("ids")
    raw = None
    if everything:
        raw, _ = _filters_of_post(request)
    elif not ids:
        messages.error(request, "Select some contacts first, or choose everything matching.")
        return redirect(back)
    params = _bulk_params(post)
    try:
        if (everything or action == BulkOperation.Action.DELETE) and not post.get("confirmed"):
            # The action's own check, early: no confirmation for what would be refused.
            bulk_ops.check_may_start_bulk(request.tenant, action, acting_user=request.user)
            return _bulk_confirm(request, action, params, ids, raw)
        operation = bulk_ops.do_start_bulk_operation(
            request.tenant,
            action=action,
            params=params,
            ids=ids,
            filters=raw,
            acting_user=request.user,
            request=request,
        )
    except bulk_ops.InvalidBulkOperation as exc:
        for where, reason in exc.errors.items():
            messages.error(request, f"{where}: {reason}")
        return redirect(back)
    except ActionError as exc:
        _refused(request, exc)
        return redirect(back)
    return redirect("contacts:bulk-detail", operation_id=operation.pk)


def _bulk_confirm(
    request: HttpRequest, action: str, params: dict, ids: list | None, raw: dict | None
) -> HttpResponse:
    tenant = request.tenant
    cleaned = bulk_ops.check_bulk_params(tenant, action, params)
    names = FilterNames.for_tenant(tenant)
    if raw is not None:
        try:
            filters = clean_filters(tenant, raw, names=names)
        except FilterError as exc:
            raise bulk_ops.InvalidBulkOperation(
                {f"filter.{k}": v for k, v in exc.errors.items()}
            ) from exc
        count = apply_filters(Contact.objects.all(), tenant, filters).count()
        described = describe_filters(filters, names)
    else:
        count = Contact.objects.for_tenant(tenant).filter(pk__in=ids_of(ids or [])).count()
        described = []
    context = {
        "action": action,
        "action_text": _describe_action(action, cleaned, names),
        "count": count,
        "described": described,
        "fields": [
            (name, value)
            for name in (
                "action",
                "scope",
                "filter_query",
                "list_id",
                "from_list_id",
                "to_list_id",
                "label_id",
                "attribute_key",
                "attribute_value",
            )
            if (value := request.POST.get(name)) not in (None, "")
        ],
        "ids": ids or [],
        "back": _list_url(request.POST.get("filter_query")),
        "section": "contacts",
        "tab": "bulk",
    }
    return _render(request, "contacts/bulk_confirm.html", context)


@require_GET
@require_permission("contacts.bulk")
def bulk_list(request: HttpRequest) -> HttpResponse:
    names = FilterNames.for_tenant(request.tenant)
    paginator = Paginator(bulk_ops.bulk_operations_for_tenant(request.tenant), BULK_PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    for operation in page.object_list:
        operation.action_text = _describe_action(operation.action, operation.params, names)
    context = {"page": page, "section": "contacts", "tab": "bulk"}
    return _render(request, "contacts/bulk_list.html", context)


def _operation(request: HttpRequest, operation_id: int) -> BulkOperation:
    return get_in_tenant(
        bulk_ops.bulk_operations_for_tenant(request.tenant), request.tenant, pk=operation_id
    )


@require_GET
@require_permission("contacts.bulk")
def bulk_detail(request: HttpRequest, operation_id: int) -> HttpResponse:
    """The operation as the database has it now; the websocket keeps the progress current."""
    operation = _operation(request, operation_id)
    names = FilterNames.for_tenant(request.tenant)
    context = {
        "operation": operation,
        "unchanged": bulk_ops.unchanged_count(operation),
        "action_text": _describe_action(operation.action, operation.params, names),
        "described": describe_filters(operation.filters, names),
        "section": "contacts",
        "tab": "bulk",
    }
    if wants_piece(request):
        return _render(request, "contacts/bulk_detail.html#bulk-progress", context)
    return _render(request, "contacts/bulk_detail.html", context)


@require_POST
@require_permission("contacts.bulk")
def bulk_cancel(request: HttpRequest, operation_id: int) -> HttpResponse:
    """Without JavaScript: back to the page with a message. With htmx: the progress block in
    place, which also shows an operation that had finished meanwhile as it ended."""
    operation = _operation(request, operation_id)
    try:
        bulk_ops.do_cancel_bulk_operation(operation, acting_user=request.user, request=request)
    except ActionError as exc:
        if not wants_piece(request):
            _refused(request, exc)
    else:
        if not wants_piece(request):
            messages.success(request, "Cancelled: the batches already done stay done.")
    if not wants_piece(request):
        return redirect("contacts:bulk-detail", operation_id=operation.pk)
    operation = _operation(request, operation_id)
    context = {"operation": operation, "unchanged": bulk_ops.unchanged_count(operation)}
    return _render(request, "contacts/bulk_detail.html#bulk-progress", context)
