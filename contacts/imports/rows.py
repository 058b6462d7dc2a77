"""CSV rows turned into contacts, a batch at a time, with a handful of queries per batch.

:class:`RowParser` checks one row in Python (no queries): every mapped cell is normalized and
validated, and each problem becomes a :class:`RowError` (row number as a spreadsheet shows it,
column, reason). A bad cell the contact can do without (a date, an attribute, a second email,
a country…) is left out and the row imported, with the problem kept as a warning; the row is
refused when it has no usable phone or email (nothing identifies the person), is damaged, or
the bad cell is a required attribute or a consent the file may have meant as an opt-out.
:func:`write_batch` then takes the valid rows of a batch and, inside the caller's transaction:

1. looks up, in one query, the blocklist and the contacts holding the batch's phones and
   emails, and refuses rows with a blocklisted number or email;
2. groups rows that share a phone or an email (the same person named twice in the file);
3. finds each group's existing contact: by phone first, then by email;
4. applies each group's rows in file order onto its contact: a new one, or an existing one
   (updated, or left alone in "skip" mode);
5. writes new rows with COPY and changed contacts with one bulk update, then adds the
   batch's contacts to the chosen list in one statement.

Duplicates within the file are merged: a later row naming a person an earlier row of the same
file created (same phone or email) is applied to that contact — its non-empty cells win, its
phones and emails are added — even in "skip" mode, because that contact did not exist before
the import. Only contacts that existed before the import started are updated or skipped as
the person chose. Blank cells never clear anything. A phone or email already belonging to
another contact stays with that contact.
"""

import zoneinfo
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection
from django.utils import timezone

from contacts.attributes import AttributeErrors, clean_attributes, clean_value
from contacts.imports.mapping import (
    ATTR_PREFIX,
    EMAIL_TARGETS,
    EXT_PREFIX,
    FIELD_TARGETS,
    PHONE_TARGETS,
    fold,
    parse_consent_target,
    read_consent,
)
from contacts.lists import add_members
from contacts.models import (
    AttributeDefinition,
    BlockedAddress,
    Consent,
    Contact,
    ContactEmail,
    ContactList,
    ContactPhone,
)
from contacts.phones import InvalidPhone, ParsedPhone, parse_phone
from contacts.services import clean_contact_fields, display_name
from contacts.timezones import timezone_for_number, timezone_for_phone
from omnichannel.copy_in import copy_in, new_ids, row_defaults
from omnichannel.models import Tenant

MAX_EMAIL_LENGTH = 254
MAX_EXTERNAL_ID_LENGTH = 100
# A spreadsheet cell holds at most this many characters (Excel's limit): a longer cell was not
# typed into one, it is a quote mark that swallowed the rows after it, or not a table at all.
MAX_CELL_CHARS = 32_767

# Values people type in spreadsheets for the fields that take codes.
COUNTRY_NAMES = {
    "mexico": "MX", "estados_unidos": "US", "united_states": "US", "usa": "US", "eeuu": "US",
    "eua": "US", "united_states_of_america": "US", "canada": "CA", "espana": "ES", "spain": "ES",
    "colombia": "CO", "argentina": "AR", "chile": "CL", "peru": "PE", "guatemala": "GT",
    "venezuela": "VE", "ecuador": "EC", "brasil": "BR", "brazil": "BR", "uk": "GB",
    "united_kingdom": "GB", "reino_unido": "GB", "francia": "FR", "france": "FR",
}  # fmt: skip
LANGUAGE_NAMES = {
    "spanish": "es", "espanol": "es", "castellano": "es", "english": "en", "ingles": "en",
    "portuguese": "pt", "portugues": "pt", "french": "fr", "frances": "fr", "german": "de",
    "aleman": "de", "italian": "it", "italiano": "it",
}  # fmt: skip
CHANNEL_NAMES = {
    "text": "sms", "texto": "sms", "mensaje": "sms", "mail": "email", "e_mail": "email",
    "correo": "email", "correo_electronico": "email", "call": "voice", "calls": "voice",
    "phone": "voice", "llamada": "voice", "llamadas": "voice", "telefono": "voice",
    "wa": "whatsapp", "whats_app": "whatsapp",
}  # fmt: skip


@cache
def _timezones() -> dict[str, str]:
    # available_timezones() walks the zoneinfo database: once per process, not once per row.
    return {name.casefold(): name for name in zoneinfo.available_timezones()}


@dataclass(slots=True)
class RowError:
    row: int
    column: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "reason": self.reason}


