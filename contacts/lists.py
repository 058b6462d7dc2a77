"""Static lists and segments (saved filters): the audiences campaigns target.

A list holds the contacts put in it; a segment holds a filter (see :mod:`contacts.filters`)
and its contacts are whoever matches it when it is used. Adding a contact already in a list,
or removing one that is not, changes nothing (``ON CONFLICT DO NOTHING``); ids of another
tenant's contacts are ignored, never added.
"""

from collections.abc import Iterable, Mapping
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, QuerySet
from django.utils import timezone

from contacts.filters import apply_filters, clean_filters, ids_of
from contacts.models import Contact, ContactList, ListMembership, Segment
from omnichannel import audit
from omnichannel.actions import ActionError
from omnichannel.models import AuditEvent, Tenant

Action = AuditEvent.Action

MAX_NAME = 120
MAX_DESCRIPTION = 200
MAX_MEMBERS_PER_CALL = 10_000


def _check_name(name: str | None, what: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ActionError(f"A {what} needs a name.")
    if len(name) > MAX_NAME:
        raise ActionError(f"A {what} name has at most {MAX_NAME} characters.")
    return name


def _check_description(description: str | None) -> str:
    description = (description or "").strip()
    if len(description) > MAX_DESCRIPTION:
        raise ActionError(f"A description has at most {MAX_DESCRIPTION} characters.")
    return description


def _check_unique(queryset: QuerySet, name: str, what: str, *, exclude_pk: int | None) -> None:
    # The database constraint compares exactly; people mean "VIP" and "vip" as one name.
    clash = queryset.filter(name__iexact=name)
    if exclude_pk is not None:
        clash = clash.exclude(pk=exclude_pk)
    if clash.exists():
        raise ActionError(f"A {what} named “{name}” already exists.", code="conflict")


# --- Lists ----------------------------------------------------------------------------------------


def lists_with_counts(tenant: Tenant) -> QuerySet[ContactList]:
    """The tenant's lists by name, each with ``member_count``: one query."""
    return (
        ContactList.objects.for_tenant(tenant)
        .annotate(member_count=Count("contacts", distinct=True))
        .order_by("name", "id")
    )


@transaction.atomic
def do_create_list(tenant: Tenant, *, name: str, description: str = "") -> ContactList:
    name = _check_name(name, "list")
    _check_unique(ContactList.objects.for_tenant(tenant), name, "list", exclude_pk=None)
    try:
        with transaction.atomic():
            contact_list = ContactList.objects.create(
                tenant=tenant, name=name, description=_check_description(description)
            )
    except IntegrityError as exc:
        raise ActionError(f"A list named “{name}” already exists.", code="conflict") from exc
    audit.record(Action.LIST_CREATED, tenant=tenant, target=contact_list)
    return contact_list


@transaction.atomic
def do_update_list(
    contact_list: ContactList, *, name: str | None = None, description: str | None = None
) -> ContactList:
    """Rename and/or describe; ``None`` leaves a field as it is."""
    before = audit.snapshot(contact_list, ("name", "description"))
    if name is not None:
        name = _check_name(name, "list")
        _check_unique(
            ContactList.objects.filter(tenant_id=contact_list.tenant_id),
            name,
            "list",
            exclude_pk=contact_list.pk,
        )
        contact_list.name = name
    if description is not None:
        contact_list.description = _check_description(description)
    fields = audit.changed_fields(contact_list, before)
    if fields:
        try:
            with transaction.atomic():
                contact_list.save(update_fields=fields)
        except IntegrityError as exc:
            raise ActionError(f"A list named “{name}” already exists.", code="conflict") from exc
        audit.record(
            Action.LIST_CHANGED,
            tenant=contact_list.tenant,
            target=contact_list,
            data={"changed": fields},
        )
    return contact_list


@transaction.atomic
def do_delete_list(contact_list: ContactList) -> None:
    """The list goes; its contacts stay (only their memberships are removed)."""
    audit.record(
        Action.LIST_DELETED,
        tenant=contact_list.tenant,
        target=contact_list,
        data={"name": contact_list.name, "members": contact_list.contacts.count()},
    )
    contact_list.delete()


def _member_ids(contact_ids: Iterable[Any]) -> list[int]:
    ids = ids_of(contact_ids)
    if len(ids) > MAX_MEMBERS_PER_CALL:
        raise ActionError(
            f"At most {MAX_MEMBERS_PER_CALL} contacts at a time; use a bulk operation for more."
        )
    return ids


def add_members(contact_list: ContactList, contact_ids: list[int]) -> list[int]:
    """Insert memberships for those of ``contact_ids`` that are the list tenant's live contacts;
    existing memberships are left alone. Returns the ids added. One statement."""
    if not contact_ids:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {ListMembership._meta.db_table}
                (tenant_id, contact_list_id, contact_id, added_at)
            SELECT c.tenant_id, %s, c.id, %s
            FROM {Contact._meta.db_table} c
            WHERE c.tenant_id = %s AND c.id = ANY(%s) AND c.erased_at IS NULL
            ORDER BY c.id
            ON CONFLICT (contact_list_id, contact_id) DO NOTHING
            RETURNING contact_id
            """,  # noqa: S608 - table names come from the models, values are parameters
            [contact_list.pk, timezone.now(), contact_list.tenant_id, list(contact_ids)],
        )
        return [row[0] for row in cursor.fetchall()]


def remove_members(contact_list: ContactList, contact_ids: list[int]) -> int:
    """Delete the memberships of ``contact_ids`` in the list; returns how many there were."""
    if not contact_ids:
        return 0
    deleted, _ = ListMembership.objects.filter(
        tenant_id=contact_list.tenant_id, contact_list=contact_list, contact_id__in=contact_ids
    ).delete()
    return deleted


@transaction.atomic
def do_change_list_members(
    contact_list: ContactList,
    *,
    add: Iterable[Any] = (),
    remove: Iterable[Any] = (),
) -> dict[str, int]:
    """Add and remove contacts by id in one transaction: ``{"added": n, "removed": m}``.

    An id both added and removed ends up removed (removals apply last).
    """
    to_add, to_remove = _member_ids(add), _member_ids(remove)
    # Lock the list so a concurrent delete cannot leave memberships pointing at nothing.
    ContactList.objects.select_for_update().filter(pk=contact_list.pk).first()
    removing = set(to_remove)
    added = add_members(contact_list, [pk for pk in to_add if pk not in removing])
    removed = remove_members(contact_list, to_remove)
    if added or removed:
        audit.record(
            Action.LIST_MEMBERS_CHANGED,
            tenant=contact_list.tenant,
            target=contact_list,
            data={"added": len(added), "removed": removed},
        )
    return {"added": len(added), "removed": removed}


def list_contacts(contact_list: ContactList) -> QuerySet[Contact]:
    return Contact.objects.filter(
        tenant_id=contact_list.tenant_id, erased_at__isnull=True, lists=contact_list
    )


# --- Segments -------------------------------------------------------------------------------------


def segments_for_tenant(tenant: Tenant) -> QuerySet[Segment]:
    return Segment.objects.for_tenant(tenant).order_by("name", "id")


@transaction.atomic
def do_create_segment(
    tenant: Tenant, *, name: str, filters: Mapping[str, Any] | None, description: str = ""
) -> Segment:
    """A saved filter; the filter is validated (:class:`contacts.filters.FilterError`)."""
    name = _check_name(name, "segment")
    cleaned = clean_filters(tenant, filters or {})
    _check_unique(Segment.objects.for_tenant(tenant), name, "segment", exclude_pk=None)
    try:
        with transaction.atomic():
            segment = Segment.objects.create(
                tenant=tenant,
                name=name,
                description=_check_description(description),
                filters=cleaned,
            )
    except IntegrityError as exc:
        raise ActionError(f"A segment named “{name}” already exists.", code="conflict") from exc
    audit.record(Action.SEGMENT_CREATED, tenant=tenant, target=segment)
    return segment


@transaction.atomic
def do_update_segment(
    segment: Segment,
    *,
    name: str | None = None,
    description: str | None = None,
    filters: Mapping[str, Any] | None = None,
) -> Segment:
    """Rename, describe or change the filter; ``None`` leaves a field as it is."""
    before = audit.snapshot(segment, ("name", "description", "filters"))
    if name is not None:
        name = _check_name(name, "segment")
        _check_unique(
            Segment.objects.filter(tenant_id=segment.tenant_id),
            name,
            "segment",
            exclude_pk=segment.pk,
        )
        segment.name = name
    if description is not None:
        segment.description = _check_description(description)
    if filters is not None:
        segment.filters = clean_filters(segment.tenant, filters)
    fields = audit.changed_fields(segment, before)
    if fields:
        try:
            with transaction.atomic():
                segment.save(update_fields=[*fields, "updated_at"])
        except IntegrityError as exc:
            raise ActionError(f"A segment named “{name}” already exists.", code="conflict") from exc
        audit.record(
            Action.SEGMENT_CHANGED, tenant=segment.tenant, target=segment, data={"changed": fields}
        )
    return segment


@transaction.atomic
def do_delete_segment(segment: Segment) -> None:
    audit.record(
        Action.SEGMENT_DELETED, tenant=segment.tenant, target=segment, data={"name": segment.name}
    )
    segment.delete()


def segment_contacts(segment: Segment) -> QuerySet[Contact]:
    """Who matches the segment now. A filter that no longer validates (an attribute, list or
    label was deleted since) raises :class:`contacts.filters.FilterError` rather than quietly
    matching more people than it was meant to."""
    tenant = segment.tenant
    return apply_filters(Contact.objects.all(), tenant, clean_filters(tenant, segment.filters))


def segment_count(segment: Segment) -> int:
    return segment_contacts(segment).count()
