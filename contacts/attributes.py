"""Custom attribute values checked against the tenant's definitions, field by field.

Values are stored in ``Contact.attributes`` as JSON: text and choice as strings, numbers as
JSON numbers, dates as ``YYYY-MM-DD`` strings (they sort and compare as dates), booleans as
true/false. Every write (UI, API, import, bulk) goes through :func:`clean_attributes`.
"""

import datetime
import math
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from contacts.models import AttributeDefinition, Contact
from omnichannel.models import Tenant

Type = AttributeDefinition.Type

TRUE_WORDS = {"true", "yes", "y", "1", "si", "sí", "on", "x"}
FALSE_WORDS = {"false", "no", "n", "0", "off"}
DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%m/%d/%Y", "%d-%m-%Y", "%d.%m.%Y")
MAX_TEXT = 1000


class AttributeErrors(ValueError):
    """Every invalid value at once: ``errors`` maps the attribute key to what is wrong."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{key}: {reason}" for key, reason in errors.items()))


def definitions_for(tenant: Tenant) -> dict[str, AttributeDefinition]:
    return {d.key: d for d in AttributeDefinition.objects.for_tenant(tenant)}


def _number(value: Any) -> int | float:
    if isinstance(value, bool):
        raise ValueError("expects a number, not yes/no")
    if isinstance(value, int | float):
        number = value
    else:
        text = str(value).strip().replace(" ", "")
        # "1.234,5" and "1,234.5" are both read; a lone comma is a decimal comma.
        if "," in text and "." in text:
            text = (
                text.replace(".", "").replace(",", ".")
                if text.rfind(",") > text.rfind(".")
                else text.replace(",", "")
            )
        elif "," in text:
            text = text.replace(",", ".")
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"“{value}” is not a number") from None
        number = int(number) if number == number.to_integral_value() else float(number)
    if isinstance(number, float) and not math.isfinite(number):
        raise ValueError(f"“{value}” is not a number")
    return number


def _date(value: Any) -> str:
    if isinstance(value, datetime.datetime):
        return value.date().isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    text = str(value).strip()
    for fmt in DATE_FORMATS:
        try:
            return datetime.datetime.strptime(text, fmt).date().isoformat()
        except ValueError:
            continue
    raise ValueError(f"“{value}” is not a date (use YYYY-MM-DD)")


def parse_yes_no(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise ValueError(f"“{value}” is not yes or no")


def _choice(value: Any, choices: Iterable[str]) -> str:
    text = str(value).strip()
    for choice in choices:
        if text.casefold() == str(choice).casefold():
            return str(choice)
    allowed = ", ".join(str(c) for c in choices)
    raise ValueError(f"“{value}” is not one of the choices ({allowed})")


def _text(value: Any) -> str:
    if isinstance(value, dict | list):
        raise ValueError("expects text")
    text = str(value).strip()
    if len(text) > MAX_TEXT:
        raise ValueError(f"is longer than {MAX_TEXT} characters")
    return text


def clean_value(definition: AttributeDefinition, value: Any) -> Any:
    """``value`` in its stored form, ``None`` for empty, or ``ValueError`` saying why not."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    match definition.type:
        case Type.NUMBER:
            return _number(value)
        case Type.DATE:
            return _date(value)
        case Type.BOOLEAN:
            return parse_yes_no(value)
        case Type.CHOICE:
            return _choice(value, definition.choices)
        case _:
            return _text(value)


def clean_attributes(
    definitions: Mapping[str, AttributeDefinition],
    values: Mapping[str, Any],
    *,
    existing: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The contact's attributes after applying ``values`` on top of ``existing``.

    An empty value removes the attribute. Unknown keys, invalid values and missing required
    attributes are all reported together in :class:`AttributeErrors`.
    """
    result = dict(existing or {})
    errors: dict[str, str] = {}
    for key, value in values.items():
        definition = definitions.get(key)
        if definition is None:
            errors[key] = "is not a defined attribute"
            continue
        try:
            cleaned = clean_value(definition, value)
        except ValueError as exc:
            errors[key] = str(exc)
            continue
        if cleaned is None:
            result.pop(key, None)
        else:
            result[key] = cleaned
    for key, definition in definitions.items():
        if definition.is_required and key not in result and key not in errors:
            errors[key] = "is required"
    if errors:
        raise AttributeErrors(errors)
    return result


def attribute_rows(
    contact: Contact,
    definitions: list[AttributeDefinition],
    *,
    submitted: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> tuple[list[dict], dict[str, Any]]:
    """One row per definition (value shown, what was typed, its error) and the values stored
    under keys that no longer have a definition."""
    stored = contact.attributes or {}
    rows = []
    for definition in definitions:
        value = stored.get(definition.key)
        typed = (submitted or {}).get(definition.key)
        if typed is None:
            if value is None:
                typed = ""
            elif definition.type == AttributeDefinition.Type.BOOLEAN:
                typed = "yes" if value else "no"
            else:
                typed = str(value)
        rows.append(
            {
                "definition": definition,
                "value": value,
                "input": typed,
                "error": (errors or {}).get(definition.key),
            }
        )
    known = {d.key for d in definitions}
    orphans = {key: value for key, value in stored.items() if key not in known}
    return rows, orphans
