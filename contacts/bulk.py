"""Bulk operations: one change applied to many contacts in the background, batch by batch.

**The selection is frozen when the operation starts.** Chosen ids (only the tenant's own
contacts are kept) or everything a filter matches at that moment are stored, sorted, in
``BulkOperation.contact_ids``; ``total`` is their number. Contacts created or changed while it
runs do not join or leave it: an agent who confirms "set plan on these 1,204 contacts" changes
those 1,204 and no contact an import adds meanwhile. Contacts deleted meanwhile are skipped.

**Batches.** The selection is walked in id order, ``BATCH_SIZE`` contacts at a time. Each
batch is one transaction that locks the operation row, applies the action, and moves the
checkpoint (``last_id``, ``processed``, ``changed``, ``failed``): it commits whole or not at
all, so a crash mid-batch leaves that batch undone and the checkpoint where it was, and the
next run starts from the checkpoint: every contact is handled exactly once.

**Workers.** A run holds a PostgreSQL session advisory lock on the operation, so two workers
never run one operation at once, and the lock disappears with a dead worker's connection. A
task runs at most ``SLICE_BATCHES`` batches and queues the rest as a new task, so a warm
shutdown never waits long for a big operation. :func:`bulk_operations_to_resume` (a beat task)
finds operations left pending or running with no batch committed for ``STALE_AFTER`` and no
worker holding them, and queues them again.

**Actions and their params**: ``add_to_list`` / ``remove_from_list`` ``{"list_id"}``,
``move_to_list`` ``{"from_list_id", "to_list_id"}`` (out of the first, into the second),
``label`` ``{"label_id"}``, ``set_attribute`` ``{"key", "value"}`` (an empty value removes
it; each contact's attributes are validated as on any write, and a contact that fails is
counted in ``failed`` with the reason in ``errors``, not fatal) and ``delete`` (a contact
that other records still need, such as one with conversations, is counted as failed).
"""

import bisect
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db import DatabaseError, connection, transaction
from django.db.models import ProtectedError, Q, QuerySet, RestrictedError
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone

from contacts.attributes import AttributeErrors, clean_attributes, clean_value, definitions_for
from contacts.filters import FilterError, apply_filters, clean_filters, ids_of
from contacts.lists import add_members
from contacts.models import (
    BulkOperation,
    Contact,
    ContactLabel,
    ContactList,
    JobStatus,
    ListMembership,
)
from omnichannel import audit, events
from omnichannel.actions import ActionError
from omnichannel.models import AuditEvent, Label, Tenant
from omnichannel.tenancy import acting_for, require_acting_permission

logger = logging.getLogger(__name__)

Action = BulkOperation.Action
UNFINISHED = (JobStatus.PENDING, JobStatus.RUNNING)
BATCH_SIZE = 500
SLICE_BATCHES = 40
STALE_AFTER = timedelta(minutes=2)
MAX_ERRORS = 50
MAX_SELECTED_IDS = 10_000
# pg_try_advisory_lock(namespace, id): the namespace keeps these apart from other locks.
LOCK_NAMESPACE = 0x43424B4F  # "CBKO"

# Audit codes.
BULK_STARTED = AuditEvent.Action.CONTACT_BULK_STARTED
BULK_CANCELLED = AuditEvent.Action.CONTACT_BULK_CANCELLED

# What each action needs besides contacts.bulk.
EXTRA_PERMISSION = {
    Action.ADD_TO_LIST: "contacts.edit",
    Action.MOVE_TO_LIST: "contacts.edit",
    Action.REMOVE_FROM_LIST: "contacts.edit",
    Action.LABEL: "contacts.edit",
    Action.SET_ATTRIBUTE: "contacts.edit",
    Action.DELETE: "contacts.delete",
}

# How run_bulk_operation ended.
FINISHED = "finished"  # done, failed or cancelled: nothing left to do
MORE = "more"  # stopped after max_batches: run again to continue
BUSY = "busy"  # another worker holds the operation


