"""Finding contacts by what a person types in a search box: the contact list, the merge picker
and the inbox's search all read a query the same way.

Contacts match on a substring of the name (any case, accents ignored) or of the email, and, when
the query looks like a phone number (digits with spaces, ``+-.()``; three digits or more), on
the phone's digits: "5512 3456", "(415) 555" and "0111" all find ``+14155550111``-style numbers.
Trigram GIN indexes (contacts migration 0002) serve these substring matches.
"""

import re
from typing import NamedTuple

from django.contrib.postgres.fields import ArrayField
from django.db.models import BigIntegerField, BooleanField, F, Func, Q, QuerySet, Value
from django.db.models.functions import Lower
from django.db.models.lookups import Contains

from contacts.models import folded

MAX_QUERY_LENGTH = 200
MIN_PHONE_DIGITS = 3
# Up to this many hits of a kind, the outer rows are read by the hits' ids (index_first).
INDEX_FIRST_HITS = 2000
PHONE_LIKE = re.compile(r"^[\d\s()+.\-]+$")


def clean_query(q: str | None) -> str:
    """The query as searched: blanks collapsed, at most ``MAX_QUERY_LENGTH`` characters."""
    return " ".join((q or "").split())[:MAX_QUERY_LENGTH]


def phone_digits(q: str) -> str | None:
    """The digits to look for in phones, when ``q`` looks like (part of) a phone number."""
    digits = re.sub(r"\D", "", q)
    if PHONE_LIKE.match(q) and len(digits) >= MIN_PHONE_DIGITS:
        return digits
    return None


def contact_match(q: str, prefix: str = "") -> Q:
    """Contacts (or, with ``prefix="contact__"``, rows pointing at one) matching ``q``."""
    text = clean_query(q)
    needle = Value(text)
    match = Q(Contains(folded(F(f"{prefix}name")), folded(needle))) | Q(
        Contains(Lower(F(f"{prefix}email")), Lower(needle))
    )
    digits = phone_digits(text)
    if digits:
        match |= Q(**{f"{prefix}phone__contains": digits})
    return match


class Hits(NamedTuple):
    """One way a search term finds rows: ``found``, the matching rows of a table with an index
    for the term, ``column`` of theirs that identifies an outer row, the outer rows'
    ``outer`` column it is (``"pk"``), and ``each``, the same test on one outer row."""

    found: QuerySet
    column: str
    outer: str
    each: Q


class AnyOf(Func):
    """``column = ANY(ids)``, the ids sent as one array parameter: as an ``IN`` list of a
    thousand literals they cost psycopg about 10 ms to split and adapt, per query."""

    output_field = BooleanField()

    def __init__(self, column: str, ids: list[int]) -> None:
        super().__init__(F(column), Value(ids, output_field=ArrayField(BigIntegerField())))

    def as_sql(self, compiler, connection, **extra_context):
        column, ids = self.source_expressions
        column_sql, column_params = compiler.compile(column)
        ids_sql, ids_params = compiler.compile(ids)
        return f"{column_sql} = ANY({ids_sql})", (*column_params, *ids_params)


def index_first(kinds: dict[str, Hits]) -> Q | None:
    """The outer rows that some kind of hit finds, planned by how many hits there are.

    One query reads each kind's hits through its index, cut after ``INDEX_FIRST_HITS + 1``. A
    kind with no more is kept as a list of ids (the outer query then reads just those rows and
    sorts them); a kind with more is a common term, tested on each outer row (``each``) in
    the caller's order, which fills a page after a few rows. The choice is made on what the
    index returned: one statement for both cases was planned for neither, and a rare term
    scanned every row of the tenant (115 ms for a rare word at 1.25M messages in
    ``bench/inbox_list.py``, 1.4 s for a rare surname among 1M contacts). ``None`` when no kind
    found anything.
    """
    cap = INDEX_FIRST_HITS + 1
    first, *rest = (
        hits.found.order_by()
        .annotate(search_hit=Value(kind))
        .values_list("search_hit", hits.column)[:cap]
        for kind, hits in kinds.items()
    )
    found: dict[str, list[int]] = {kind: [] for kind in kinds}
    for kind, pk in first.union(*rest, all=True).order_by() if rest else first:
        found[kind].append(pk)
    kept: dict[str, set[int]] = {}
    match = Q()
    for kind, ids in found.items():
        if len(ids) > INDEX_FIRST_HITS:
            match |= kinds[kind].each
        elif ids:
            kept.setdefault(kinds[kind].outer, set()).update(ids)
    for outer, ids in kept.items():
        match |= Q(AnyOf(outer, sorted(ids)))
    return match or None