@dataclass(slots=True)
class ParsedRow:
    row: int
    fields: dict[str, str] = field(default_factory=dict)
    phones: list[tuple[str, str]] = field(default_factory=list)  # (E.164, kind)
    parsed_phones: dict[str, ParsedPhone] = field(default_factory=dict)  # E.164 -> parsed
    emails: list[str] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)
    external_ids: dict[str, str] = field(default_factory=dict)
    consents: dict[tuple[str, str], bool] = field(default_factory=dict)  # -> opted out
    columns: dict[str, str] = field(default_factory=dict)  # "p:+1…"/"e:…" -> column
    warnings: list[RowError] = field(default_factory=list)  # cells left out, and why

    def identity_keys(self) -> list[str]:
        return [f"p:{n}" for n, _ in self.phones] + [f"e:{e}" for e in self.emails]


class RowParser:
    """Checks rows against a mapping; pure Python, so it runs outside any transaction."""

    def __init__(
        self,
        *,
        region: str,
        headers: Sequence[str],
        mapping: Mapping[str, str],
        definitions: Mapping[str, AttributeDefinition],
    ) -> None:
        index = {header: i for i, header in enumerate(headers)}
        self.headers = list(headers)
        self.region = region or "US"
        self.width = len(headers)
        self.definitions = definitions
        # (cell index, column, target) in the header's order: "phone" is read before "phone_2".
        self.cells = sorted(
            ((index[column], column, target) for column, target in mapping.items()),
            key=lambda item: item[0],
        )
        self.phone_cells = sorted(
            (c for c in self.cells if c[2] in PHONE_TARGETS),
            key=lambda c: list(PHONE_TARGETS).index(c[2]),
        )
        self.email_cells = sorted(
            (c for c in self.cells if c[2] in EMAIL_TARGETS),
            key=lambda c: list(EMAIL_TARGETS).index(c[2]),
        )
        self.other_cells = [
            c for c in self.cells if c[2] not in PHONE_TARGETS and c[2] not in EMAIL_TARGETS
        ]
        self.identity_column_names = {c[1] for c in self.phone_cells + self.email_cells}
        self.identity_columns = ", ".join(c[1] for c in self.phone_cells + self.email_cells)
        self.column_index = index
        self.attribute_columns = {
            target[len(ATTR_PREFIX) :]: column
            for _, column, target in self.cells
            if target.startswith(ATTR_PREFIX)
        }

    def parse(self, row_number: int, record: list[str]) -> ParsedRow | list[RowError]:
        """The row, with the cells it can do without left out (``warnings`` says which), or
        every problem of a row that is refused."""
        damaged = self._damaged_cells(row_number, record)
        if damaged:
            return damaged
        errors: list[RowError] = []  # each refuses the row
        parsed = ParsedRow(row=row_number)
        dropped = parsed.warnings
        width = len(record)
        if width > self.width and any(cell.strip() for cell in record[self.width :]):
            errors.append(
                RowError(
                    row_number,
                    "",
                    f"has {width} cells, more than the {self.width} columns of the header",
                )
            )

        raw_fields: dict[str, str] = {}
        field_columns: dict[str, str] = {}
        for index, column, target in self.other_cells:
            value = record[index].strip() if index < width else ""
            if not value:
                continue
            if target in FIELD_TARGETS:
                raw_fields[target] = value
                field_columns[target] = column
            elif target.startswith(ATTR_PREFIX):
                definition = self.definitions[target[len(ATTR_PREFIX) :]]
                try:
                    cleaned = clean_value(definition, value)
                except ValueError as exc:
                    # A required attribute cannot be left out of a new contact.
                    problems = errors if definition.is_required else dropped
                    problems.append(RowError(row_number, column, str(exc)))
                    continue
                if cleaned is not None:
                    parsed.attributes[definition.key] = cleaned
            elif target.startswith(EXT_PREFIX):
                if len(value) > MAX_EXTERNAL_ID_LENGTH:
                    dropped.append(
                        RowError(
                            row_number,
                            column,
                            f"is longer than {MAX_EXTERNAL_ID_LENGTH} characters",
                        )
                    )
                    continue
                parsed.external_ids[target[len(EXT_PREFIX) :]] = value
            elif consent := parse_consent_target(target):
                try:
                    parsed.consents[consent.key] = read_consent(consent, value)
                except ValueError as exc:
                    # Refused, not left out: the cell may be an opt-out in words we do not
                    # know, and the contact must not be messaged as if it were not there.
                    errors.append(RowError(row_number, column, str(exc)))
        if raw_fields:
            parsed.fields = self._clean_fields(row_number, raw_fields, field_columns, dropped)

        region = parsed.fields.get("country") or self.region
        for index, column, target in self.phone_cells:
            value = record[index].strip() if index < width else ""
            if not value:
                continue
            try:
                phone = parse_phone(value, region)
            except InvalidPhone as exc:
                dropped.append(RowError(row_number, column, str(exc)))
                continue
            number = phone.e164
            if f"p:{number}" not in parsed.columns:
                parsed.phones.append((number, PHONE_TARGETS[target][1]))
                parsed.parsed_phones[number] = phone
                parsed.columns[f"p:{number}"] = column
        for index, column, _target in self.email_cells:
            value = record[index].strip() if index < width else ""
            if not value:
                continue
            address = value.lower()
            try:
                if len(address) > MAX_EMAIL_LENGTH:
                    raise ValidationError("too long")
                validate_email(address)
            except ValidationError:
                dropped.append(RowError(row_number, column, f"“{value}” is not an email address"))
                continue
            if f"e:{address}" not in parsed.columns:
                parsed.emails.append(address)
                parsed.columns[f"e:{address}"] = column

        usable = parsed.phones or parsed.emails
        if not usable and not any(e.column in self.identity_column_names for e in dropped):
            errors.append(
                RowError(
                    row_number,
                    self.identity_columns,
                    "has neither a phone number nor an email address",
                )
            )
        if errors or not usable:
            # A refused row lists all its problems, the cells it could do without too.
            return sorted(errors + dropped, key=self._in_column_order)
        dropped.sort(key=self._in_column_order)
        return parsed

    def _in_column_order(self, error: RowError) -> int:
        """Problems are listed in the file's column order; whole-row ones first."""
        return self.column_index.get(error.column, -1)

    def _damaged_cells(self, row_number: int, record: list[str]) -> list[RowError]:
        """Errors for cells that cannot be a spreadsheet's text, in any column: a NUL (binary
        data, which PostgreSQL cannot store either) or more than ``MAX_CELL_CHARS``. The whole
        row is refused: what it says beside such a cell cannot be trusted."""
        if not any("\x00" in cell or len(cell) > MAX_CELL_CHARS for cell in record):
            return []
        errors = []
        for index, cell in enumerate(record):
            column = self.headers[index] if index < self.width else f"Column {index + 1}"
            if "\x00" in cell:
                errors.append(
                    RowError(row_number, column, "contains a NUL character: binary data, not text")
                )
            elif len(cell) > MAX_CELL_CHARS:
                errors.append(
                    RowError(
                        row_number,
                        column,
                        f"is {len(cell):,} characters long; a cell holds at most "
                        f"{MAX_CELL_CHARS:,} (a quote mark that opens a cell and never closes "
                        "it can cause this)",
                    )
                )
        return errors

    def _clean_fields(
        self,
        row_number: int,
        raw: dict[str, str],
        columns: dict[str, str],
        errors: list[RowError],
    ) -> dict[str, str]:
        if "country" in raw:
            folded = fold(raw["country"])
            raw["country"] = COUNTRY_NAMES.get(folded, raw["country"])
        if "language" in raw:
            raw["language"] = LANGUAGE_NAMES.get(fold(raw["language"]), raw["language"])
        if "preferred_channel" in raw:
            folded = fold(raw["preferred_channel"])
            raw["preferred_channel"] = CHANNEL_NAMES.get(folded, folded)
        zone = raw.pop("timezone", None)
        problems: dict[str, str] = {}
        cleaned = clean_contact_fields(raw, problems)
        if zone is not None:
            known = _timezones().get(zone.casefold())
            if known is None:
                problems["timezone"] = f"“{zone}” is not a time zone such as America/Mexico_City"
            else:
                cleaned["timezone"] = known
        for name, reason in problems.items():
            errors.append(RowError(row_number, columns.get(name, name), reason))
        return cleaned