class InvalidBulkOperation(ValueError):
    """The request cannot start: ``errors`` maps the field (``params.list_id``,
    ``filter.attributes[0].value``) to what is wrong."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{where}: {reason}" for where, reason in errors.items()))


class BulkOperationFailed(Exception):
    """The operation cannot go on (its list or label was deleted): it stops as failed."""


# --- Starting -------------------------------------------------------------------------------------


def _id_param(params: Mapping[str, Any], name: str, errors: dict[str, str]) -> int | None:
    ids = ids_of([params.get(name)])
    if not ids:
        errors[f"params.{name}"] = "choose one"
        return None
    return ids[0]


def check_bulk_params(tenant: Tenant, action: str, params: Mapping[str, Any] | None) -> dict:
    """``params`` for ``action`` checked against the tenant, in their stored form."""
    if action not in Action.values:
        raise InvalidBulkOperation({"action": f"choose one of {', '.join(Action.values)}"})
    params = params if isinstance(params, Mapping) else {}
    errors: dict[str, str] = {}
    cleaned: dict[str, Any] = {}
    list_params = {
        Action.ADD_TO_LIST: ("list_id",),
        Action.REMOVE_FROM_LIST: ("list_id",),
        Action.MOVE_TO_LIST: ("from_list_id", "to_list_id"),
    }.get(action, ())
    for name in list_params:
        pk = _id_param(params, name, errors)
        if pk is None:
            continue
        if not ContactList.objects.for_tenant(tenant).filter(pk=pk).exists():
            errors[f"params.{name}"] = f"no list with id {pk}"
        else:
            cleaned[name] = pk
    if action == Action.MOVE_TO_LIST and cleaned.get("from_list_id") == cleaned.get(
        "to_list_id", object()
    ):
        errors["params.to_list_id"] = "must differ from the list contacts move out of"
    if action == Action.LABEL:
        pk = _id_param(params, "label_id", errors)
        if pk is not None:
            if not Label.objects.for_tenant(tenant).filter(pk=pk).exists():
                errors["params.label_id"] = f"no label with id {pk}"
            else:
                cleaned["label_id"] = pk
    if action == Action.SET_ATTRIBUTE:
        key = str(params.get("key") or "").strip()
        definition = definitions_for(tenant).get(key)
        if definition is None:
            errors["params.key"] = (
                f"“{key}” is not a defined attribute" if key else "choose an attribute"
            )
        else:
            try:
                value = clean_value(definition, params.get("value"))
            except ValueError as exc:
                errors["params.value"] = str(exc)
            else:
                if value is None and definition.is_required:
                    errors["params.value"] = f"{definition.label} is required; it cannot be emptied"
                cleaned.update(key=key, value=value)
    if errors:
        raise InvalidBulkOperation(errors)
    return cleaned


def _selection(
    tenant: Tenant, ids: list[Any] | None, filters: Mapping[str, Any] | None
) -> tuple[list[int], dict]:
    if (ids is None) == (filters is None):
        raise InvalidBulkOperation({"ids": "send either ids or a filter (not both)"})
    if ids is not None:
        wanted = ids_of(ids)
        if len(wanted) > MAX_SELECTED_IDS:
            raise InvalidBulkOperation(
                {"ids": f"at most {MAX_SELECTED_IDS} ids; use a filter for more"}
            )
        selection = list(
            Contact.objects.for_tenant(tenant)
            .filter(pk__in=wanted)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        return selection, {}
    try:
        cleaned = clean_filters(tenant, filters)
    except FilterError as exc:
        raise InvalidBulkOperation({f"filter.{k}": v for k, v in exc.errors.items()}) from exc
    matching = apply_filters(Contact.objects.all(), tenant, cleaned)
    return list(matching.order_by("pk").values_list("pk", flat=True)), cleaned


@transaction.atomic
def check_may_start_bulk(
    tenant: Tenant, action: str, *, acting_user=None, acting_token=None
) -> None:
    """Besides ``contacts.bulk`` (the pages' and routes' own), each action needs what doing it
    to one contact needs (:data:`EXTRA_PERMISSION`): deleting, ``contacts.delete``."""
    extra = EXTRA_PERMISSION.get(action)  # type: ignore[call-overload]
    if extra:
        acting = acting_for(tenant.pk, acting_user=acting_user, acting_token=acting_token)
        require_acting_permission(acting, extra, doing=f"run “{action}” on contacts in bulk")


def do_start_bulk_operation(
    tenant: Tenant,
    *,
    action: str,
    params: Mapping[str, Any] | None = None,
    ids: list[Any] | None = None,
    filters: Mapping[str, Any] | None = None,
    acting_user=None,
    acting_token=None,
    request: HttpRequest | None = None,
) -> BulkOperation:
    """Freeze the selection (``ids`` or everything ``filters`` match now), record the
    operation and queue it once committed. Raises :class:`InvalidBulkOperation` for bad input
    and ``ActionError`` when nothing is selected; ``MissingPermission`` when the member or
    token may not (see :func:`check_may_start_bulk`)."""
    check_may_start_bulk(tenant, action, acting_user=acting_user, acting_token=acting_token)
    cleaned_params = check_bulk_params(tenant, action, params)
    selection, cleaned_filters = _selection(tenant, ids, filters)
    if not selection:
        raise ActionError(
            "No contacts match this filter: nothing to do."
            if filters is not None
            else "None of the selected contacts exist here: nothing to do."
        )
    operation = BulkOperation.objects.create(
        tenant=tenant,
        created_by=acting_user if getattr(acting_user, "is_authenticated", False) else None,
        action=action,
        params=cleaned_params,
        contact_ids=selection,
        filters=cleaned_filters,
        total=len(selection),
    )
    audit.record(
        BULK_STARTED,  # type: ignore[arg-type]  (see contacts/auditing.py)
        tenant=tenant,
        actor=acting_user,
        token=acting_token,
        target=operation,
        request=request,
        data={
            "action": action,
            "params": cleaned_params,
            "total": len(selection),
            "filter": cleaned_filters if filters is not None else None,
        },
    )
    transaction.on_commit(lambda: _enqueue(operation.pk))
    return operation


def _enqueue(operation_id: int) -> None:
    from contacts.tasks.bulk import run_bulk_operation_task

    run_bulk_operation_task.delay(operation_id)


@transaction.atomic
def do_cancel_bulk_operation(
    operation: BulkOperation,
    *,
    acting_user=None,
    acting_token=None,
    request: HttpRequest | None = None,
) -> BulkOperation:
    """Stop before the next batch; batches already committed stay applied."""
    locked = (
        BulkOperation.objects.select_for_update()
        .defer("contact_ids")
        .get(pk=operation.pk, tenant_id=operation.tenant_id)
    )
    if locked.status not in UNFINISHED:
        raise ActionError(
            f"This operation is {locked.get_status_display().lower()} already.", code="conflict"
        )
    locked.status = JobStatus.CANCELLED
    locked.finished_at = timezone.now()
    locked.save(update_fields=["status", "finished_at"])
    audit.record(
        BULK_CANCELLED,  # type: ignore[arg-type]
        tenant=locked.tenant,
        actor=acting_user,
        token=acting_token,
        target=locked,
        request=request,
        data={"processed": locked.processed, "total": locked.total},
    )
    _publish(locked)
    return locked


# --- Running --------------------------------------------------------------------------------------


def _lock_key(operation_id: int) -> tuple[int, int]:
    return LOCK_NAMESPACE, operation_id % 2**31


@contextmanager
def _worker_lock(operation_id: int) -> Iterator[bool]:
    """Hold the operation's advisory lock (session level: it outlives the batch
    transactions and dies with the connection), or yield False when another holds it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", _lock_key(operation_id))
        locked = cursor.fetchone()[0]
    try:
        yield locked
    finally:
        if locked:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s, %s)", _lock_key(operation_id))
            except DatabaseError:
                logger.warning("Could not release the lock of bulk operation %s", operation_id)


