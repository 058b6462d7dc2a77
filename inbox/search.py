"""Inbox search: contacts by name, email or phone digits, and message text.

Message text is matched with PostgreSQL full-text search on ``Message.search_vector``: a stored,
GIN-indexed ``tsvector`` of the body in Spanish *and* English, accents removed (the
``centro_es`` / ``centro_en`` configurations of inbox migration 0002). A query is read like a
web search box (``websearch_to_tsquery``: words, "quoted phrases", ``-excluded``, ``or``) in both
languages, so "llego" finds "llegó" and "booking" finds "booked".

Contacts match as the contact list's search box matches them (:mod:`contacts.search`): a
substring of the name (any case, accents ignored) or of the email, or the phone's digits.

Email subjects are matched like message text, on ``Conversation.subject_vector`` (the same
Spanish + English ``tsvector``, stored; inbox migration 0007; GIN-indexed for email threads,
0014), and marked alike.

Everything here reads inside the tenant the caller chose; snippets come back HTML-escaped with
the matched words wrapped in ``<mark>``.
"""

import unicodedata

from django.contrib.postgres.search import SearchHeadline, SearchQuery
from django.db.models import Case, Exists, F, Func, OuterRef, Q, QuerySet, Value, When
from django.db.models.lookups import Contains
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from contacts.models import Contact, folded
from contacts.phones import contact_display, format_phone
from contacts.search import (
    MAX_QUERY_LENGTH,
    Hits,
    clean_query,
    contact_match,
    index_first,
    phone_digits,
)
from inbox.models import SEARCH_CONFIGS, CannedResponse, Conversation, Message
from omnichannel.models import Tenant

# ts_headline() returns raw text. The matches are wrapped in these private-use characters
# (removed from the body first, so they cannot come from a message), the text is escaped, then
# they become <mark> tags.
_START, _STOP = "\ue000", "\ue001"
_HEADLINE_OPTIONS = {
    "start_sel": _START,
    "stop_sel": _STOP,
    "max_words": 20,
    "min_words": 8,
    "short_word": 0,
    "max_fragments": 2,
    "fragment_delimiter": " … ",
}
# A subject is one line: shown whole when short, else the few words around the match.
_SUBJECT_HEADLINE_OPTIONS = {
    "start_sel": _START,
    "stop_sel": _STOP,
    "max_words": 12,
    "min_words": 4,
    "short_word": 0,
    "max_fragments": 1,
    "fragment_delimiter": " … ",
}


def text_queries(q: str) -> tuple[SearchQuery, SearchQuery]:
    """``q`` as a web-search query in each configuration (Spanish, English)."""
    return tuple(
        SearchQuery(q, config=config, search_type="websearch") for config in SEARCH_CONFIGS
    )


def text_query(q: str):
    """A message matches when either language's reading of ``q`` matches its vector."""
    spanish, english = text_queries(q)
    return spanish | english


def subject_match(q: str) -> Q:
    """Conversations whose email subject matches ``q`` as text, read like message text."""
    return Q(subject_vector=text_query(q))


def search_conversations(
    queryset: QuerySet[Conversation], q: str, *, tenant: Tenant
) -> QuerySet[Conversation]:
    """``queryset`` narrowed to conversations whose contact or email subject matches ``q`` or
    that hold a message matching it (private notes included: only agents search).

    The caller has already limited ``queryset`` to ``tenant`` and keeps its ordering. The
    matching contacts, messages and subjects are read through their indexes first, in one
    query (:func:`contacts.search.index_first`): a rare term's conversations are then read by
    id, a common one is checked on each row in the list's order. A blank ``q`` leaves
    ``queryset`` as it is; a term found nowhere costs only that first query.
    """
    text = clean_query(q)
    if not text:
        return queryset
    query = text_query(text)
    messages = Message.objects.for_tenant(tenant).filter(search_vector=query)
    match = index_first(
        {
            "contact": Hits(
                Contact.objects.for_tenant(tenant).filter(contact_match(text)),
                "pk",
                "contact_id",
                contact_match(text, prefix="contact__"),
            ),
            "message": Hits(
                messages,
                "conversation_id",
                "pk",
                Q(Exists(messages.filter(conversation_id=OuterRef("pk")))),
            ),
            "subject": Hits(
                Conversation.objects.for_tenant(tenant)
                .exclude(subject="")
                .filter(subject_match(text)),
                "pk",
                "pk",
                ~Q(subject="") & subject_match(text),
            ),
        }
    )
    return queryset.filter(match) if match else queryset.none()


def _without_sentinels(expression) -> Func:
    return Func(expression, Value(_START + _STOP), Value(""), function="translate")


def highlight(raw: str) -> SafeString:
    """ts_headline() output (or any text with sentinel marks) as safe HTML."""
    html = escape(raw).replace(_START, "<mark>").replace(_STOP, "</mark>")
    return mark_safe(html)  # noqa: S308 - escaped just above; only the marks are markup


def matching_message_snippets(
    tenant: Tenant, conversation_ids: list[int], q: str
) -> dict[int, SafeString]:
    """For each conversation in ``conversation_ids`` that has a message matching ``q``: the
    latest such message as a short snippet, HTML-escaped, matches in ``<mark>``. One query.

    Conversations without a matching message (matched on the contact) are left out.
    """
    return search_highlights(tenant, conversation_ids, q, subjects=False)[0]