# --- writing a batch ----------------------------------------------------------------------------


@dataclass
class BatchResult:
    created: int = 0
    updated: int = 0
    skipped: int = 0
    errors: list[RowError] = field(default_factory=list)
    error_rows: set[int] = field(default_factory=set)
    warnings: list[RowError] = field(default_factory=list)
    warning_rows: set[int] = field(default_factory=set)

    def fail(self, errors: Iterable[RowError]) -> None:
        for error in errors:
            self.errors.append(error)
            self.error_rows.add(error.row)

    def refuse(self, row: ParsedRow, errors: Iterable[RowError]) -> None:
        """``row`` is not imported: its errors, and the cells it would have gone without."""
        self.fail([*errors, *row.warnings])

    def imported(self, row: ParsedRow) -> None:
        if row.warnings:
            self.warnings.extend(row.warnings)
            self.warning_rows.add(row.row)


class _NewContact:
    """A contact about to be created, as plain attributes named like the model's: building a
    model instance per row would cost more than everything else done for the row."""

    def __init__(self, tenant_id: int, now: datetime) -> None:
        self.__dict__.update(row_defaults(Contact))
        self.attributes: dict[str, Any] = {}
        self.external_ids: dict[str, str] = {}
        self.tenant_id = tenant_id
        self.created_via = Contact.CreatedVia.IMPORT
        self.created_at = self.updated_at = now
        self.pk: int | None = None