def is_worked_on(operation_id: int) -> bool:
    """Whether a worker (any process) holds the operation right now."""
    with _worker_lock(operation_id) as free:
        return not free


@dataclass
class BatchResult:
    changed: int = 0
    failures: list[tuple[int, str]] = field(default_factory=list)


def _list(operation: BulkOperation, name: str) -> ContactList:
    contact_list = (
        ContactList.objects.filter(tenant_id=operation.tenant_id, pk=operation.params[name])
        .select_for_update()
        .first()
    )
    if contact_list is None:
        raise BulkOperationFailed("The list was deleted while the operation ran.")
    return contact_list


def _remove_from_list(operation: BulkOperation, list_id: int, chunk: list[int]) -> set[int]:
    removed = ListMembership.objects.filter(
        tenant_id=operation.tenant_id, contact_list_id=list_id, contact_id__in=chunk
    )
    ids = set(removed.values_list("contact_id", flat=True))
    removed.delete()
    return ids


def _apply_add_to_list(operation: BulkOperation, chunk: list[int]) -> BatchResult:
    return BatchResult(changed=len(add_members(_list(operation, "list_id"), chunk)))


def _apply_remove_from_list(operation: BulkOperation, chunk: list[int]) -> BatchResult:
    contact_list = _list(operation, "list_id")
    return BatchResult(changed=len(_remove_from_list(operation, contact_list.pk, chunk)))


