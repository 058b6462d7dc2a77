"""The tenant's custom attribute definitions: create, change, delete, without corrupting values.

A definition's ``key`` never changes (templates, filters, segments and API clients use it).
Changing the type or the choices re-checks every stored value against the new definition: when
all of them fit, they are rewritten in the new stored form (text "12" becomes the number 12,
"gold" becomes the choice "Gold"); when some do not, the change is refused and the message
says how many contacts and which values are in the way. Deleting a definition removes its
values from every contact (the page says how many first).
"""

import json
import re
from collections.abc import Sequence
from typing import Any

from django.db import connection, transaction
from django.db.models import Max, QuerySet
from django.http import HttpRequest

from contacts import auditing
from contacts.attributes import clean_value
from contacts.models import AttributeDefinition, Contact
from contacts.services import ContactInvalid
from omnichannel.models import Tenant

KEY = re.compile(r"^[a-z][a-z0-9_]*$")
MAX_CHOICES = 200
Type = AttributeDefinition.Type


def definitions_list(tenant: Tenant) -> QuerySet[AttributeDefinition]:
    return AttributeDefinition.objects.for_tenant(tenant).order_by("position", "label", "id")


def contacts_with_value(definition: AttributeDefinition) -> int:
    return (
        Contact.objects.for_tenant(definition.tenant)
        .filter(attributes__has_key=definition.key)
        .count()
    )


def _clean_choices(type_: str, choices: Any, errors: dict[str, str]) -> list[str]:
    if isinstance(choices, str):
        choices = [line for line in re.split(r"[\n,]", choices)]
    items = [" ".join(str(c).split()) for c in (choices or [])]
    items = [c for c in items if c]
    if type_ != Type.CHOICE:
        if items:
            errors["choices"] = "only a list of choices has choices"
        return []
    if not items:
        errors["choices"] = "give at least one choice"
    elif len(items) > MAX_CHOICES:
        errors["choices"] = f"at most {MAX_CHOICES} choices"
    elif len({c.casefold() for c in items}) != len(items):
        errors["choices"] = "each choice must be different"
    elif any(len(c) > 100 for c in items):
        errors["choices"] = "a choice is at most 100 characters"
    return items


def _clean(
    *,
    label: str,
    type_: str,
    choices: Any,
    description: str,
    errors: dict[str, str],
) -> dict[str, Any]:
    label = " ".join((label or "").split())
    if not label:
        errors["label"] = "is required"
    elif len(label) > 100:
        errors["label"] = "is longer than 100 characters"
    if type_ not in Type.values:
        errors["type"] = f"“{type_}” is not a type ({', '.join(Type.values)})"
    description = " ".join((description or "").split())
    if len(description) > 200:
        errors["description"] = "is longer than 200 characters"
    return {
        "label": label,
        "type": type_,
        "choices": _clean_choices(type_, choices, errors),
        "description": description,
    }


@transaction.atomic
def do_create_attribute_definition(
    tenant: Tenant,
    *,
    key: str,
    label: str,
    type: str = Type.TEXT,
    choices: Sequence[str] | str = (),
    is_required: bool = False,
    description: str = "",
    position: int | None = None,
    acting_user=None,
    acting_token=None,
    request: HttpRequest | None = None,
) -> AttributeDefinition:
    errors: dict[str, str] = {}
    key = (key or "").strip().lower()
    if not KEY.match(key) or len(key) > 60:
        errors["key"] = (
            "starts with a letter and has only lower-case letters, digits and _ (60 at most)"
        )
    elif AttributeDefinition.objects.for_tenant(tenant).filter(key=key).exists():
        errors["key"] = f"“{key}” is already an attribute"
    cleaned = _clean(
        label=label, type_=type, choices=choices, description=description, errors=errors
    )
    if errors:
        raise ContactInvalid(errors)
    if position is None:
        highest = AttributeDefinition.objects.for_tenant(tenant).aggregate(Max("position"))
        position = (highest["position__max"] or 0) + 1
    definition = AttributeDefinition.objects.create(
        tenant=tenant, key=key, is_required=is_required, position=position, **cleaned
    )
    auditing.record(
        auditing.ATTRIBUTE_DEFINED,
        tenant=tenant,
        acting_user=acting_user,
        acting_token=acting_token,
        target=definition,
        request=request,
        data={"key": key, "type": definition.type, "choices": definition.choices},
    )
    return definition


