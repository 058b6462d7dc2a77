"""Inbox search: message full-text (Spanish and English, accents ignored), email subjects,
contacts by name, email and phone digits, snippets, tenant isolation and query counts."""

import pytest

from contacts import search as contacts_search
from inbox.models import Conversation, Message
from inbox.search import (
    contact_match_highlight,
    matching_message_snippets,
    search_conversations,
    search_highlights,
)
from tests.inbox.api_factories import make_contact, make_conversation, make_inbox, make_message

pytestmark = pytest.mark.django_db


def found(tenant, q: str) -> list[int]:
    qs = Conversation.objects.for_tenant(tenant).order_by("-last_message_at", "-id")
    return list(search_conversations(qs, q, tenant=tenant).values_list("pk", flat=True))


@pytest.fixture
def inbox(tenant):
    return make_inbox(tenant)


def conversation_saying(inbox, body: str, **contact):
    conversation = make_conversation(inbox, make_contact(inbox.tenant, **contact))
    make_message(conversation, direction="in", body=body)
    return conversation


def test_it_finds_a_spanish_word_without_its_accent_and_with_it(inbox, tenant):
    arrived = conversation_saying(inbox, "Su paquete llegó ayer a la oficina")
    scheduled = conversation_saying(inbox, "La cita es el miercoles por la manana")
    conversation_saying(inbox, "Nada que ver")

    assert found(tenant, "llego") == [arrived.pk]
    assert found(tenant, "LLEGÓ") == [arrived.pk]
    assert found(tenant, "miércoles mañana") == [scheduled.pk]


def test_it_stems_english_and_spanish_words(inbox, tenant):
    booked = conversation_saying(inbox, "I booked the flights for Tuesday")
    travels = conversation_saying(inbox, "Viajamos a Madrid con los niños")

    assert found(tenant, "booking") == [booked.pk]
    assert found(tenant, "flight") == [booked.pk]
    assert found(tenant, "viajar") == [travels.pk]
    assert found(tenant, "niño") == [travels.pk]


def test_it_reads_the_query_like_a_web_search(inbox, tenant):
    both = conversation_saying(inbox, "The invoice and the receipt are attached")
    one = conversation_saying(inbox, "The invoice is late")

    assert found(tenant, "invoice receipt") == [both.pk]
    assert set(found(tenant, "invoice")) == {both.pk, one.pk}
    assert found(tenant, "invoice -receipt") == [one.pk]
    assert found(tenant, '"receipt are attached"') == [both.pk]
    # Operators and punctuation are never a syntax error.
    assert found(tenant, "((!& :* ' \\") == []


def test_it_searches_private_notes(inbox, tenant):
    conversation = make_conversation(inbox, make_contact(tenant))
    make_message(conversation, direction="out", body="VIP: refund approved", is_private=True)

    assert found(tenant, "refund") == [conversation.pk]


@pytest.mark.parametrize("q", ["5512 3456", "(415) 555", "0111", "+1 415-555-0111", "415.555"])
def test_it_finds_a_contact_by_phone_digits_in_any_format(inbox, tenant, q):
    make_conversation(inbox, make_contact(tenant, phone="+5215599990000"))
    mexico = make_conversation(inbox, make_contact(tenant, phone="+5215512345678"))
    us = make_conversation(inbox, make_contact(tenant, phone="+14155550111"))

    expected = {"5512 3456": [mexico.pk]}.get(q, [us.pk])
    assert found(tenant, q) == expected


def test_it_matches_phones_only_on_phone_like_queries_of_three_digits_or_more(inbox, tenant):
    make_conversation(inbox, make_contact(tenant, phone="+14155550111"))

    assert found(tenant, "41") == []
    assert found(tenant, "room 415") == []


def test_it_finds_a_contact_by_name_or_email_ignoring_case_and_accents(inbox, tenant):
    ana = make_conversation(inbox, make_contact(tenant, name="Ana García Núñez"))
    bob = make_conversation(inbox, make_contact(tenant, name="Bob", email="bob@Globex.example"))

    assert found(tenant, "garcia nu") == [ana.pk]
    assert found(tenant, "GARCÍA") == [ana.pk]
    assert found(tenant, "globex.EX") == [bob.pk]
    # LIKE wildcards in the query are literal characters.
    assert found(tenant, "%") == []
    assert found(tenant, "_") == []