@dataclass
class _Draft:
    """A contact being built or changed from one or more rows of the batch."""

    contact: Any  # a Contact, or a _NewContact
    is_new: bool
    numbers: set[str]
    addresses: set[str]
    applied: int = 0
    changed: set[str] = field(default_factory=set)
    new_phones: list[dict[str, Any]] = field(default_factory=list)
    new_emails: list[dict[str, Any]] = field(default_factory=list)
    consents: dict[tuple[str, str], tuple[bool, int]] = field(default_factory=dict)


class _Groups:
    """Union-find over row indexes: rows sharing any phone or email are one person."""

    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def write_batch(
    *,
    tenant: Tenant,
    rows: list[ParsedRow],
    update_existing: bool,
    import_started_at: datetime,
    definitions: Mapping[str, AttributeDefinition],
    attribute_columns: Mapping[str, str],
    contact_list: ContactList | None = None,
) -> BatchResult:
    """Write ``rows`` (already parsed, in file order); run inside the caller's transaction."""
    result = BatchResult()
    numbers = {n for row in rows for n, _ in row.phones}
    addresses = {e for row in rows for e in row.emails}
    known = _lookup(tenant, numbers, addresses)
    phone_owner, email_owner = known.phone_owner, known.email_owner
    rows = _without_blocked(rows, known.blocked, result)
    if not rows:
        return result

    groups = _Groups(len(rows))
    first_row_with: dict[str, int] = {}
    for i, row in enumerate(rows):
        for key in row.identity_keys():
            j = first_row_with.setdefault(key, i)
            if j != i:
                groups.union(i, j)

    # Each group goes to the contact its phones name first, else its emails, else a new one;
    # groups that land on the same existing contact are merged in file order.
    members: dict[int, list[ParsedRow]] = defaultdict(list)
    for i, row in enumerate(rows):
        members[groups.find(i)].append(row)
    plans: dict[Any, list[ParsedRow]] = {}
    for root, group in members.items():
        target = next(
            (phone_owner[n] for r in group for n, _ in r.phones if n in phone_owner), None
        )
        if target is None:
            target = next(
                (email_owner[e] for r in group for e in r.emails if e in email_owner), None
            )
        plans.setdefault(target if target is not None else ("new", root), []).extend(group)

    existing_ids = [key for key in plans if isinstance(key, int)]
    drafts = _load_drafts(tenant, existing_ids)
    now = timezone.now()
    touched: list[_Draft] = []
    for key, plan_rows in plans.items():
        plan_rows.sort(key=lambda r: r.row)
        draft = drafts.get(key) if isinstance(key, int) else None
        if draft is not None:
            if draft.contact.erased_at is not None:
                for r in plan_rows:
                    result.refuse(
                        r, [RowError(r.row, "", "matches a contact whose personal data was erased")]
                    )
                continue
            contact = draft.contact
            created_by_this_import = (
                contact.created_via == Contact.CreatedVia.IMPORT
                and contact.created_at >= import_started_at
            )
            if not update_existing and not created_by_this_import:
                result.skipped += len(plan_rows)
                touched.append(draft)
                continue
        else:
            draft = _Draft(
                contact=_NewContact(tenant.pk, now),
                is_new=True,
                numbers=set(),
                addresses=set(),
            )
        owner_id = draft.contact.pk
        for row in plan_rows:
            errors = _apply(draft, row, owner_id, phone_owner, email_owner, definitions, now)
            if errors:
                result.refuse(
                    row,
                    [
                        RowError(row.row, attribute_columns.get(k, f"{ATTR_PREFIX}{k}"), reason)
                        for k, reason in errors.items()
                    ],
                )
                continue
            result.imported(row)
            if draft.is_new and draft.applied == 0:
                result.created += 1
            else:
                result.updated += 1
            draft.applied += 1
            for key, opted_out in row.consents.items():
                draft.consents[key] = (opted_out, row.row)  # a later row of the file wins
        if draft.applied:
            touched.append(draft)

    _save(touched, now)
    _save_consents(tenant, [d for d in touched if d.applied], now)
    if contact_list is not None:
        add_members(contact_list, [d.contact.pk for d in touched])
    return result


