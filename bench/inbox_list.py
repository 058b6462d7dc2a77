"""Inbox reads at scale: the conversation list, a thread and search over 1M messages.

    .venv/bin/python bench/inbox_list.py [--conversations 100000] [--messages-per 10]
                                         [--contacts 1000000] [--requests 100] [--keep]

Seeds a throw-away test database on the configured (or embedded) PostgreSQL with PostgreSQL
COPY, not the ORM: contacts, conversations and messages in Spanish and English (so full-text
search sees common and rare words), plus a second tenant with a quarter as much data so that
tenant filters and shared indexes are honest. Secondary indexes are dropped during the load and
rebuilt after it, as for any bulk load. Then it times requests through Django's test client
(whole request in-process: auth, tenant, selectors, serialisation) and prints p50/p95/p99 and
queries per request for:

- the API conversation list, page 1 and a deep page (the cursor after 50 pages);
- a conversation's messages (API);
- search (API ``q``) for a common word, a rare word, a word of email subjects and four digits
  of a phone, and the highlighted snippets of the first result page
  (``inbox.search.matching_message_snippets``);
- the browser list at ``/inbox/`` when the inbox UI (``inbox.views``) exists;
- the contacts list's search (``/contacts/?q=``: name, email, any of a contact's phones) over
  a third tenant's ``--contacts`` contacts (1M by default), generated inside PostgreSQL.

Each p95 is printed beside issue 19's goal, and beside the unfiltered lists of the same run (a
search cannot cost less than the list it narrows).
"""

import argparse
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omnichannel.settings")
os.environ.setdefault("CENTRO_TESTING", "true")
os.environ.setdefault("ALLOWED_HOSTS", "testserver")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402

RARE_WORD = "ornitorrinco"  # in a handful of messages
COMMON_WORD = "gracias"  # in roughly one message in five
SUBJECT_WORD = "itinerario"  # in the subject of about one email thread in six, in no body
SUBJECTS = [
    "Consulta sobre mi reserva",
    "Itinerario actualizado del viaje",
    "Invoice for November",
    "Cambio de fecha",
    "Booking confirmation",
    "Reclamación por cobro duplicado",
]
DEEP_PAGES = 50
PAGE = 25

FIRST_NAMES = [
    "Ana", "José", "María", "Lucía", "Andrés", "Sofía", "Martín", "Valentina", "Ramón", "Inés",
    "John", "Emily", "Michael", "Sarah", "David", "Olivia", "James", "Chloé", "Noah", "Zoë",
]  # fmt: skip
LAST_NAMES = [
    "García", "Rodríguez", "Martínez", "Hernández", "López", "González", "Pérez", "Sánchez",
    "Ramírez", "Núñez", "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis",
    "Wilson", "Anderson", "O'Brien",
]  # fmt: skip
SPANISH = [
    "Hola, ¿mi pedido ya salió? Llevo tres días esperando.",
    "Buenos días, quiero cambiar la fecha de mi reserva para el miércoles.",
    "Muchas gracias por su ayuda, todo llegó perfecto.",
    "¿Pueden enviarme la factura del mes pasado?",
    "El paquete llegó dañado, ¿cómo hago la devolución?",
    "Gracias, quedo atento a su respuesta.",
    "¿A qué hora abren mañana la oficina del centro?",
    "Necesito hablar con un asesor sobre mi cuenta.",
    "Perfecto, confirmo la cita del jueves a las diez.",
    "No he recibido el código de verificación.",
    "¿Tienen habitaciones disponibles para dos personas en diciembre?",
    "Le escribo porque el cobro aparece duplicado en mi tarjeta.",
]
ENGLISH = [
    "Hi, has my order shipped yet? It has been three days.",
    "Thanks so much, the booking is confirmed for Tuesday.",
    "Can you send me last month's invoice, please?",
    "The package arrived damaged, how do I return it?",
    "What time do you open tomorrow?",
    "I booked two tickets but only received one confirmation email.",
    "Great, thank you for the quick answer!",
    "My card was charged twice for the same reservation.",
    "Could someone call me back about my account?",
    "Is breakfast included with the room?",
]
AGENT_REPLIES = [
    "Con gusto, ya revisamos su pedido y sale hoy por la tarde.",
    "Gracias por escribirnos, le envío la factura en un momento.",
    "Thanks for reaching out! I've updated your booking.",
    "Sorry about that, we've issued a refund to your card.",
    "Su reserva quedó confirmada, gracias por su paciencia.",
    "I'm checking with the warehouse and will get back to you shortly.",
]