def test_it_never_returns_another_tenants_conversations(tenant, other_tenant):
    mine = conversation_saying(make_inbox(tenant), "Quiero reservar una mesa", name="Ana")
    theirs = conversation_saying(
        make_inbox(other_tenant), "Quiero reservar una habitación", name="Ana"
    )

    assert found(tenant, "reservar") == [mine.pk]
    assert found(tenant, "ana") == [mine.pk]
    assert found(other_tenant, "reservar") == [theirs.pk]
    snippets = matching_message_snippets(tenant, [mine.pk, theirs.pk], "reservar")
    assert set(snippets) == {mine.pk}


def test_it_keeps_the_callers_ordering(inbox, tenant):
    older = make_conversation(inbox, make_contact(tenant), minutes_ago=60)
    newer = make_conversation(inbox, make_contact(tenant), minutes_ago=1)
    for conversation in (older, newer):
        make_message(conversation, direction="in", body="order status please")

    assert found(tenant, "status") == [newer.pk, older.pk]
    oldest_first = Conversation.objects.for_tenant(tenant).order_by("last_message_at")
    assert list(search_conversations(oldest_first, "status", tenant=tenant)) == [older, newer]


def test_it_leaves_the_queryset_alone_for_a_blank_query(inbox, tenant):
    conversation = make_conversation(inbox)
    assert found(tenant, "   ") == [conversation.pk]


def test_it_marks_the_match_of_the_latest_matching_message(inbox, tenant):
    conversation = make_conversation(inbox, make_contact(tenant))
    make_message(conversation, direction="in", body="Mi pedido no llegó", days_ago=2)
    make_message(conversation, direction="out", body="Su pedido llegó hoy", days_ago=1)
    make_message(conversation, direction="in", body="Gracias")

    snippets = matching_message_snippets(tenant, [conversation.pk], "llego")

    assert snippets == {conversation.pk: "Su pedido <mark>llegó</mark> hoy"}


def test_it_marks_english_stems_too(inbox, tenant):
    conversation = conversation_saying(inbox, "We booked your table for two")

    snippets = matching_message_snippets(tenant, [conversation.pk], "booking")

    assert snippets[conversation.pk] == "We <mark>booked</mark> your table for two"


def test_it_escapes_html_in_snippets(inbox, tenant):
    conversation = conversation_saying(
        inbox,
        'Hola <script>alert("x")</script> 1 < 2 \ue000factura\ue001 & <b>factura</b> '
        "<img src=x onerror=alert(1)>",
    )

    snippet = matching_message_snippets(tenant, [conversation.pk], "factura")[conversation.pk]

    assert snippet.count("<mark>factura</mark>") == 2
    markup = snippet.replace("<mark>", "").replace("</mark>", "")
    assert "<" not in markup and ">" not in markup
    assert "1 &lt; 2" in snippet
    assert "&amp;" in snippet
    assert "\ue000" not in snippet and "\ue001" not in snippet


def test_it_leaves_out_conversations_matched_only_on_the_contact(inbox, tenant):
    conversation = make_conversation(inbox, make_contact(tenant, name="Reserva Pérez"))
    make_message(conversation, direction="in", body="Hola")

    assert found(tenant, "reserva") == [conversation.pk]
    assert matching_message_snippets(tenant, [conversation.pk], "reserva") == {}


def test_it_searches_in_two_queries_and_builds_snippets_in_one(
    inbox, tenant, django_assert_num_queries
):
    conversations = []
    for n in range(6):
        conversation = make_conversation(inbox, make_contact(tenant, name=f"Cliente {n}"))
        for _ in range(3):
            make_message(conversation, direction="in", body=f"Necesito la factura {n}")
        conversations.append(conversation)
    qs = (
        Conversation.objects.for_tenant(tenant)
        .select_related("contact", "inbox")
        .order_by("-last_message_at", "-id")
    )
    ids = [c.pk for c in conversations]

    # The hits read through the indexes, then the list.
    with django_assert_num_queries(2):
        rows = list(search_conversations(qs, "factura", tenant=tenant))
        labels = [contact_match_highlight(row.contact, "factura") for row in rows]
    with django_assert_num_queries(1):
        snippets = matching_message_snippets(tenant, ids, "factura")

    assert sorted(row.pk for row in rows) == sorted(ids)
    assert len(labels) == 6
    assert set(snippets) == set(ids)


