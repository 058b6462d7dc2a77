"""Finding contacts by what a person types in a search box: the contact list, the merge picker
and the inbox's search all read a query the same way.

Contacts match on a substring of the name (any case, accents ignored) or of the email, and, when
the query looks like a phone number (digits with spaces, ``+-.()``; three digits or more), on
the phone's digits: "5512 3456", "(415) 555" and "0111" all find ``+14155550111``-style numbers.
Trigram GIN indexes (contacts migration 0002) serve these substring matches.
"""

import re

from django.db.models import Exists, F, Q, QuerySet, Value
from django.db.models.functions import Lower
from django.db.models.lookups import Contains

from contacts.models import folded

MAX_QUERY_LENGTH = 200
MIN_PHONE_DIGITS = 3
# Up to this many matching contacts or messages, the matches are read first (few_or_each).
HASHED_HITS = 2000
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


def few_or_each(hits: QuerySet, column: str, outer: str, each: Q) -> Q:
    """Rows whose ``outer`` is among the ``column`` of ``hits``, planned for both rare and
    common queries.

    A rare query has few hits: they are read once through their index (at most
    ``HASHED_HITS``) and each row is looked up in that set. A common query has many: checking
    each row in the caller's order (``each``) fills a page after a few rows, when an index
    gives that order. Whether there are more than ``HASHED_HITS`` hits is an uncorrelated
    ``EXISTS`` that PostgreSQL evaluates once, before the rows; only then does the per-row
    check run. (A plain ``OR EXISTS`` makes the planner guess that half the rows match, and a
    rare word then costs a probe of every conversation's messages: 1.2 s instead of 70 ms over
    1M messages in ``bench/inbox_list.py``.) ``hits`` span every tenant: the caller's tenant
    filter on the outer rows keeps the answer inside one tenant.
    """
    few = Q(**{f"{outer}__in": hits.values(column)[:HASHED_HITS]})
    many = Exists(hits[HASHED_HITS : HASHED_HITS + 1])
    return few | (Q(many) & each)