def percentile(sorted_values: list[float], fraction: float) -> float:
    index = max(0, min(len(sorted_values) - 1, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


def measure(label: str, call, requests: int, rows: list, goal: float | None = None) -> None:
    """Time ``call``; ``goal`` is the p95 issue 19 asks for, printed beside it."""
    call()  # warm up caches and connections
    timings = []
    with CaptureQueriesContext(connection) as queries:
        for _ in range(requests):
            started = time.perf_counter()
            response = call()
            timings.append((time.perf_counter() - started) * 1000)
            status = getattr(response, "status_code", 200)
            assert status == 200, (label, status, getattr(response, "content", b"")[:500])
    timings.sort()
    rows.append(
        (
            label,
            requests,
            statistics.median(timings),
            percentile(timings, 0.95),
            percentile(timings, 0.99),
            len(queries) / requests,
            goal,
        )
    )
    print(
        f"  {label:<44} p50={rows[-1][2]:7.2f} ms  p95={rows[-1][3]:7.2f}  "
        f"p99={rows[-1][4]:7.2f}  queries={rows[-1][5]:.1f}",
        flush=True,
    )


# --- Seeding ------------------------------------------------------------------------------------


def _copy(cursor, table: str, columns: list[str], rows) -> int:
    count = 0
    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    with cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


SEEDED_TABLES = (
    "contacts_contact",
    "contacts_contactphone",
    "contacts_contactemail",
    "inbox_conversation",
    "inbox_message",
)


def _secondary_indexes(cursor) -> list[tuple[str, str]]:
    """(name, definition) of the seeded tables' indexes that back no constraint."""
    cursor.execute(
        """
        SELECT i.indexname, i.indexdef FROM pg_indexes i
        WHERE i.schemaname = 'public' AND i.tablename = ANY(%s)
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)
        """,
        [list(SEEDED_TABLES)],
    )
    return cursor.fetchall()


def seed_tenant(cursor, rng: random.Random, *, tenant, inboxes, agents, conversations: int,
                messages_per: int, first_id: dict, rare_ids: set[int]) -> None:  # fmt: skip
    """COPY ``conversations`` contacts and conversations and ``messages_per`` messages each."""
    start = datetime(2025, 1, 1, tzinfo=UTC)
    span = 365 * 24 * 3600
    contact_base, conversation_base, message_base = (
        first_id["contact"],
        first_id["conversation"],
        first_id["message"],
    )

    def contacts():
        for n in range(conversations):
            name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
            # Unique per tenant: the contact number n is in the last seven digits.
            if n % 3 == 0:
                phone = f"+52155{rng.randrange(10)}{n:07d}"
            else:
                phone = f"+1{rng.randrange(200, 999)}{n:07d}"
            email = f"{name.split()[0].lower()}.{n}@example.com" if n % 2 else ""
            moment = start + timedelta(seconds=rng.randrange(span))
            first, last = name.split(" ", 1)
            yield (contact_base + n, tenant.pk, name, first, last, phone, email, moment, moment)

    # The CRM's other columns have no database default: blank text, empty JSON.
    blank = [
        "address_line1", "address_line2", "city", "region", "postal_code", "country",
        "timezone", "preferred_channel", "language", "inferred_gender",
    ]  # fmt: skip
    columns = ["id", "tenant_id", "name", "first_name", "last_name", "phone", "email"]
    _copy(
        cursor,
        "contacts_contact",
        [*columns, "created_at", "updated_at", *blank, "external_ids", "attributes", "created_via"],
        (row + ("",) * len(blank) + ("{}", "{}", "inbound") for row in contacts()),
    )

    statuses = ["open"] * 5 + ["pending"] * 2 + ["closed"] * 3
    conversation_rows = []
    message_rows = []
    message_id = message_base
    for n in range(conversations):
        conversation_id = conversation_base + n
        inbox = rng.choice(inboxes)
        created = start + timedelta(seconds=rng.randrange(span))
        moment = created
        last_inbound = None
        for m in range(messages_per):
            moment += timedelta(seconds=rng.randrange(30, 6 * 3600))
            inbound = m % 2 == 0
            if inbound:
                body = rng.choice(SPANISH if rng.random() < 0.6 else ENGLISH)
                last_inbound = moment
            else:
                body = rng.choice(AGENT_REPLIES)
            private = not inbound and rng.random() < 0.03
            if message_id in rare_ids:
                body = f"Vi un {RARE_WORD} en el hotel, ¿es normal?"
            message_rows.append(
                (
                    message_id, tenant.pk, conversation_id, inbox.pk,
                    "in" if inbound else "out",
                    "contact" if inbound else "agent",
                    None if inbound else rng.choice(agents).pk,
                    body, "", private, "",
                    "received" if inbound else rng.choice(["sent", "delivered", "read"]),
                    "", "", "{}", moment, "", "",
                )
            )  # fmt: skip
            message_id += 1
        assignee = rng.choice(agents).pk if rng.random() < 0.7 else None
        conversation_rows.append(
            (
                conversation_id, tenant.pk, inbox.pk, contact_base + n,
                statuses[n % len(statuses)] if n % 37 else "closed",
                rng.randrange(5), assignee,
                moment if messages_per else None, last_inbound,
                created + timedelta(minutes=5) if messages_per > 1 else None, created,
                rng.choice(SUBJECTS) if inbox.kind == "email" else "", "", "[]",
            )
        )  # fmt: skip
        if len(message_rows) >= 50_000:
            _copy_messages(cursor, message_rows)
            message_rows = []
    _copy_messages(cursor, message_rows)
    _copy(
        cursor,
        "inbox_conversation",
        ["id", "tenant_id", "inbox_id", "contact_id", "status", "priority", "assignee_id",
         "last_message_at", "last_inbound_at", "first_response_at", "created_at", "subject",
         "external_thread_id", "participants"],
        conversation_rows,
    )  # fmt: skip
    first_id["contact"] += conversations
    first_id["conversation"] += conversations
    first_id["message"] = message_id


RARE_SURNAME = "Villalobos"  # in the names of a handful of the contacts tenant's contacts


def seed_contacts(cursor, *, tenant, count: int, first_id: int) -> None:
    """``count`` contacts for the contacts list's search, generated inside PostgreSQL: a name
    from the lists above (a few with ``RARE_SURNAME``), an email for every other one, a
    primary phone, and for one in five a second (work) number, the "any phone" of the
    search. Primary phones and emails are also rows of their own tables, as the app keeps
    them."""
    cursor.execute(
        """
        INSERT INTO contacts_contact (
            id, tenant_id, name, first_name, last_name, phone, email, created_at, updated_at,
            address_line1, address_line2, city, region, postal_code, country, timezone,
            preferred_channel, language, inferred_gender, external_ids, attributes, created_via)
        SELECT %(base)s + g, %(tenant)s, first || ' ' || last, first, last,
               '+1' || (200 + g %% 800) || lpad(g::text, 7, '0'),
               CASE WHEN g %% 2 = 1 THEN lower(first) || '.' || g || '@example.com' ELSE '' END,
               moment, moment, '', '', '', '', '', '', '', '', '', '', '{}', '{}', 'import'
        FROM (
            SELECT g,
                   (%(first)s::text[])[1 + g %% 20] AS first,
                   CASE WHEN g %% 199999 = 7 THEN %(rare)s
                        ELSE (%(last)s::text[])[1 + (g / 20) %% 20] END AS last,
                   timestamptz '2025-01-01' + (g * 31.536 * interval '1 second') AS moment
            FROM generate_series(0, %(count)s - 1) AS g
        ) generated
        """,
        {"base": first_id, "tenant": tenant.pk, "count": count, "first": FIRST_NAMES,
         "last": LAST_NAMES, "rare": RARE_SURNAME},
    )  # fmt: skip
    cursor.execute(
        """
        INSERT INTO contacts_contactphone
            (tenant_id, contact_id, number, kind, is_primary, created_at)
        SELECT tenant_id, id, phone, 'mobile', true, created_at FROM contacts_contact
        WHERE tenant_id = %(tenant)s
        UNION ALL
        SELECT tenant_id, id, '+447' || lpad((id - %(base)s)::text, 9, '0'), 'work', false,
               created_at
        FROM contacts_contact WHERE tenant_id = %(tenant)s AND (id - %(base)s) %% 5 = 0
        """,
        {"tenant": tenant.pk, "base": first_id},
    )
    cursor.execute(
        """
        INSERT INTO contacts_contactemail (tenant_id, contact_id, email, is_primary, created_at)
        SELECT tenant_id, id, email, true, created_at FROM contacts_contact
        WHERE tenant_id = %(tenant)s AND email <> ''
        """,
        {"tenant": tenant.pk},
    )


def _copy_messages(cursor, rows: list) -> None:
    _copy(
        cursor,
        "inbox_message",
        ["id", "tenant_id", "conversation_id", "inbox_id", "direction", "sender_type",
         "author_id", "body", "body_html", "is_private", "external_id", "status", "error_code",
         "error_message", "metadata", "created_at", "email_message_id",
         "subject"],
        rows,
    )  # fmt: skip


def seed(conversations: int, messages_per: int, contacts: int):
    from inbox.models import Inbox
    from omnichannel.actions import do_create_api_token, do_create_tenant, get_or_create_user
    from omnichannel.models import Membership, Role

    rng = random.Random(42)  # noqa: S311 - reproducible data, not secrets
    tenant, membership = do_create_tenant(name="Bench", owner_email="bench@example.test")
    other, _ = do_create_tenant(name="Other", owner_email="other@example.test")
    address_book, book_owner = do_create_tenant(
        name="Contacts", owner_email="contacts@example.test"
    )
    setups = []
    for t, count in ((tenant, conversations), (other, max(1, conversations // 4))):
        agents = []
        for n in range(10):
            user, _ = get_or_create_user(f"agent{n}@{t.slug}.example.test")
            Membership.objects.create(
                tenant=t, user=user, role=Role.objects.get(tenant=t, builtin="agent")
            )
            agents.append(user)
        inboxes = [
            Inbox.objects.create(tenant=t, name=kind, kind=kind, provider="twilio", address=addr)
            for kind, addr in (
                ("sms", f"+1415555{t.pk:04d}"),
                ("whatsapp", f"+1415556{t.pk:04d}"),
                ("email", f"support{t.pk}@example.test"),
            )
        ]
        setups.append((t, count, agents, inboxes))
    _, raw = do_create_api_token(
        tenant, name="bench", role=Role.objects.get(tenant=tenant, builtin="owner")
    )

    total_messages = sum(count for _, count, _, _ in setups) * messages_per
    rare_ids = {1 + rng.randrange(max(1, total_messages)) for _ in range(5)}
    started = time.perf_counter()
    with connection.cursor() as django_cursor:
        cursor = django_cursor.cursor  # psycopg's own cursor: COPY
        indexes = _secondary_indexes(cursor)
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        # Rows are generated consistent; skip per-row foreign key triggers during the load.
        cursor.execute("SET session_replication_role = replica")
        first_id = {"contact": 1, "conversation": 1, "message": 1}
        for t, count, agents, inboxes in setups:
            seed_tenant(
                cursor, rng, tenant=t, inboxes=inboxes, agents=agents, conversations=count,
                messages_per=messages_per, first_id=first_id, rare_ids=rare_ids,
            )  # fmt: skip
        seed_contacts(cursor, tenant=address_book, count=contacts, first_id=first_id["contact"])
        cursor.execute("SET session_replication_role = DEFAULT")
        loaded = time.perf_counter()
        cursor.execute("SET maintenance_work_mem = '256MB'")
        for _, definition in indexes:
            cursor.execute(definition)
        for table in SEEDED_TABLES:
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608 - constant
                f"(SELECT coalesce(max(id), 1) FROM {table}))"
            )
        for table in SEEDED_TABLES:
            cursor.execute(f"VACUUM ANALYZE {table}")
        done = time.perf_counter()
        cursor.execute("SELECT pg_size_pretty(pg_total_relation_size('inbox_message'))")
        size = cursor.fetchone()[0]
    print(
        f"Seeded {sum(c for _, c, _, _ in setups):,} conversations and {total_messages:,} "
        f"messages (2 tenants) with COPY in {loaded - started:.1f} s, indexes and ANALYZE in "
        f"{done - loaded:.1f} s; messages table {size}; {contacts:,} contacts in a third tenant "
        "for the contacts list.",
        flush=True,
    )
    return tenant, membership.user, raw, address_book, book_owner.user


# --- Measuring ----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--messages-per", type=int, default=10)
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--keep", action="store_true", help="keep the test database")
    args = parser.parse_args()

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        run(args)
    finally:
        if args.keep:
            print(f"Kept database {connection.settings_dict['NAME']}.")
        else:
            connection.creation.destroy_test_db(old_name, verbosity=0)


def run(args) -> None:
    from contacts.models import Contact
    from inbox.models import Conversation
    from inbox.search import matching_message_snippets

    tenant, owner, raw, address_book, book_owner = seed(
        args.conversations, args.messages_per, args.contacts
    )
    api = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    n = args.requests
    rows: list = []

    def list_page(**params):
        return api.get("/api/v1/conversations", {"limit": PAGE, **params})

    cursor = None
    for _ in range(DEEP_PAGES):
        cursor = list_page(**({"cursor": cursor} if cursor else {})).json()["next_cursor"]
        if cursor is None:
            break
    busiest = Conversation.objects.for_tenant(tenant).order_by("-last_message_at", "-id").first()
    contacts = Contact.objects.for_tenant(tenant).order_by("id")
    phone = contacts.values_list("phone", flat=True)[args.conversations * 7 // 10]
    fragment = phone[-6:-2]  # four digits from the middle of a real phone number
    found_common = [c["id"] for c in list_page(q=COMMON_WORD).json()["items"]]
    found_rare = list_page(q=RARE_WORD).json()["items"]
    found_phone = list_page(q=fragment).json()["items"]
    print(
        f"Search hits on page 1: “{COMMON_WORD}” {len(found_common)}, “{RARE_WORD}” "
        f"{len(found_rare)}, phone digits “{fragment}” {len(found_phone)}.",
        flush=True,
    )

    print(f"Timing {n} requests each:", flush=True)
    measure("API list, page 1", lambda: list_page(), n, rows)
    if cursor:
        deep = f"API list, page {DEEP_PAGES + 1} (cursor)"
        measure(deep, lambda: list_page(cursor=cursor), n, rows)
    measure(
        "API conversation messages (50)",
        lambda: api.get(f"/api/v1/conversations/{busiest.pk}/messages", {"limit": 50}),
        n,
        rows,
    )
    measure(f"API search common word “{COMMON_WORD}”", lambda: list_page(q=COMMON_WORD), n, rows)
    measure(f"API search rare word “{RARE_WORD}”", lambda: list_page(q=RARE_WORD), n, rows, 20)
    measure(
        f"API search subject word “{SUBJECT_WORD}”", lambda: list_page(q=SUBJECT_WORD), n, rows, 20
    )
    measure(f"API search phone digits “{fragment}”", lambda: list_page(q=fragment), n, rows, 10)
    measure(
        "snippets for a search page (25)",
        lambda: matching_message_snippets(tenant, found_common, COMMON_WORD),
        n,
        rows,
    )
    browser = Client(raise_request_exception=False)
    browser.force_login(owner)
    pages = [
        ("UI /inbox/ list", "/inbox/", {}, 30),
        (f"UI /inbox/ list search “{COMMON_WORD}”", "/inbox/", {"q": COMMON_WORD}, None),
        ("UI conversation page (busiest)", f"/inbox/c/{busiest.pk}/", {}, 40),
        ("UI conversation, htmx swap", f"/inbox/c/{busiest.pk}/", {"_htmx": "1"}, None),
    ]
    measure_pages(browser, pages, n, rows)
    if args.contacts:
        measure_contacts_search(address_book, book_owner, n, rows)

    print()
    print(
        f"| {'request':<44} | {'n':>4} | {'p50 ms':>7} | {'p95 ms':>7} | {'p99 ms':>7} | queries "
        "| goal p95 |"
    )
    print(f"|{'-' * 46}|{'-' * 6}|{'-' * 9}|{'-' * 9}|{'-' * 9}|---------|----------|")
    for label, count, p50, p95, p99, queries, goal in rows:
        numbers = f"{p50:7.2f} | {p95:7.2f} | {p99:7.2f} | {queries:7.1f}"
        print(f"| {label:<44} | {count:>4} | {numbers} | {f'≤ {goal:g}' if goal else '':>8} |")
    p95 = {row[0]: row[3] for row in rows}
    print(
        f"\nCeilings of this run (a search narrows a list, it cannot cost less than the list): "
        f"API list page 1 p95 {p95['API list, page 1']:.2f} ms; "
        f"UI /contacts/ list p95 {p95.get('UI /contacts/ list', float('nan')):.2f} ms."
    )


def measure_pages(browser, pages: list, n: int, rows: list) -> None:
    for label, path, params, goal in pages:
        headers = {"HX-Request": "true"} if params.pop("_htmx", None) else {}
        probe = browser.get(path, params, headers=headers)
        if probe.status_code != 200:
            print(f"  ({path} answered {probe.status_code}: not measured)")
            continue
        call = lambda a=path, p=params, h=headers: browser.get(a, p, headers=h)  # noqa: E731
        measure(label, call, n, rows, goal)


def measure_contacts_search(tenant, owner, n: int, rows: list) -> None:
    """The contacts list's search box over the third tenant's contacts: a rare surname, a
    common one, an email and the digits of a second (not primary) phone."""
    from contacts.models import Contact, ContactPhone

    book = Contact.objects.for_tenant(tenant)
    count = book.count()
    email = book.exclude(email="").order_by("id").values_list("email", flat=True)[count // 4]
    work = ContactPhone.objects.for_tenant(tenant).filter(is_primary=False).order_by("id")
    number = work.values_list("number", flat=True)[work.count() * 7 // 10]
    digits = f"{number[-10:-6]} {number[-6:]}"  # as typed, without the country code
    browser = Client(raise_request_exception=False)
    browser.force_login(owner)
    label = f"UI /contacts/ search ({count:,})"
    pages = [
        ("UI /contacts/ list", "/contacts/", {}, None),
        (f"{label} name “{RARE_SURNAME}”", "/contacts/", {"q": RARE_SURNAME}, None),
        (f"{label} common name “García”", "/contacts/", {"q": "García"}, None),
        (f"{label} email", "/contacts/", {"q": email.split("@")[0] + "@"}, None),
        (f"{label} other phone", "/contacts/", {"q": digits}, None),
    ]
    measure_pages(browser, pages, n, rows)


if __name__ == "__main__":
    main()
