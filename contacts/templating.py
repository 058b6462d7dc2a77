"""Message templates: ``{{firstName}}`` placeholders with fallbacks, checked when saved.

A placeholder names a contact variable (:data:`CONTACT_VARIABLES`) or one of the tenant's
custom attributes by key, optionally with a fallback for contacts that lack it:
``Hola {{firstName|default:"amigo"}}``. Unknown names and malformed placeholders are refused
with the name and position, so a campaign never goes out with a literal ``{{frstName}}``.
"""

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# Variable name -> how to read it from a contact.
CONTACT_VARIABLES: dict[str, Callable[[Any], str]] = {
    "firstName": lambda c: c.first_name,
    "lastName": lambda c: c.last_name,
    "name": lambda c: c.name,
    "phone": lambda c: c.phone,
    "email": lambda c: c.email,
    "city": lambda c: c.city,
    "country": lambda c: c.country,
}

PLACEHOLDER = re.compile(
    r"\{\{\s*(?P<name>[A-Za-z_][A-Za-z0-9_-]*)\s*"
    r'(?:\|\s*default\s*:\s*"(?P<fallback>(?:[^"\\]|\\.)*)"\s*)?\}\}'
)
MAX_FALLBACK = 200


class TemplateError(ValueError):
    """Every problem of a template body, in words (``problems``)."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class Placeholder:
    start: int
    end: int
    name: str
    fallback: str | None


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def placeholders(body: str) -> list[Placeholder]:
    """The placeholders of ``body``, or :class:`TemplateError` for braces that open or close
    no valid placeholder."""
    found = []
    problems = []
    position = 0
    for match in PLACEHOLDER.finditer(body):
        _check_stray(body, position, match.start(), problems)
        fallback = match.group("fallback")
        if fallback is not None:
            fallback = _unescape(fallback)
            if len(fallback) > MAX_FALLBACK:
                problems.append(
                    f"the fallback of “{match.group('name')}” is longer than {MAX_FALLBACK} "
                    "characters"
                )
        found.append(Placeholder(match.start(), match.end(), match.group("name"), fallback))
        position = match.end()
    _check_stray(body, position, len(body), problems)
    if problems:
        raise TemplateError(problems)
    return found


def _check_stray(body: str, start: int, end: int, problems: list[str]) -> None:
    text = body[start:end]
    for token in ("{{", "}}"):
        index = text.find(token)
        if index >= 0:
            where = start + index + 1
            snippet = body[start + index : start + index + 25].split("\n")[0]
            problems.append(
                f"“{snippet}” at character {where} is not a placeholder; write "
                '{{firstName}} or {{firstName|default:"amigo"}}'
            )
            return


def check_template(body: str, attribute_keys: Iterable[str]) -> list[str]:
    """The variable names ``body`` uses, or :class:`TemplateError` naming every unknown one
    (and every malformed placeholder)."""
    known = set(CONTACT_VARIABLES) | set(attribute_keys)
    used = placeholders(body)
    unknown = sorted({p.name for p in used if p.name not in known})
    if unknown:
        names = ", ".join(f"“{name}”" for name in unknown)
        raise TemplateError(
            [
                f"unknown variable{'s' if len(unknown) > 1 else ''} {names}; use "
                f"{', '.join(sorted(CONTACT_VARIABLES))} or a custom attribute's key"
            ]
        )
    return sorted({p.name for p in used})


def contact_values(contact, attribute_keys: Iterable[str] = ()) -> dict[str, str]:
    """What each variable is for ``contact`` (attributes as text; missing ones left out)."""
    values = {name: read(contact) or "" for name, read in CONTACT_VARIABLES.items()}
    attributes = contact.attributes or {}
    for key in attribute_keys:
        value = attributes.get(key)
        if value is None:
            continue
        if isinstance(value, bool):
            value = "yes" if value else "no"
        values[key] = str(value)
    return {name: value for name, value in values.items() if value != ""}


def render(body: str, values: Mapping[str, str]) -> str:
    """``body`` with each placeholder replaced by its value, else its fallback, else ""."""
    parts = []
    position = 0
    for placeholder in placeholders(body):
        parts.append(body[position : placeholder.start])
        value = values.get(placeholder.name) or placeholder.fallback or ""
        parts.append(value)
        position = placeholder.end
    parts.append(body[position:])
    return "".join(parts)