def search_highlights(
    tenant: Tenant, conversation_ids: list[int], q: str, *, subjects: bool = True
) -> tuple[dict[int, SafeString], dict[int, SafeString]]:
    """``(snippets, subjects)`` for the conversations in ``conversation_ids``, in one query:
    the latest message matching ``q`` as a short snippet (see ``matching_message_snippets``)
    and the email subject when it matches ``q``, both HTML-escaped with matches in ``<mark>``.
    A conversation without such a message or subject is left out of that dictionary.
    """
    text = clean_query(q)
    ids = [int(pk) for pk in conversation_ids]
    if not text or not ids:
        return {}, {}
    spanish, english = text_queries(text)
    latest = (
        Message.objects.for_tenant(tenant)
        .filter(conversation_id__in=ids, search_vector=spanish | english)
        .order_by("conversation_id", "-created_at", "-id")
        .distinct("conversation_id")
        .values("pk")
    )
    body = _without_sentinels(F("body"))
    rows = (
        Message.objects.for_tenant(tenant)
        .filter(pk__in=latest)
        .annotate(
            kind=Value("body"),
            spanish=SearchHeadline(body, spanish, config=SEARCH_CONFIGS[0], **_HEADLINE_OPTIONS),
            english=SearchHeadline(body, english, config=SEARCH_CONFIGS[1], **_HEADLINE_OPTIONS),
        )
        .values_list("conversation_id", "kind", "spanish", "english")
    )
    if subjects:
        # The subjects come in the same round trip (UNION ALL): the search page's query count
        # stays what it was before subjects were searched.
        subject = _without_sentinels(F("subject"))
        options = _SUBJECT_HEADLINE_OPTIONS
        matched_subjects = (
            Conversation.objects.for_tenant(tenant)
            .filter(subject_match(text), pk__in=ids)
            .annotate(
                kind=Value("subject"),
                spanish=SearchHeadline(subject, spanish, config=SEARCH_CONFIGS[0], **options),
                english=SearchHeadline(subject, english, config=SEARCH_CONFIGS[1], **options),
            )
            .values_list("pk", "kind", "spanish", "english")
        )
        rows = rows.union(matched_subjects, all=True)
    found: dict[str, dict[int, SafeString]] = {"body": {}, "subject": {}}
    for conversation_id, kind, in_spanish, in_english in rows:
        # Each language marks the words its own stemming matched; prefer the one that marked.
        best = in_spanish if _START in in_spanish or _START not in in_english else in_english
        found[kind][conversation_id] = highlight(best)
    return found["body"], found["subject"]


def _mark_substring(value: str, needle: str) -> SafeString | None:
    """``value`` with the first accent- and case-insensitive occurrence of ``needle`` marked."""
    if not value or not needle:
        return None
    folded_value, positions = _fold_with_positions(value)
    folded_needle, _ = _fold_with_positions(needle)
    start = folded_value.find(folded_needle) if folded_needle else -1
    if start < 0:
        return None
    begin, end = positions[start], positions[start + len(folded_needle) - 1] + 1
    return _marked(value, begin, end)


def _marked(value: str, begin: int, end: int) -> SafeString:
    return mark_safe(  # noqa: S308 - every piece is escaped
        f"{escape(value[:begin])}<mark>{escape(value[begin:end])}</mark>{escape(value[end:])}"
    )


def _fold_with_positions(value: str) -> tuple[str, list[int]]:
    """``value`` lower-cased without accents, and for each folded character its index in
    ``value`` (so that a match in the folded text maps back to the original)."""
    out: list[str] = []
    positions: list[int] = []
    for index, char in enumerate(value):
        base = "".join(
            c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)
        ).lower()
        for c in base:
            out.append(c)
            positions.append(index)
    return "".join(out), positions


def _mark_phone_digits(phone: str, digits: str) -> SafeString | None:
    """``phone`` (formatted: spaces, dashes, brackets) with the run of characters holding
    ``digits`` marked."""
    positions = [index for index, char in enumerate(phone) if char.isdigit()]
    start = "".join(phone[index] for index in positions).find(digits)
    if start < 0:
        return None
    return _marked(phone, positions[start], positions[start + len(digits) - 1] + 1)


def contact_match_highlight(contact: Contact, q: str, region: str = "") -> SafeString:
    """What to show for ``contact`` in search results: the name (or phone, formatted for
    ``region``, or email) with the part that matched ``q`` marked, escaped. Without a visible
    match, the contact's label."""
    text = clean_query(q)
    digits = phone_digits(text) if text else None
    if text:
        for value in (contact.name, contact.email):
            marked = _mark_substring(value, text)
            if marked is not None:
                return marked
        if digits and contact.phone:
            marked = _mark_phone_digits(format_phone(contact.phone, region), digits)
            if marked is None:
                # The national format leaves out the country code the search may include.
                marked = _mark_phone_digits(format_phone(contact.phone), digits)
            if marked is not None:
                return marked
    return escape(contact_display(contact, region))


def canned_responses_matching(
    tenant: Tenant, prefix: str, *, limit: int = 10
) -> list[CannedResponse]:
    """The composer's ``/prefix`` lookup: shortcuts starting with ``prefix`` first (by
    shortcut), then responses whose title contains it (case and accents ignored). A blank
    prefix lists the first ``limit`` shortcuts. One query."""
    text = " ".join((prefix or "").split()).lstrip("/").lower()[:MAX_QUERY_LENGTH]
    qs = CannedResponse.objects.for_tenant(tenant).order_by("shortcut", "id")
    if text:
        by_shortcut = Q(shortcut__startswith=text)
        qs = qs.filter(by_shortcut | Q(Contains(folded(F("title")), folded(Value(text)))))
        qs = qs.annotate(rank=Case(When(by_shortcut, then=Value(0)), default=Value(1)))
        qs = qs.order_by("rank", "shortcut", "id")
    return list(qs[:limit])