def test_it_highlights_the_matching_part_of_the_contact(tenant):
    ana = make_contact(tenant, name="Ana <b>García</b>", phone="+14155550111")

    assert contact_match_highlight(ana, "garcia") == "Ana &lt;b&gt;<mark>García</mark>&lt;/b&gt;"
    # The phone as people read it (national in the tenant's region), its matching digits marked.
    assert contact_match_highlight(ana, "(415) 555") == "+1 <mark>415-555</mark>-0111"
    assert contact_match_highlight(ana, "415555", "US") == "(<mark>415) 555</mark>-0111"
    assert contact_match_highlight(ana, "+1 415", "US") == "+<mark>1 415</mark>-555-0111"
    assert contact_match_highlight(ana, "zzz") == "Ana &lt;b&gt;García&lt;/b&gt;"


def test_it_keeps_the_search_vector_up_to_date_when_a_body_changes(inbox, tenant):
    conversation = conversation_saying(inbox, "primera versión")
    Message.objects.filter(conversation=conversation).update(body="segunda edición")

    assert found(tenant, "primera") == []
    assert found(tenant, "edicion") == [conversation.pk]


def test_it_finds_an_email_thread_by_a_word_of_its_subject(inbox, tenant):
    thread = make_conversation(inbox, make_contact(tenant), subject="Facturación de diciembre")
    make_message(thread, direction="in", body="Adjunto el documento")
    booked = make_conversation(inbox, make_contact(tenant), subject="Booked flights to Lima")
    conversation_saying(inbox, "Nada que ver")

    assert found(tenant, "facturacion") == [thread.pk]
    assert found(tenant, "DICIEMBRE") == [thread.pk]
    assert found(tenant, "flight") == [booked.pk]
    assert found(tenant, "diciembre -facturación") == []


def test_it_never_matches_another_tenants_subjects(tenant, other_tenant):
    mine = make_conversation(make_inbox(tenant), subject="Presupuesto boda")
    theirs = make_conversation(make_inbox(other_tenant), subject="Presupuesto congreso")

    assert found(tenant, "presupuesto") == [mine.pk]
    assert found(tenant, "congreso") == []
    assert found(other_tenant, "presupuesto") == [theirs.pk]
    snippets, subjects = search_highlights(tenant, [mine.pk, theirs.pk], "presupuesto")
    assert set(subjects) == {mine.pk} and snippets == {}


def test_it_marks_the_matched_words_of_the_subject_escaped(inbox, tenant):
    thread = make_conversation(inbox, subject="Reservas & pagos: 1 < 2 para el evento")
    make_message(thread, direction="in", body="La reserva está confirmada")

    snippets, subjects = search_highlights(tenant, [thread.pk], "reserva")

    assert subjects == {thread.pk: "<mark>Reservas</mark> &amp; pagos: 1 &lt; 2 para el evento"}
    assert snippets == {thread.pk: "La <mark>reserva</mark> está confirmada"}


def test_it_searches_subjects_in_two_queries_and_builds_all_highlights_in_one(
    inbox, tenant, django_assert_num_queries
):
    ids = [make_conversation(inbox, subject=f"Factura {n}").pk for n in range(3)]
    for n in range(3):
        ids.append(conversation_saying(inbox, f"Necesito la factura {n}").pk)
    qs = Conversation.objects.for_tenant(tenant).order_by("-last_message_at", "-id")

    with django_assert_num_queries(2):
        rows = list(search_conversations(qs, "factura", tenant=tenant))
    with django_assert_num_queries(1):
        snippets, subjects = search_highlights(tenant, ids, "factura")

    assert sorted(row.pk for row in rows) == sorted(ids)
    assert set(subjects) == set(ids[:3]) and set(snippets) == set(ids[3:])