def _apply_move_to_list(operation: BulkOperation, chunk: list[int]) -> BatchResult:
    source, target = _list(operation, "from_list_id"), _list(operation, "to_list_id")
    removed = _remove_from_list(operation, source.pk, chunk)
    added = set(add_members(target, chunk))
    return BatchResult(changed=len(removed | added))


def _apply_label(operation: BulkOperation, chunk: list[int]) -> BatchResult:
    label_id = operation.params["label_id"]
    if not Label.objects.filter(tenant_id=operation.tenant_id, pk=label_id).exists():
        raise BulkOperationFailed("The label was deleted while the operation ran.")
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {ContactLabel._meta.db_table} (tenant_id, contact_id, label_id, created_at)
            SELECT c.tenant_id, c.id, %s, %s
            FROM {Contact._meta.db_table} c
            WHERE c.tenant_id = %s AND c.id = ANY(%s) AND c.erased_at IS NULL
            ORDER BY c.id
            ON CONFLICT (contact_id, label_id) DO NOTHING
            """,  # noqa: S608 - table names come from the models, values are parameters
            [label_id, timezone.now(), operation.tenant_id, chunk],
        )
        return BatchResult(changed=cursor.rowcount)


def _apply_set_attribute(operation: BulkOperation, chunk: list[int]) -> BatchResult:
    key, value = operation.params["key"], operation.params.get("value")
    definitions = definitions_for(operation.tenant)
    if key not in definitions:
        raise BulkOperationFailed(f"The attribute “{key}” was deleted while the operation ran.")
    result = BatchResult()
    # Locked in id order: an agent's edit of one of these contacts waits for the batch
    # instead of being overwritten by a stale copy of the attributes.
    contacts = list(
        Contact.objects.filter(tenant_id=operation.tenant_id, pk__in=chunk, erased_at__isnull=True)
        .select_for_update(of=("self",))
        .order_by("pk")
        .only("pk", "attributes")
    )
    now = timezone.now()
    changed = []
    for contact in contacts:
        try:
            attributes = clean_attributes(definitions, {key: value}, existing=contact.attributes)
        except AttributeErrors as exc:
            reasons = "; ".join(f"{k}: {reason}" for k, reason in exc.errors.items())
            result.failures.append((contact.pk, reasons))
            continue
        if attributes != contact.attributes:
            contact.attributes = attributes
            contact.updated_at = now
            changed.append(contact)
    Contact.objects.bulk_update(changed, ["attributes", "updated_at"])
    result.changed = len(changed)
    return result


def _blocking_references(exc: ProtectedError | RestrictedError, chunk: set[int]) -> dict:
    """Which contacts of ``chunk`` other rows still point at, and what those rows are."""
    objects = getattr(exc, "protected_objects", None) or getattr(exc, "restricted_objects", ())
    blocked: dict[int, set[str]] = {}
    for obj in objects:
        for model_field in obj._meta.concrete_fields:
            if model_field.is_relation and model_field.related_model is Contact:
                contact_id = getattr(obj, model_field.attname)
                if contact_id in chunk:
                    blocked.setdefault(contact_id, set()).add(str(obj._meta.verbose_name_plural))
    return blocked


def _apply_delete(operation: BulkOperation, chunk: list[int]) -> BatchResult:
    result = BatchResult()
    remaining = set(chunk)
    # A contact with conversations (or anything else that protects it) is kept and reported;
    # the others go. Each round either deletes or learns which contacts are blocked.
    for _ in range(5):
        contacts = Contact.objects.filter(tenant_id=operation.tenant_id, pk__in=remaining)
        try:
            with transaction.atomic():
                deleted = contacts.delete()[1].get(Contact._meta.label, 0)
        except (ProtectedError, RestrictedError) as exc:
            blocked = _blocking_references(exc, remaining)
            if not blocked:
                raise
            for contact_id, kinds in sorted(blocked.items()):
                result.failures.append(
                    (
                        contact_id,
                        f"still has {', '.join(sorted(kinds))}; merge or erase it instead",
                    )
                )
            remaining -= set(blocked)
            continue
        result.changed = deleted
        return result
    raise BulkOperationFailed("Contacts kept gaining references while being deleted.")


APPLY = {
    Action.ADD_TO_LIST: _apply_add_to_list,
    Action.REMOVE_FROM_LIST: _apply_remove_from_list,
    Action.MOVE_TO_LIST: _apply_move_to_list,
    Action.LABEL: _apply_label,
    Action.SET_ATTRIBUTE: _apply_set_attribute,
    Action.DELETE: _apply_delete,
}


def process_batch(
    operation_id: int, selection: list[int], *, batch_size: int = BATCH_SIZE
) -> BulkOperation:
    """Apply the action to the next ``batch_size`` contacts of ``selection`` (the operation's
    frozen ids) after the checkpoint, and move the checkpoint, in one transaction."""
    with transaction.atomic():
        operation = (
            BulkOperation.objects.select_for_update(of=("self",))
            .select_related("tenant")
            .defer("contact_ids")
            .get(pk=operation_id)
        )
        if operation.status not in UNFINISHED:
            return operation
        now = timezone.now()
        fields = ["status", "progressed_at"]
        if operation.status == JobStatus.PENDING:
            operation.status = JobStatus.RUNNING
            operation.started_at = now
            fields.append("started_at")
        start = bisect.bisect_right(selection, operation.last_id)
        chunk = selection[start : start + batch_size]
        if chunk:
            result = APPLY[operation.action](operation, chunk)
            room = max(0, MAX_ERRORS - len(operation.errors))
            operation.errors = operation.errors + [
                {"contact_id": pk, "reason": reason} for pk, reason in result.failures[:room]
            ]
            operation.processed += len(chunk)
            operation.changed += result.changed
            operation.failed += len(result.failures)
            operation.last_id = chunk[-1]
            fields += ["processed", "changed", "failed", "errors", "last_id"]
        if start + len(chunk) >= len(selection):
            operation.status = JobStatus.DONE
            operation.finished_at = now
            fields.append("finished_at")
        operation.progressed_at = now
        operation.save(update_fields=fields)
        _publish(operation)
    return operation


def mark_failed(operation_id: int, message: str) -> None:
    """Stop the operation as failed (it cannot go on, or the task gave up retrying); the
    batches committed before stay applied."""
    with transaction.atomic():
        operation = (
            BulkOperation.objects.select_for_update(of=("self",))
            .select_related("tenant")
            .defer("contact_ids")
            .filter(pk=operation_id, status__in=UNFINISHED)
            .first()
        )
        if operation is None:
            return
        operation.status = JobStatus.FAILED
        operation.failure = message[:2000]
        operation.finished_at = timezone.now()
        operation.save(update_fields=["status", "failure", "finished_at"])
        _publish(operation)


def run_bulk_operation(
    operation_id: int, *, batch_size: int = BATCH_SIZE, max_batches: int | None = None
) -> str:
    """Run batches until the operation is finished, or ``max_batches`` have committed.

    Returns :data:`FINISHED`, :data:`MORE` (call again to continue from the checkpoint) or
    :data:`BUSY` (another worker is running it). Unexpected errors propagate with the failing
    batch rolled back; the caller retries or gives up with :func:`mark_failed`.
    """
    with _worker_lock(operation_id) as locked:
        if not locked:
            return BUSY
        row = (
            BulkOperation.objects.filter(pk=operation_id, status__in=UNFINISHED)
            .values_list("contact_ids", flat=True)
            .first()
        )
        if row is None:
            return FINISHED
        selection: list[int] = row
        batches = 0
        while max_batches is None or batches < max_batches:
            try:
                operation = process_batch(operation_id, selection, batch_size=batch_size)
            except BulkOperationFailed as exc:
                mark_failed(operation_id, str(exc))
                return FINISHED
            batches += 1
            if operation.status not in UNFINISHED:
                return FINISHED
        return MORE


def bulk_operations_to_resume(*, stale_after: timedelta = STALE_AFTER) -> list[int]:
    """Operations left pending or running, with no batch committed for ``stale_after`` and no
    worker holding them: their worker died (or their task was lost) and they need a new one."""
    cutoff = timezone.now() - stale_after
    candidates = (
        BulkOperation.objects.filter(status__in=UNFINISHED)
        .filter(Q(progressed_at__lt=cutoff) | Q(progressed_at__isnull=True, created_at__lt=cutoff))
        .order_by("pk")
        .values_list("pk", flat=True)[:1000]
    )
    return [pk for pk in candidates if not is_worked_on(pk)]


# --- Reading and progress -------------------------------------------------------------------------


def bulk_operations_for_tenant(tenant: Tenant) -> QuerySet[BulkOperation]:
    """Newest first, without the (possibly long) frozen selection."""
    return (
        BulkOperation.objects.for_tenant(tenant)
        .select_related("created_by")
        .defer("contact_ids")
        .order_by("-created_at", "-id")
    )


def progress_payload(operation: BulkOperation) -> dict[str, Any]:
    return {
        "id": operation.pk,
        "action": operation.action,
        "status": operation.status,
        "total": operation.total,
        "processed": operation.processed,
        "changed": operation.changed,
        "failed": operation.failed,
        "unchanged": unchanged_count(operation),
    }


def unchanged_count(operation: BulkOperation) -> int:
    """Contacts handled that needed no change (already in the list, already that value) or
    no longer existed."""
    return max(0, operation.processed - operation.changed - operation.failed)


def progress_html(operation: BulkOperation) -> str:
    """The progress block as an out-of-band fragment (``#bulk-{id}-progress``)."""
    context = {"operation": operation, "unchanged": unchanged_count(operation), "oob": True}
    return render_to_string("contacts/bulk_detail.html#bulk-progress", context)


def _publish(operation: BulkOperation) -> None:
    """To the person who started it (their browser swaps the fragment in); an operation
    started with an API token goes to the tenant as JSON only."""
    if operation.created_by_id is not None:
        events.publish(
            operation.tenant,
            events.EventType.CONTACTS_BULK_PROGRESS,
            progress_payload(operation),
            users=[operation.created_by_id],
            render_html=lambda: progress_html(operation),  # in the reader's time zone
        )
    else:
        events.publish(
            operation.tenant, events.EventType.CONTACTS_BULK_PROGRESS, progress_payload(operation)
        )