def _save_consents(tenant: Tenant, drafts: list[_Draft], now: datetime) -> None:
    """Opt-outs from the file are recorded over whatever was there; opt-ins only where nothing
    was: a file must never undo a STOP the contact sent (or any opt-out on record)."""
    rows = {True: [], False: []}
    for draft in drafts:
        for (channel, sender), (opted_out, row) in draft.consents.items():
            rows[opted_out].append(
                Consent(
                    tenant_id=tenant.pk,
                    contact_id=draft.contact.pk,
                    channel=channel,
                    sender=sender,
                    status=Consent.Status.OPTED_OUT if opted_out else Consent.Status.OPTED_IN,
                    source=Consent.Source.IMPORT,
                    detail=f"CSV import, row {row}",
                    changed_at=now,
                )
            )
    if rows[True]:
        Consent.objects.bulk_create(
            rows[True],
            update_conflicts=True,
            unique_fields=["contact", "channel", "sender"],
            update_fields=["status", "source", "detail", "changed_at"],
        )
    if rows[False]:
        Consent.objects.bulk_create(rows[False], ignore_conflicts=True)


@dataclass
class _Known:
    """What the database already holds for a batch's numbers and addresses."""

    blocked: set[str] = field(default_factory=set)
    phone_owner: dict[str, int] = field(default_factory=dict)
    email_owner: dict[str, int] = field(default_factory=dict)


def _lookup(tenant: Tenant, numbers: set[str], addresses: set[str]) -> _Known:
    """Blocklisted values, and which contact holds each number and address — their phone and
    email rows first, then the ``Contact.phone`` / ``Contact.email`` mirrors of contacts
    written without those rows — in one round trip, on the (tenant, value) indexes."""
    known = _Known()
    if not numbers and not addresses:
        return known
    table = {m: connection.ops.quote_name(m._meta.db_table) for m in
             (BlockedAddress, ContactPhone, ContactEmail, Contact)}  # fmt: skip
    # "phone <> ''" lets PostgreSQL use the partial unique index on (tenant, phone).
    sql = f"""
        SELECT 0, value, NULL FROM {table[BlockedAddress]} WHERE tenant_id = %(tenant)s
            AND ((kind = %(phone)s AND value = ANY(%(numbers)s))
                 OR (kind = %(email)s AND value = ANY(%(addresses)s)))
        UNION ALL SELECT 1, number, contact_id FROM {table[ContactPhone]}
            WHERE tenant_id = %(tenant)s AND number = ANY(%(numbers)s)
        UNION ALL SELECT 2, phone, id FROM {table[Contact]}
            WHERE tenant_id = %(tenant)s AND phone <> '' AND phone = ANY(%(numbers)s)
        UNION ALL SELECT 3, email, contact_id FROM {table[ContactEmail]}
            WHERE tenant_id = %(tenant)s AND email = ANY(%(addresses)s)
        UNION ALL SELECT 4, email, id FROM {table[Contact]}
            WHERE tenant_id = %(tenant)s AND email = ANY(%(addresses)s)
        ORDER BY 1, 3
    """  # noqa: S608 - table names come from the models, values are parameters
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            {
                "tenant": tenant.pk,
                "phone": BlockedAddress.Kind.PHONE,
                "email": BlockedAddress.Kind.EMAIL,
                "numbers": sorted(numbers),
                "addresses": sorted(addresses),
            },
        )
        for source, value, contact_id in cursor.fetchall():
            if source == 0:
                known.blocked.add(value)
            elif source in (1, 2):
                known.phone_owner.setdefault(value, contact_id)
            else:
                known.email_owner.setdefault(value, contact_id)
    return known


