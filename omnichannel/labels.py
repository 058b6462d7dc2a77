"""The tenant's labels: created, renamed, recoloured and deleted here, in the core, because
conversations (``inbox``) and contacts (``contacts``) both wear them.

Label names are unique per tenant whatever their case; colours come from the fixed
:class:`~omnichannel.models.LabelColor` palette. Putting a label on a conversation or a contact
is the business of the app that owns those rows.
"""

from django.db import IntegrityError, transaction

from omnichannel import audit
from omnichannel.actions import ActionError
from omnichannel.models import AuditEvent, Label, LabelColor, Tenant

LABEL_NAME_MAX = Label._meta.get_field("name").max_length


def _clean_label_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ActionError("A label needs a name.")
    if len(name) > LABEL_NAME_MAX:
        raise ActionError(f"A label name has at most {LABEL_NAME_MAX} characters.")
    return name


def _check_color(color: str) -> str:
    if color not in LabelColor.values:
        raise ActionError(f"Unknown colour “{color}”; use one of {', '.join(LabelColor.values)}.")
    return color


def _label_exists(tenant_id: int, name: str, *, exclude_pk: int | None = None) -> bool:
    qs = Label.objects.filter(tenant_id=tenant_id, name__iexact=name)
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    return qs.exists()


def _label_conflict(name: str) -> ActionError:
    return ActionError(f"There is already a label called “{name}”.", code="conflict")


def _save_label(label: Label, **kwargs) -> Label:
    try:
        with transaction.atomic():
            label.save(**kwargs)
    except IntegrityError as exc:  # a concurrent create with the same name won
        raise _label_conflict(label.name) from exc
    return label


@transaction.atomic
def do_create_label(
    tenant: Tenant, *, name: str, color: str = LabelColor.BLUE, description: str = ""
) -> Label:
    name = _clean_label_name(name)
    _check_color(color)
    if _label_exists(tenant.pk, name):
        raise _label_conflict(name)
    label = _save_label(
        Label(tenant=tenant, name=name, color=color, description=description.strip()[:200])
    )
    audit.record(AuditEvent.Action.LABEL_CREATED, tenant=tenant, target=label)
    return label


@transaction.atomic
def do_update_label(
    label: Label,
    *,
    name: str | None = None,
    color: str | None = None,
    description: str | None = None,
) -> Label:
    before = audit.snapshot(label, ("name", "color", "description"))
    if name is not None:
        label.name = _clean_label_name(name)
        if _label_exists(label.tenant_id, label.name, exclude_pk=label.pk):
            raise _label_conflict(label.name)
    if color is not None:
        label.color = _check_color(color)
    if description is not None:
        label.description = description.strip()[:200]
    changed = audit.changed_fields(label, before)
    if not changed:
        return label
    _save_label(label)
    audit.record(
        AuditEvent.Action.LABEL_CHANGED,
        tenant=label.tenant,
        target=label,
        data={"changed": changed},
    )
    return label


@transaction.atomic
def do_delete_label(label: Label) -> None:
    """Deletes the label and takes it off every conversation."""
    audit.record(
        AuditEvent.Action.LABEL_DELETED,
        tenant=label.tenant,
        target=label,
        data={"name": label.name, "conversations": label.conversation_labels.count()},
    )
    label.delete()
