"""The contact filter: one JSON format for the contacts list, segments, bulk operations and
campaigns.

A filter is a JSON object; every key is optional and all given conditions must hold::

    {
      "q": "ana",                        name, email or phone fragment (as the inbox searches)
      "attributes": [                    custom attributes (contacts.attributes definitions)
        {"key": "plan", "op": "eq", "value": "gold"},
        {"key": "visits", "op": "gt", "value": 3},
        {"key": "plan", "op": "in", "value": ["gold", "silver"]},
        {"key": "vip", "op": "set"}
      ],
      "consent": {"channel": "sms", "status": "opted_out", "sender": "+14155550100"},
      "labels": [3, 4],                  has any of these labels
      "lists": [7],                      is in any of these lists
      "created_after": "2025-01-01",     on or after that day (the tenant's time zone)
      "created_before": "2025-02-01",    before that day
      "last_contacted_after": "2025-01-01T09:00:00+01:00",
      "last_contacted_before": "2025-03-01",
      "never_contacted": true            true: never contacted; false: contacted at least once
    }

Attribute operators by attribute type (``neq`` also matches contacts without a value; every
other operator needs one):

- ``eq`` / ``neq`` / ``in`` (a list): all types but ``in`` on yes/no; values are read like any
  attribute write (``"5"`` is the number 5, ``"31/01/2025"`` the date 2025-01-31, choices
  ignore case);
- ``gt`` / ``lt``: numbers compare as numbers, dates as dates;
- ``contains``: text and choices, case and accents ignored;
- ``set`` / ``unset``: has a value / has none (no ``value``).

``consent.status`` is ``opted_in``, ``opted_out``, ``not_opted_out`` (opted in or never asked:
whom a campaign may reach) or ``unknown`` (no consent recorded); ``sender`` narrows it to one of
the tenant's addresses.

:func:`clean_filters` validates a filter against the tenant (its attribute definitions, lists
and labels) and returns it normalised, or raises :class:`FilterError` with one reason per
field, keyed by where the problem is (``attributes[0].value``). :func:`apply_filters` turns a
cleaned filter into conditions on the tenant's contacts: equality on attributes is a JSONB
containment (``@>``) that the ``contact_attributes_idx`` GIN index answers; text search uses the
trigram indexes through :func:`contacts.search.contact_match`. Erased contacts never match.
"""

import datetime
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import BooleanField, Exists, F, Func, JSONField, OuterRef, Q, QuerySet, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.lookups import Contains
from django.http import QueryDict
from django.utils.dateparse import parse_date, parse_datetime

from contacts.attributes import clean_value, definitions_for
from contacts.models import (
    AttributeDefinition,
    Consent,
    Contact,
    ContactEmail,
    ContactLabel,
    ContactList,
    ContactPhone,
    ListMembership,
    folded,
)
from contacts.phones import InvalidPhone, normalize_phone
from contacts.search import Hits, clean_query, contact_match, index_first, phone_digits
from omnichannel.channels import Channel
from omnichannel.models import Label, Tenant
from omnichannel.pagination import InvalidCursor, Page, decode_cursor, encode_cursor
from omnichannel.tenancy import tenant_zone

Type = AttributeDefinition.Type

OPS = ("eq", "neq", "gt", "lt", "contains", "in", "set", "unset")
OPS_BY_TYPE = {
    Type.TEXT: {"eq", "neq", "contains", "in", "set", "unset"},
    Type.CHOICE: {"eq", "neq", "contains", "in", "set", "unset"},
    Type.NUMBER: {"eq", "neq", "gt", "lt", "in", "set", "unset"},
    Type.DATE: {"eq", "neq", "gt", "lt", "in", "set", "unset"},
    Type.BOOLEAN: {"eq", "neq", "set", "unset"},
}
OP_LABELS = {
    "eq": "is",
    "neq": "is not",
    "gt": "is more than",
    "lt": "is less than",
    "contains": "contains",
    "in": "is one of",
    "set": "has a value",
    "unset": "has no value",
}
CONSENT_STATUSES = {
    "opted_in": "opted in to",
    "opted_out": "opted out of",
    "not_opted_out": "not opted out of",
    "unknown": "never asked about",
}
DATE_KEYS = ("created_after", "created_before", "last_contacted_after", "last_contacted_before")
KNOWN_KEYS = ("q", "attributes", "consent", "labels", "lists", *DATE_KEYS, "never_contacted")
MAX_CONDITIONS = 20
MAX_IDS = 100
MAX_PAGE_SIZE = 200