def _without_blocked(rows: list[ParsedRow], blocked: set[str], result: BatchResult) -> list:
    if not blocked:
        return rows
    kept = []
    for row in rows:
        hits = [(f"p:{n}", n) for n, _ in row.phones if n in blocked]
        hits += [(f"e:{e}", e) for e in row.emails if e in blocked]
        if hits:
            result.refuse(
                row,
                [
                    RowError(row.row, row.columns[key], f"{value} is on the blocklist")
                    for key, value in hits
                ],
            )
        else:
            kept.append(row)
    return kept


def _load_drafts(tenant: Tenant, ids: list[int]) -> dict[int, _Draft]:
    if not ids:
        return {}
    drafts = {
        c.pk: _Draft(
            contact=c,
            is_new=False,
            numbers={c.phone} if c.phone else set(),
            addresses={c.email.lower()} if c.email else set(),
        )
        for c in Contact.objects.for_tenant(tenant).filter(pk__in=ids)
    }
    for contact_id, number in ContactPhone.objects.filter(contact_id__in=ids).values_list(
        "contact_id", "number"
    ):
        drafts[contact_id].numbers.add(number)
    for contact_id, address in ContactEmail.objects.filter(contact_id__in=ids).values_list(
        "contact_id", "email"
    ):
        drafts[contact_id].addresses.add(address)
    return drafts


def _apply(
    draft: _Draft,
    row: ParsedRow,
    owner_id: int | None,
    phone_owner: Mapping[str, int],
    email_owner: Mapping[str, int],
    definitions: Mapping[str, AttributeDefinition],
    now: datetime,
) -> dict[str, str]:
    """Apply one row to the draft; the attribute errors (key → reason) if it cannot be."""
    contact = draft.contact
    try:
        attributes = clean_attributes(definitions, row.attributes, existing=contact.attributes)
    except AttributeErrors as exc:
        return exc.errors
    changed = draft.changed
    if attributes != contact.attributes:
        contact.attributes = attributes
        changed.add("attributes")
    for name, value in row.fields.items():
        if getattr(contact, name) != value:
            setattr(contact, name, value)
            changed.add(name)
    if "name" not in row.fields and ("first_name" in row.fields or "last_name" in row.fields):
        name = display_name(contact.first_name, contact.last_name, contact.name)
        if name != contact.name:
            contact.name = name
            changed.add("name")
    for number, kind in row.phones:
        holder = phone_owner.get(number)
        if (holder is not None and holder != owner_id) or number in draft.numbers:
            continue
        primary = not contact.phone
        draft.new_phones.append(
            {"number": number, "kind": kind, "is_primary": primary, "created_at": now}
        )
        draft.numbers.add(number)
        if primary:
            contact.phone = number
            changed.add("phone")
    for address in row.emails:
        holder = email_owner.get(address)
        if (holder is not None and holder != owner_id) or address in draft.addresses:
            continue
        primary = not contact.email
        draft.new_emails.append({"email": address, "is_primary": primary, "created_at": now})
        draft.addresses.add(address)
        if primary:
            contact.email = address
            changed.add("email")
    if row.external_ids:
        merged = {**contact.external_ids, **row.external_ids}
        if merged != contact.external_ids:
            contact.external_ids = merged
            changed.add("external_ids")
    if not contact.timezone and contact.phone and "phone" in changed:
        parsed = row.parsed_phones.get(contact.phone)  # else an earlier row of the file set it
        zone = (
            timezone_for_number(parsed.number, parsed.type)
            if parsed
            else timezone_for_phone(contact.phone)
        )
        if zone:
            contact.timezone = zone
            changed.add("timezone")
    return {}


def _save(drafts: list[_Draft], now: datetime) -> None:
    new = [d.contact for d in drafts if d.is_new]
    if new:
        for contact, pk in zip(new, new_ids(Contact, len(new)), strict=True):
            contact.pk = contact.id = pk
        copy_in(Contact, [vars(c) for c in new], now)
    changed = [d for d in drafts if not d.is_new and d.changed]
    if changed:
        fields = sorted(set().union(*(d.changed for d in changed)) | {"updated_at"})
        for draft in changed:
            draft.contact.updated_at = now
        Contact.objects.bulk_update([d.contact for d in changed], fields)
    for model, key in ((ContactPhone, "new_phones"), (ContactEmail, "new_emails")):
        rows = [
            {**item, "tenant_id": d.contact.tenant_id, "contact_id": d.contact.pk}
            for d in drafts
            for item in getattr(d, key)
        ]
        if rows:
            copy_in(model, rows, now)