@pytest.fixture
def mixed_hits(inbox, tenant, other_tenant):
    """Conversations found by a message, a subject, a contact name and a phone, in both
    tenants, at spread-out times so that the order is checked too."""
    rows = []
    for n, minutes in enumerate((50, 10, 40, 20, 30)):
        conversation = make_conversation(
            inbox,
            make_contact(tenant, name=f"Reserva {n}" if n == 2 else f"Cliente {n}",
                         phone=f"+1415555{n:04d}"),
            minutes_ago=minutes,
            subject="Reserva confirmada" if n == 1 else "",
        )  # fmt: skip
        make_message(conversation, direction="in", body="Quiero una reserva" if n % 2 else "Hola")
        rows.append(conversation)
    theirs = make_inbox(other_tenant)
    for n in range(3):
        make_message(
            make_conversation(theirs, make_contact(other_tenant, phone=f"+1415555{n:04d}"),
                              subject="Reserva"),
            direction="in",
            body="Una reserva más",
        )  # fmt: skip
    return rows


@pytest.mark.parametrize("q", ["reserva", "415 555", "cliente", "hola -reserva", "nada"])
def test_it_finds_the_same_conversations_in_the_same_order_through_the_index_or_row_by_row(
    tenant, other_tenant, mixed_hits, monkeypatch, q
):
    index_first = found(tenant, q)
    # With room for no hit, every kind that has one is checked on each row instead.
    monkeypatch.setattr(contacts_search, "INDEX_FIRST_HITS", 0)
    row_by_row = found(tenant, q)
    # One hit kept by id, the others checked on each row.
    monkeypatch.setattr(contacts_search, "INDEX_FIRST_HITS", 1)
    mixed = found(tenant, q)

    assert index_first == row_by_row == mixed
    assert set(index_first) <= {row.pk for row in mixed_hits}
    expected = {
        "reserva": [1, 3, 2],  # subject and message, message, contact name; latest first
        "415 555": [1, 3, 4, 2, 0],
        "cliente": [1, 3, 4, 0],
        "hola -reserva": [4, 2, 0],
        "nada": [],
    }[q]
    assert index_first == [mixed_hits[n].pk for n in expected]


def test_it_reads_a_rare_term_through_the_index_and_a_common_one_row_by_row(
    inbox, tenant, mixed_hits, monkeypatch
):
    qs = Conversation.objects.for_tenant(tenant).order_by("-last_message_at", "-id")
    monkeypatch.setattr(contacts_search, "INDEX_FIRST_HITS", 2)

    rare = str(search_conversations(qs, "cliente 4", tenant=tenant).query)
    common = str(search_conversations(qs, "cliente", tenant=tenant).query)

    # The rare term's conversations are kept by id: no text condition is left for each row.
    assert "= ANY(" in rare and "LIKE" not in rare and "@@" not in rare
    assert "LIKE" in common and "= ANY(" not in common


def test_a_term_common_in_another_tenant_is_still_read_through_the_index_here(
    inbox, tenant, other_tenant, monkeypatch
):
    mine = conversation_saying(inbox, "Una queja formal")
    theirs = make_inbox(other_tenant)
    for _ in range(3):
        conversation_saying(theirs, "Otra queja formal")
    monkeypatch.setattr(contacts_search, "INDEX_FIRST_HITS", 2)
    qs = Conversation.objects.for_tenant(tenant).order_by("-last_message_at", "-id")

    searched = search_conversations(qs, "queja", tenant=tenant)

    assert "= ANY(" in str(searched.query) and "@@" not in str(searched.query)
    assert list(searched) == [mine]


def test_a_term_found_nowhere_costs_only_the_index_read(inbox, tenant, django_assert_num_queries):
    conversation_saying(inbox, "Hola")
    qs = Conversation.objects.for_tenant(tenant).order_by("-last_message_at", "-id")

    with django_assert_num_queries(1):
        assert list(search_conversations(qs, "ornitorrinco", tenant=tenant)) == []