def _convert_stored_values(definition: AttributeDefinition, new: AttributeDefinition) -> int:
    """Rewrite every stored value of ``definition`` in ``new``'s form, or ContactInvalid when
    some cannot be; the number of contacts rewritten."""
    contacts = Contact.objects.for_tenant(definition.tenant).filter(
        attributes__has_key=definition.key
    )
    stored = list(
        contacts.order_by().values_list(f"attributes__{definition.key}", flat=True).distinct()
    )
    pairs, bad = [], []
    for value in stored:
        try:
            converted = clean_value(new, value)
        except ValueError as exc:
            bad.append((value, str(exc)))
            continue
        if converted is None:
            bad.append((value, "would be empty"))
        elif json.dumps(converted) != json.dumps(value):
            pairs.append({"old": value, "new": converted})
    if bad:
        affected = sum(
            contacts.filter(attributes__contains={definition.key: value}).count()
            for value, _ in bad[:50]
        )
        examples = "; ".join(reason for _, reason in bad[:3])
        raise ContactInvalid(
            {
                "type": (
                    f"{affected} contact{'s' if affected != 1 else ''} "
                    f"{'have values' if affected != 1 else 'has a value'} that would not fit "
                    f"({examples}); change or clear them first"
                )
            }
        )
    if not pairs:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE contacts_contact AS c
               SET attributes = jsonb_set(c.attributes, ARRAY[%s], m.new)
              FROM jsonb_to_recordset(%s::jsonb) AS m(old jsonb, new jsonb)
             WHERE c.tenant_id = %s AND c.attributes -> %s = m.old
            """,
            [definition.key, json.dumps(pairs), definition.tenant_id, definition.key],
        )
        return cursor.rowcount


@transaction.atomic
def do_update_attribute_definition(
    definition: AttributeDefinition,
    *,
    label: str,
    type: str,
    choices: Sequence[str] | str = (),
    is_required: bool = False,
    description: str = "",
    position: int | None = None,
    acting_user=None,
    acting_token=None,
    request: HttpRequest | None = None,
) -> AttributeDefinition:
    """Change everything but the key; stored values are converted or the change refused."""
    definition = AttributeDefinition.objects.select_for_update().get(pk=definition.pk)
    errors: dict[str, str] = {}
    cleaned = _clean(
        label=label, type_=type, choices=choices, description=description, errors=errors
    )
    if errors:
        raise ContactInvalid(errors)
    before = {"type": definition.type, "choices": list(definition.choices)}
    new = AttributeDefinition(
        tenant=definition.tenant,
        key=definition.key,
        is_required=is_required,
        position=definition.position if position is None else position,
        **cleaned,
    )
    converted = 0
    if new.type != definition.type or new.choices != definition.choices:
        converted = _convert_stored_values(definition, new)
    for name in ("label", "type", "choices", "description", "is_required", "position"):
        setattr(definition, name, getattr(new, name))
    definition.save()
    auditing.record(
        auditing.ATTRIBUTE_CHANGED,
        tenant=definition.tenant,
        acting_user=acting_user,
        acting_token=acting_token,
        target=definition,
        request=request,
        data={
            "key": definition.key,
            "from": before,
            "to": {"type": definition.type, "choices": definition.choices},
            "values_converted": converted,
        },
    )
    return definition


@transaction.atomic
def do_delete_attribute_definition(
    definition: AttributeDefinition,
    *,
    acting_user=None,
    acting_token=None,
    request: HttpRequest | None = None,
) -> int:
    """Delete the definition and its values on every contact; how many contacts had one."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE contacts_contact SET attributes = attributes - %s "
            "WHERE tenant_id = %s AND attributes ? %s",
            [definition.key, definition.tenant_id, definition.key],
        )
        cleared = cursor.rowcount
    auditing.record(
        auditing.ATTRIBUTE_DELETED,
        tenant=definition.tenant,
        acting_user=acting_user,
        acting_token=acting_token,
        target=definition,
        request=request,
        data={"key": definition.key, "values_removed": cleared},
    )
    definition.delete()
    return cleared