class FilterError(ValueError):
    """The filter is not usable: ``errors`` maps where (``attributes[1].op``) to why."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{where}: {reason}" for where, reason in errors.items()))


@dataclass(frozen=True)
class FilterNames:
    """The tenant's attribute definitions, and its lists and labels by id (in name order): what
    validating, describing and offering filters needs, loaded once per page."""

    definitions: Mapping[str, AttributeDefinition]
    lists: Mapping[int, str]
    labels: Mapping[int, str]

    @classmethod
    def for_tenant(cls, tenant: Tenant) -> "FilterNames":
        return cls(
            definitions=definitions_for(tenant),
            lists=dict(
                ContactList.objects.for_tenant(tenant)
                .order_by("name", "id")
                .values_list("pk", "name")
            ),
            labels=dict(
                Label.objects.for_tenant(tenant).order_by("name", "id").values_list("pk", "name")
            ),
        )


# --- Validation -----------------------------------------------------------------------------------


def _int_ids(value: Any, where: str, errors: dict[str, str]) -> list[int]:
    if isinstance(value, int | str) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list | tuple):
        errors[where] = "expects a list of ids"
        return []
    ids: list[int] = []
    for item in value:
        try:
            if isinstance(item, bool):
                raise ValueError
            number = int(item)
        except (TypeError, ValueError):
            errors[where] = f"“{item}” is not an id"
            return []
        if number not in ids:
            ids.append(number)
    if len(ids) > MAX_IDS:
        errors[where] = f"at most {MAX_IDS} ids"
        return []
    return ids


def _moment(value: Any, tz: datetime.tzinfo) -> datetime.datetime:
    """A day (its start in ``tz``) or an ISO date-time (in ``tz`` when it has no offset)."""
    text = str(value).strip()
    day = parse_date(text) if len(text) == 10 else None
    if day is not None:
        return datetime.datetime.combine(day, datetime.time(), tzinfo=tz)
    try:
        moment = parse_datetime(text)
    except ValueError:
        moment = None
    if moment is None:
        raise ValueError(f"“{value}” is not a date (use YYYY-MM-DD)")
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


def _clean_attribute_value(definition: AttributeDefinition, op: str, value: Any) -> Any:
    if op in ("set", "unset"):
        return None
    if op == "in":
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple):
            raise ValueError("expects a list of values")
        cleaned = []
        for item in items:
            one = clean_value(definition, item)
            if one is not None and one not in cleaned:
                cleaned.append(one)
        if not cleaned:
            raise ValueError("needs at least one value")
        if len(cleaned) > MAX_IDS:
            raise ValueError(f"at most {MAX_IDS} values")
        return cleaned
    if op == "contains":
        if isinstance(value, dict | list) or value is None or not str(value).strip():
            raise ValueError("needs some text")
        return str(value).strip()[:200]
    cleaned = clean_value(definition, value)
    if cleaned is None:
        raise ValueError("needs a value")
    return cleaned


def _clean_attributes(
    raw: Any, definitions: Mapping[str, AttributeDefinition], errors: dict[str, str]
) -> list[dict]:
    if not isinstance(raw, list | tuple):
        errors["attributes"] = "expects a list of conditions"
        return []
    if len(raw) > MAX_CONDITIONS:
        errors["attributes"] = f"at most {MAX_CONDITIONS} conditions"
        return []
    conditions = []
    for index, condition in enumerate(raw):
        where = f"attributes[{index}]"
        if not isinstance(condition, Mapping):
            errors[where] = "expects {key, op, value}"
            continue
        key = str(condition.get("key") or "").strip()
        op = str(condition.get("op") or "eq").strip()
        definition = definitions.get(key)
        if definition is None:
            errors[f"{where}.key"] = (
                f"“{key}” is not a defined attribute" if key else "choose an attribute"
            )
            continue
        if op not in OPS:
            errors[f"{where}.op"] = f"“{op}” is not an operator ({', '.join(OPS)})"
            continue
        if op not in OPS_BY_TYPE[definition.type]:
            allowed = ", ".join(o for o in OPS if o in OPS_BY_TYPE[definition.type])
            errors[f"{where}.op"] = (
                f"“{op}” does not apply to {definition.get_type_display().lower()} "
                f"attributes ({allowed})"
            )
            continue
        try:
            value = _clean_attribute_value(definition, op, condition.get("value"))
        except ValueError as exc:
            errors[f"{where}.value"] = str(exc)
            continue
        cleaned = {"key": key, "op": op}
        if value is not None:
            cleaned["value"] = value
        conditions.append(cleaned)
    return conditions


def _clean_consent(raw: Any, errors: dict[str, str]) -> dict | None:
    if not isinstance(raw, Mapping):
        errors["consent"] = "expects {channel, status}"
        return None
    channel = str(raw.get("channel") or "").strip()
    status = str(raw.get("status") or "").strip()
    if not channel and not status:
        return None
    if channel not in Channel.values:
        errors["consent.channel"] = f"choose a channel ({', '.join(Channel.values)})"
    if status not in CONSENT_STATUSES:
        errors["consent.status"] = f"choose a status ({', '.join(CONSENT_STATUSES)})"
    sender = str(raw.get("sender") or "").strip()[:200]
    if "consent.channel" in errors or "consent.status" in errors:
        return None
    consent = {"channel": channel, "status": status}
    if sender:
        consent["sender"] = sender
    return consent


def clean_filters(
    tenant: Tenant, raw: Mapping[str, Any] | None, *, names: FilterNames | None = None
) -> dict[str, Any]:
    """``raw`` validated against the tenant and normalised (blank conditions dropped).

    Lists and labels must be the tenant's: another tenant's id is reported like a missing one.
    ``names`` (already loaded by a page) saves the lookups. Raises :class:`FilterError` listing
    every problem at once.
    """
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise FilterError({"filter": "expects an object"})
    errors: dict[str, str] = {}
    cleaned: dict[str, Any] = {}
    for key in raw:
        if key not in KNOWN_KEYS:
            errors[str(key)] = f"is not a filter (use {', '.join(KNOWN_KEYS)})"
    q = raw.get("q")
    if q is not None:
        if not isinstance(q, str):
            errors["q"] = "expects text"
        elif clean_query(q):
            cleaned["q"] = clean_query(q)
    if raw.get("attributes"):
        definitions = names.definitions if names else definitions_for(tenant)
        conditions = _clean_attributes(raw["attributes"], definitions, errors)
        if conditions:
            cleaned["attributes"] = conditions
    if raw.get("consent"):
        consent = _clean_consent(raw["consent"], errors)
        if consent:
            cleaned["consent"] = consent
    for name, model in (("labels", Label), ("lists", ContactList)):
        if raw.get(name) in (None, "", []):
            continue
        ids = _int_ids(raw[name], name, errors)
        if not ids:
            continue
        if names is not None:
            found = set(names.labels if name == "labels" else names.lists)
        else:
            found = set(
                model.objects.for_tenant(tenant).filter(pk__in=ids).values_list("pk", flat=True)
            )
        missing = [str(pk) for pk in ids if pk not in found]
        if missing:
            noun = "label" if name == "labels" else "list"
            errors[name] = f"no {noun} with id {', '.join(missing)}"
        else:
            cleaned[name] = ids
    tz = tenant_zone(tenant)
    moments = {}
    for name in DATE_KEYS:
        value = raw.get(name)
        if value in (None, ""):
            continue
        try:
            moments[name] = _moment(value, tz)
        except (TypeError, ValueError) as exc:
            errors[name] = str(exc)
            continue
        cleaned[name] = str(value).strip()
    for field in ("created", "last_contacted"):
        after, before = moments.get(f"{field}_after"), moments.get(f"{field}_before")
        if after and before and after >= before:
            errors[f"{field}_before"] = f"must be later than {field}_after"
    never = raw.get("never_contacted")
    if never not in (None, ""):
        if not isinstance(never, bool):
            errors["never_contacted"] = "expects true or false"
        elif never and ("last_contacted_after" in moments or "last_contacted_before" in moments):
            errors["never_contacted"] = "contradicts last_contacted_after/before"
        else:
            cleaned["never_contacted"] = never
    if errors:
        raise FilterError(errors)
    return cleaned


# --- Turning a filter into SQL --------------------------------------------------------------------


class _JsonPathExists(Func):
    """``jsonb_path_exists(attributes, path, vars)``: the compared value travels as a JSON
    variable (never inside the path text), and a value of another JSON type simply does not
    match instead of failing a cast."""

    function = "jsonb_path_exists"
    output_field = BooleanField()


def _compare(key: str, op: str, value: Any) -> Q:
    # ISO dates (YYYY-MM-DD) order as text exactly as they order as dates.
    path = f"$ ? (@.{json.dumps(key)} {'>' if op == 'gt' else '<'} $v)"
    return Q(
        _JsonPathExists(
            F("attributes"),
            Func(Value(path), template="%(expressions)s::jsonpath"),
            Value({"v": value}, output_field=JSONField()),
        )
    )


def _attribute_q(condition: Mapping[str, Any]) -> Q:
    key, op, value = condition["key"], condition["op"], condition.get("value")
    match op:
        case "eq":
            return Q(attributes__contains={key: value})
        case "neq":
            return ~Q(attributes__contains={key: value})
        case "in":
            any_of = Q()
            for one in value:
                any_of |= Q(attributes__contains={key: one})
            return any_of
        case "gt" | "lt":
            return _compare(key, op, value)
        case "contains":
            return Q(Contains(folded(KeyTextTransform(key, "attributes")), folded(Value(value))))
        case "set":
            return Q(attributes__has_key=key)
        case "unset":
            return ~Q(attributes__has_key=key)
    raise ValueError(f"Unknown operator {op!r}")


def search_q(tenant: Tenant, q: str) -> Q:
    """Contacts matching the search box: :func:`contacts.search.contact_match` (name, primary
    email, primary phone's digits) plus the contact's other numbers, the number itself when
    ``q`` is a complete phone number in a national format (``07911 123456`` is
    ``+447911123456`` for a British tenant, whose digits differ), and other email addresses
    when ``q`` has an ``@``.

    Planned like the inbox's search (:func:`contacts.search.index_first`): one query reads the
    hits through the trigram indexes; a rare query's contacts are then read by id, a common
    one is tested on each contact in page order.
    """
    text = clean_query(q)
    contacts = Contact.objects.for_tenant(tenant).filter(contact_match(text))
    kinds = {"contact": Hits(contacts, "pk", "pk", contact_match(text))}
    digits = phone_digits(text)
    if digits:
        numbers = ContactPhone.objects.for_tenant(tenant).filter(number__contains=digits)
        each = Q(Exists(numbers.filter(contact_id=OuterRef("pk"))))
        kinds["phone"] = Hits(numbers, "contact_id", "pk", each)
    if "@" in text:
        emails = ContactEmail.objects.for_tenant(tenant).filter(email__contains=text.lower())
        kinds["email"] = Hits(emails, "contact_id", "pk", Q(pk__in=emails.values("contact_id")))
    match = index_first(kinds) or Q(pk__in=[])
    try:
        e164 = normalize_phone(text, tenant.default_region)
    except InvalidPhone:
        e164 = None
    if e164 and (not digits or e164[1:] != digits):
        exact = ContactPhone.objects.filter(tenant=tenant, number=e164)
        match |= Q(phone=e164) | Q(pk__in=exact.values("contact_id"))
    return match


def apply_filters(queryset: QuerySet[Contact], tenant: Tenant, filters: Mapping[str, Any]):
    """``queryset`` (the tenant's contacts) narrowed by a filter :func:`clean_filters` returned.

    Runs no query itself except, for a search, the read of its hits (:func:`search_q`): the
    conditions are subqueries of the one statement.
    """
    qs = queryset.filter(tenant=tenant, erased_at__isnull=True)
    if filters.get("q"):
        qs = qs.filter(search_q(tenant, filters["q"]))
    for condition in filters.get("attributes", ()):
        qs = qs.filter(_attribute_q(condition))
    consent = filters.get("consent")
    if consent:
        consents = Consent.objects.filter(contact=OuterRef("pk"), channel=consent["channel"])
        if consent.get("sender"):
            consents = consents.filter(sender=consent["sender"])
        opted_out = Exists(consents.filter(status=Consent.Status.OPTED_OUT))
        qs = qs.filter(
            {
                "opted_in": Exists(consents.filter(status=Consent.Status.OPTED_IN)),
                "opted_out": opted_out,
                "not_opted_out": ~opted_out,
                "unknown": ~Exists(consents),
            }[consent["status"]]
        )
    if filters.get("labels"):
        qs = qs.filter(
            Exists(
                ContactLabel.objects.filter(contact=OuterRef("pk"), label_id__in=filters["labels"])
            )
        )
    if filters.get("lists"):
        qs = qs.filter(
            Exists(
                ListMembership.objects.filter(
                    contact=OuterRef("pk"), contact_list_id__in=filters["lists"]
                )
            )
        )
    tz = tenant_zone(tenant)
    for name, lookup in (
        ("created_after", "created_at__gte"),
        ("created_before", "created_at__lt"),
        ("last_contacted_after", "last_contacted_at__gte"),
        ("last_contacted_before", "last_contacted_at__lt"),
    ):
        if filters.get(name):
            qs = qs.filter(**{lookup: _moment(filters[name], tz)})
    if filters.get("never_contacted") is not None:
        qs = qs.filter(last_contacted_at__isnull=filters["never_contacted"])
    return qs


def contacts_matching(tenant: Tenant, filters: Mapping[str, Any] | None) -> QuerySet[Contact]:
    """The tenant's contacts matching ``filters`` (validated here: :class:`FilterError`)."""
    return apply_filters(Contact.objects.all(), tenant, clean_filters(tenant, filters))


# --- Describing a filter --------------------------------------------------------------------------


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(_shown(v) for v in value)
    return str(value)


def describe_filters(filters: Mapping[str, Any], names: FilterNames) -> list[str]:
    """Each condition in words ("Plan is gold", "Opted out of SMS"), for people."""
    parts = []
    if filters.get("q"):
        parts.append(f"Matches “{filters['q']}”")
    for condition in filters.get("attributes", ()):
        definition = names.definitions.get(condition["key"])
        label = definition.label if definition else condition["key"]
        words = f"{label} {OP_LABELS.get(condition['op'], condition['op'])}"
        if "value" in condition:
            words += f" {_shown(condition['value'])}"
        parts.append(words)
    consent = filters.get("consent")
    if consent:
        try:
            channel = Channel(consent["channel"]).label
        except ValueError:
            channel = consent["channel"]
        words = f"{CONSENT_STATUSES.get(consent['status'], consent['status'])} {channel}"
        if consent.get("sender"):
            words += f" from {consent['sender']}"
        parts.append(words[0].upper() + words[1:])
    for name, noun, lookup in (("labels", "Labelled", names.labels), ("lists", "In", names.lists)):
        if filters.get(name):
            shown = [lookup.get(pk, f"#{pk}") for pk in filters[name]]
            parts.append(f"{noun} {' or '.join(shown)}")
    for name, words in (
        ("created_after", "Created on or after"),
        ("created_before", "Created before"),
        ("last_contacted_after", "Last contacted on or after"),
        ("last_contacted_before", "Last contacted before"),
    ):
        if filters.get(name):
            parts.append(f"{words} {filters[name]}")
    if filters.get("never_contacted") is True:
        parts.append("Never contacted")
    elif filters.get("never_contacted") is False:
        parts.append("Contacted at least once")
    return parts


# --- The list page's query string -----------------------------------------------------------------

# The list page's form fields. Attribute conditions are rows of three aligned fields
# (attr_key, attr_op, attr_value) so that a plain HTML form can submit several.
FORM_FIELDS = (
    "q",
    "attr_key",
    "attr_op",
    "attr_value",
    "consent_channel",
    "consent_status",
    "label",
    "list",
    *DATE_KEYS,
    "never_contacted",
)


def has_filter_params(params: QueryDict) -> bool:
    return any(name in params for name in FORM_FIELDS)


def filters_from_params(params: QueryDict) -> dict[str, Any]:
    """The raw filter a list-page form (or link) submitted; :func:`clean_filters` checks it."""
    raw: dict[str, Any] = {}
    if params.get("q", "").strip():
        raw["q"] = params["q"]
    keys, ops, values = (params.getlist(n) for n in ("attr_key", "attr_op", "attr_value"))
    conditions = []
    for index, key in enumerate(keys):
        if not key.strip():
            continue
        op = ops[index] if index < len(ops) else "eq"
        condition = {"key": key.strip(), "op": op or "eq"}
        if op not in ("set", "unset"):
            condition["value"] = values[index] if index < len(values) else ""
        conditions.append(condition)
    if conditions:
        raw["attributes"] = conditions
    if params.get("consent_channel") or params.get("consent_status"):
        raw["consent"] = {
            "channel": params.get("consent_channel", ""),
            "status": params.get("consent_status", ""),
        }
    for name, field in (("labels", "label"), ("lists", "list")):
        ids = [v for v in params.getlist(field) if v.strip()]
        if ids:
            raw[name] = ids
    for name in DATE_KEYS:
        if params.get(name, "").strip():
            raw[name] = params[name].strip()
    never = params.get("never_contacted", "")
    if never in ("1", "true", "yes", "on"):
        raw["never_contacted"] = True
    elif never in ("0", "false", "no"):
        raw["never_contacted"] = False
    return raw


def filters_to_params(filters: Mapping[str, Any]) -> list[tuple[str, str]]:
    """A cleaned filter as the list page's query parameters (the inverse of the above)."""
    params: list[tuple[str, str]] = []
    if filters.get("q"):
        params.append(("q", filters["q"]))
    for condition in filters.get("attributes", ()):
        value = condition.get("value", "")
        if isinstance(value, list):
            value = ", ".join(_shown(v) for v in value)
        elif isinstance(value, bool):
            value = "yes" if value else "no"
        params += [
            ("attr_key", condition["key"]),
            ("attr_op", condition["op"]),
            ("attr_value", str(value)),
        ]
    consent = filters.get("consent")
    if consent:
        params += [("consent_channel", consent["channel"]), ("consent_status", consent["status"])]
    params += [("label", str(pk)) for pk in filters.get("labels", ())]
    params += [("list", str(pk)) for pk in filters.get("lists", ())]
    params += [(name, filters[name]) for name in DATE_KEYS if filters.get(name)]
    if filters.get("never_contacted") is not None:
        params.append(("never_contacted", "1" if filters["never_contacted"] else "0"))
    return params


# --- Pages of contacts ----------------------------------------------------------------------------


def after_contact_cursor(qs: QuerySet[Contact], cursor: str) -> QuerySet[Contact]:
    """Contacts after ``cursor`` in newest-first order (``created_at`` desc, ``id`` desc)."""
    moment, pk = decode_cursor(cursor)
    if moment is None:
        raise InvalidCursor("The cursor is not valid; use next_cursor from a previous page.")
    return qs.filter(Q(created_at__lt=moment) | Q(created_at=moment, pk__lt=pk))


def contact_page(
    queryset: QuerySet[Contact], *, cursor: str | None = None, limit: int = 50
) -> Page:
    """One page of ``queryset``, newest first, by keyset (``contact_tenant_created_idx``).

    Raises :class:`omnichannel.pagination.InvalidCursor` for a cursor that is not ours.
    """
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    if cursor:
        queryset = after_contact_cursor(queryset, cursor)
    rows = list(queryset.order_by("-created_at", "-id")[: limit + 1])
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1].created_at, rows[-1].pk)
    return Page(items=rows, next_cursor=next_cursor)


def ids_of(values: Iterable[Any]) -> list[int]:
    """Distinct integer ids from form or JSON input, in order; anything else is skipped."""
    ids: list[int] = []
    seen: set[int] = set()
    for value in values:
        try:
            number = int(value)
        except (TypeError, ValueError):
            continue
        if number > 0 and number not in seen:
            seen.add(number)
            ids.append(number)
    return ids
