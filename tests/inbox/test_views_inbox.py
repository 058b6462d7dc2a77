"""The browser inbox's pages: the list, a conversation, the contact panel; tenancy and speed."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from contacts.models import Consent
from inbox.actions.labels import do_label_conversation
from inbox.actions.macros import do_add_macro_step, do_create_macro
from inbox.actions.read_state import do_mark_read, do_set_pinned
from inbox.models import Attachment, Conversation, Macro, Message, ReadState
from omnichannel.labels import do_create_label
from omnichannel.models import Membership
from tests.inbox.api_factories import make_contact, make_conversation, make_inbox, make_message

pytestmark = [pytest.mark.django_db, pytest.mark.clock]

HTMX = {"HX-Request": "true"}


def row_ids(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<li id="conv-(\d+)"', html)]


def make_rows(inbox, count: int) -> list[Conversation]:
    rows = []
    for index in range(count):
        conversation = make_conversation(inbox, minutes_ago=index + 1)
        make_message(conversation, direction="in", body=f"Question {index}")
        rows.append(conversation)
    return rows


def count_queries(client, url: str, **kwargs) -> int:
    """Queries of one GET of ``url``, after a first one (session and cache warm-up)."""
    client.get(url, **kwargs)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, **kwargs)
    assert response.status_code == 200, response.content.decode()[:2000]
    return len(queries)


# --- the list -----------------------------------------------------------------------------------


def test_it_lists_the_tenants_conversations_most_recent_first(tenant, owner, login):
    inbox = make_inbox(tenant)
    older = make_conversation(inbox, make_contact(tenant, name="Older"), minutes_ago=60)
    newer = make_conversation(inbox, make_contact(tenant, name="Newer"), minutes_ago=5)
    make_message(newer, direction="in", body="Is my table ready?")

    response = login(owner).get("/inbox/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "<h1>Inbox</h1>" in html
    assert row_ids(html) == [newer.pk, older.pk]
    assert "Is my table ready?" in html
    assert "5m ago" in html and "1h ago" in html
    assert 'class="channel-badge ch-sms"' in html


def test_it_shows_a_phone_in_national_format_when_there_is_no_name(tenant, owner, login):
    inbox = make_inbox(tenant)
    make_conversation(inbox, make_contact(tenant, name="", phone="+14155550111"))

    html = login(owner).get("/inbox/").content.decode()

    assert "(415) 555-0111" in html  # the tenant is in the US: national


def test_it_never_lists_another_tenants_conversations(tenant, other_tenant, owner, login):
    mine = make_conversation(make_inbox(tenant))
    theirs = make_conversation(make_inbox(other_tenant), make_contact(other_tenant, name="Secret"))

    html = login(owner).get("/inbox/?status=any").content.decode()

    assert row_ids(html) == [mine.pk]
    assert "Secret" not in html
    assert theirs.pk not in row_ids(html)


def test_it_filters_by_view_status_inbox_and_priority(tenant, owner, make_member, login):
    sms, whatsapp = make_inbox(tenant), make_inbox(tenant, kind="whatsapp")
    colleague = make_member(tenant, "agent")
    mine = make_conversation(sms, assignee=owner, priority=Conversation.Priority.HIGH)
    theirs = make_conversation(whatsapp, assignee=colleague)
    nobodys = make_conversation(sms)
    closed = make_conversation(sms, status=Conversation.Status.CLOSED)
    client = login(owner)

    def ids(query: str) -> set[int]:
        return set(row_ids(client.get(f"/inbox/?{query}").content.decode()))

    assert ids("") == {mine.pk, theirs.pk, nobodys.pk}
    assert ids("view=mine") == {mine.pk}
    assert ids("view=unassigned") == {nobodys.pk}
    assert ids("status=closed") == {closed.pk}
    assert ids("status=any") == {mine.pk, theirs.pk, nobodys.pk, closed.pk}
    assert ids(f"inbox={whatsapp.pk}") == {theirs.pk}
    assert ids("channel=whatsapp") == {theirs.pk}
    assert ids("priority=3") == {mine.pk}
    assert ids("view=bogus&status=bogus&priority=x") == {mine.pk, theirs.pk, nobodys.pk}


def test_it_counts_unread_messages_for_this_agent_only(tenant, owner, make_member, login):
    inbox = make_inbox(tenant)
    conversation = make_conversation(inbox)
    make_message(conversation, direction="in", body="one")
    colleague = make_member(tenant, "agent")
    do_mark_read(conversation, colleague)
    make_message(conversation, direction="in", body="two")
    make_message(conversation, direction="out", body="our reply")

    mine = login(owner).get("/inbox/").content.decode()
    theirs = login(colleague).get("/inbox/").content.decode()

    assert re.search(r"Unread messages: </span>2<", mine)
    assert re.search(r"Unread messages: </span>1<", theirs)


def test_it_puts_this_agents_pinned_conversations_on_top(tenant, owner, make_member, login):
    inbox = make_inbox(tenant)
    older, newer = make_conversation(inbox, minutes_ago=50), make_conversation(inbox, minutes_ago=1)
    do_set_pinned(older, owner, pinned=True)

    assert row_ids(login(owner).get("/inbox/").content.decode()) == [older.pk, newer.pk]
    colleague = make_member(tenant, "agent")
    assert row_ids(login(colleague).get("/inbox/").content.decode()) == [newer.pk, older.pk]


def test_it_loads_more_with_a_cursor_without_repeating_rows(tenant, owner, login):
    rows = make_rows(make_inbox(tenant), 30)
    client = login(owner)

    first = client.get("/inbox/").content.decode()
    cursor = re.search(r'hx-get="/inbox/\?cursor=([^"]+)"', first).group(1)
    more = client.get(f"/inbox/?cursor={cursor}", headers=HTMX).content.decode()

    assert row_ids(first) == [c.pk for c in rows[:25]]
    assert row_ids(more) == [c.pk for c in rows[25:]]
    assert "<html" not in more and "Load more" not in more
    assert client.get("/inbox/?cursor=garbage").status_code == 400


def test_it_answers_htmx_with_the_piece_it_asked_for(tenant, owner, login):
    make_rows(make_inbox(tenant), 2)
    client = login(owner)

    pane = client.get("/inbox/?view=mine", headers=HTMX).content.decode()
    results = client.get(
        "/inbox/?q=Question", headers={**HTMX, "HX-Target": "conversation-results"}
    ).content.decode()

    assert pane.lstrip().startswith('<section id="list-pane"') and "<html" not in pane
    assert results.lstrip().startswith('<div id="conversation-results"')
    assert 'id="view-tabs" class="view-tabs" aria-label="Views" hx-swap-oob="true"' in results


def test_it_searches_messages_and_highlights_the_match(tenant, owner, login):
    inbox = make_inbox(tenant)
    found = make_conversation(inbox, make_contact(tenant, name="Ana"))
    make_message(found, direction="in", body="¿Llegó mi reserva para mañana?")
    other = make_conversation(inbox, make_contact(tenant, name="Bob"))
    make_message(other, direction="in", body="Thanks!")

    html = login(owner).get("/inbox/?q=reserva").content.decode()

    assert row_ids(html) == [found.pk]
    assert "<mark>reserva</mark>" in html


def test_it_finds_an_email_thread_by_its_subject_and_marks_it(tenant, owner, login):
    inbox = make_inbox(tenant)
    thread = make_conversation(inbox, make_contact(tenant, name="Ana"), subject="Traslado al hotel")
    make_message(thread, direction="in", body="¿A qué hora nos recogen?")
    make_conversation(inbox, make_contact(tenant, name="Bob"), subject="Factura")

    html = login(owner).get("/inbox/?q=traslados").content.decode()

    assert row_ids(html) == [thread.pk]
    assert '<span class="conv-subject"><mark>Traslado</mark> al hotel</span>' in html


def test_it_finds_a_contact_by_four_digits_of_the_phone(tenant, owner, login):
    inbox = make_inbox(tenant)
    found = make_conversation(inbox, make_contact(tenant, name="", phone="+14155557788"))
    make_conversation(inbox, make_contact(tenant, name="", phone="+14155550000"))

    html = login(owner).get("/inbox/?q=7788").content.decode()

    assert row_ids(html) == [found.pk]
    assert "<mark>7788</mark>" in html


def test_it_renders_the_list_in_a_fixed_number_of_queries(tenant, owner, login):
    inbox = make_inbox(tenant)
    client = login(owner)
    vip = do_create_label(tenant, name="VIP", color="red")
    late = do_create_label(tenant, name="Late", color="orange")
    first = make_rows(inbox, 3)
    do_label_conversation(first[0], vip)
    few = count_queries(client, "/inbox/")
    labelled_few = count_queries(client, f"/inbox/?label={vip.pk}&status=any")
    do_set_pinned(Conversation.objects.first(), owner, pinned=True)
    for row in make_rows(inbox, 22):
        do_label_conversation(row, vip)
        do_label_conversation(row, late)
    many = count_queries(client, "/inbox/")
    labelled_many = count_queries(client, f"/inbox/?label={vip.pk}&status=any")
    searched_few = count_queries(client, "/inbox/?q=Question")
    make_rows(inbox, 10)
    searched_many = count_queries(client, "/inbox/?q=Question")

    # user, membership, pinned rows, page, labels of the rows, preference, menus, inboxes,
    # labels for the filter, the bell's unread count
    assert few == many <= 11
    assert labelled_few == labelled_many == many
    # + the search's hits read through the indexes, + the highlighted snippets
    assert searched_few == searched_many == many + 2


# --- a conversation -----------------------------------------------------------------------------


def test_it_shows_the_thread_grouped_by_day_with_ticks_notes_and_system_lines(tenant, owner, login):
    inbox = make_inbox(tenant)
    conversation = make_conversation(inbox, make_contact(tenant, name="Ana"))
    make_message(conversation, direction="in", body="Hola", days_ago=2)
    make_message(conversation, direction="out", body="Sent one", status="sent", author=owner)
    make_message(conversation, direction="out", body="Delivered one", status="delivered")
    make_message(conversation, direction="out", body="Read one", status="read")
    failed = make_message(
        conversation,
        direction="out",
        body="Broken",
        status="failed",
        error_message="The number is not reachable by SMS.",
    )
    make_message(conversation, direction="out", body="Internal <b>note</b>", is_private=True)
    make_message(
        conversation, direction="out", body="Closed by Ana.", sender_type="system", is_private=True
    )

    html = login(owner).get(f"/inbox/c/{conversation.pk}/").content.decode()

    assert html.count('class="day-separator"') == 2
    assert "Today" in html
    assert 'class="msg-status tick-sent"' in html
    assert 'class="msg-status tick-delivered"' in html
    assert 'class="msg-status tick-read"' in html
    assert f'id="msg-{failed.pk}-status" class="msg-status tick-failed"' in html
    assert "The number is not reachable by SMS." in html
    assert f"/inbox/c/{conversation.pk}/messages/{failed.pk}/retry/" in html
    assert 'class="msg msg-note"' in html and "Internal &lt;b&gt;note&lt;/b&gt;" in html
    assert 'class="msg msg-system"' in html
    assert 'data-pane="detail"' in html


def test_it_shows_attachments_inline_through_a_tenant_scoped_url(
    tenant, other_tenant, owner, login
):
    from django.core.files.base import ContentFile

    conversation = make_conversation(make_inbox(tenant))
    message = make_message(conversation, direction="in", body="")
    image = Attachment(tenant=tenant, message=message, content_type="image/jpeg", filename="a.jpg")
    image.file.save("a.jpg", ContentFile(b"\xff\xd8\xff fake jpeg"), save=False)
    image.status = Attachment.Status.STORED
    image.save()
    Attachment.objects.create(
        tenant=tenant, message=message, content_type="audio/ogg", status="pending"
    )
    client = login(owner)

    html = client.get(f"/inbox/c/{conversation.pk}/").content.decode()
    served = client.get(f"/inbox/attachments/{image.pk}/")

    assert f'<img src="/inbox/attachments/{image.pk}/"' in html
    assert "being fetched" in html
    assert served.status_code == 200 and served["Content-Type"] == "image/jpeg"
    assert b"".join(served.streaming_content) == b"\xff\xd8\xff fake jpeg"
    other_owner = Membership.objects.get(tenant=other_tenant).user
    assert login(other_owner).get(f"/inbox/attachments/{image.pk}/").status_code == 404


def test_it_marks_the_conversation_read_for_this_agent_when_opened(tenant, owner, login):
    conversation = make_conversation(make_inbox(tenant))
    make_message(conversation, direction="in")
    client = login(owner)

    client.get(f"/inbox/c/{conversation.pk}/")

    state = ReadState.objects.get(user=owner, conversation=conversation)
    assert state.tenant_id == tenant.pk
    assert state.last_read_at >= conversation.messages.get().created_at
    assert "Unread messages" not in client.get("/inbox/").content.decode()


def test_opening_a_read_conversation_again_writes_nothing_until_news_arrives(tenant, owner, login):
    from inbox.actions.notify import MENTIONED
    from omnichannel.agent_notifications import do_notify
    from omnichannel.models import AgentNotification

    conversation = make_conversation(make_inbox(tenant))
    make_message(conversation, direction="in")
    client = login(owner)
    url = f"/inbox/c/{conversation.pk}/"
    client.get(url)
    first_read = ReadState.objects.get(user=owner, conversation=conversation).last_read_at

    with CaptureQueriesContext(connection) as queries:
        client.get(url, headers=HTMX)
    writes = [q["sql"] for q in queries if q["sql"].startswith(("INSERT", "UPDATE"))]
    assert writes == []
    assert ReadState.objects.get(user=owner, conversation=conversation).last_read_at == first_read

    # A new inbound message, or a notification about the conversation, is news: read again.
    make_message(conversation, direction="in")
    client.get(url, headers=HTMX)
    second_read = ReadState.objects.get(user=owner, conversation=conversation).last_read_at
    assert second_read > first_read
    do_notify(
        tenant,
        kind=MENTIONED,
        recipients=[owner],
        event_key="note-1",
        title="Ana mentioned you",
        target=conversation,
    )
    client.get(url, headers=HTMX)
    assert not AgentNotification.objects.filter(recipient=owner, read_at__isnull=True).exists()


def test_it_answers_404_for_another_tenants_conversation(tenant, other_tenant, owner, login):
    theirs = make_conversation(make_inbox(other_tenant))
    client = login(owner)

    assert client.get(f"/inbox/c/{theirs.pk}/").status_code == 404
    assert client.get("/inbox/c/999999/").status_code == 404
    assert not ReadState.objects.exists()


def test_it_shows_the_contact_panel_with_consent_and_other_conversations(tenant, owner, login):
    inbox = make_inbox(tenant)
    contact = make_contact(tenant, name="Ana", phone="+525512345678", email="ana@example.test")
    current = make_conversation(inbox, contact)
    earlier = make_conversation(make_inbox(tenant, kind="whatsapp"), contact, minutes_ago=900)
    Consent.objects.create(
        tenant=tenant,
        contact=contact,
        channel="sms",
        sender=inbox.address,
        status=Consent.Status.OPTED_OUT,
        source=Consent.Source.KEYWORD,
        detail="STOP",
    )

    html = login(owner).get(f"/inbox/c/{current.pk}/").content.decode()
    panel = re.search(r'<aside id="contact-panel".*?</aside>', html, re.S).group(0)

    assert "+52 55 1234 5678" in panel
    assert "ana@example.test" in panel
    assert "Opted out" in panel and "SMS from" in panel
    assert f'href="/inbox/c/{earlier.pk}/"' in panel
    assert f'href="/inbox/c/{current.pk}/"' not in panel


def test_it_shows_no_composer_or_actions_to_a_viewer(tenant, make_member, login):
    conversation = make_conversation(make_inbox(tenant))
    viewer = make_member(tenant, "viewer")

    html = login(viewer).get(f"/inbox/c/{conversation.pk}/").content.decode()

    assert 'id="composer"' not in html
    assert 'id="action-close"' not in html and 'id="action-assign"' not in html
    assert 'id="action-pin"' in html  # pins are the agent's own


def test_it_answers_htmx_with_the_detail_and_the_row_when_the_row_is_shown(tenant, owner, login):
    conversation = make_conversation(make_inbox(tenant))
    make_message(conversation, direction="in")
    client = login(owner)

    without_row = client.get(f"/inbox/c/{conversation.pk}/", headers=HTMX).content.decode()
    make_message(conversation, direction="in")
    with_row = client.get(
        f"/inbox/c/{conversation.pk}/", headers={**HTMX, "X-Inbox-Row": "1"}
    ).content.decode()

    assert without_row.lstrip().startswith('<div class="detail')
    assert "hx-swap-oob" not in without_row
    assert f'<li id="conv-{conversation.pk}" class="conv-row" data-conversation-id' in with_row
    assert 'hx-swap-oob="outerHTML"' in with_row


def test_it_pages_back_to_earlier_messages(tenant, owner, login):
    conversation = make_conversation(make_inbox(tenant))
    messages = [
        make_message(conversation, direction="in", body=f"m{i}", days_ago=0) for i in range(105)
    ]
    Message.objects.filter(pk__in=[m.pk for m in messages]).update(
        created_at=timezone.now() - timedelta(hours=1)
    )
    client = login(owner)

    html = client.get(f"/inbox/c/{conversation.pk}/").content.decode()
    before = re.search(r'hx-get="[^"]*before=([^"]+)"', html).group(1)
    earlier = client.get(f"/inbox/c/{conversation.pk}/?before={before}", headers=HTMX)

    assert html.count('class="msg msg-in"') == 100
    assert earlier.content.decode().count('class="msg msg-in"') == 5


def test_it_renders_a_conversation_in_a_fixed_number_of_queries(tenant, owner, login):
    inbox = make_inbox(tenant)
    conversation = make_conversation(inbox)
    make_conversation(make_inbox(tenant, kind="whatsapp"), conversation.contact)
    client = login(owner)

    def add_messages(count: int) -> None:
        for index in range(count):
            message = make_message(conversation, direction="in" if index % 2 else "out")
            Attachment.objects.create(
                tenant=tenant, message=message, content_type="image/png", status="pending"
            )

    def add_macros(count: int) -> None:
        for _ in range(count):
            macro = do_create_macro(tenant, name=f"Macro {Macro.objects.count()}")
            label = do_create_label(tenant, name=f"Macro label {macro.pk}")
            do_add_macro_step(macro, kind="add_label", target_id=label.pk)
            do_add_macro_step(macro, kind="close")

    add_messages(3)
    make_rows(inbox, 3)
    add_macros(1)
    do_label_conversation(conversation, do_create_label(tenant, name="VIP"))
    few = count_queries(client, f"/inbox/c/{conversation.pk}/")
    few_htmx = count_queries(client, f"/inbox/c/{conversation.pk}/", headers=HTMX)
    add_messages(47)
    for row in make_rows(inbox, 22):
        do_label_conversation(row, do_create_label(tenant, name=f"Label {row.pk}"))
    add_macros(5)
    do_label_conversation(conversation, do_create_label(tenant, name="Late"))
    many = count_queries(client, f"/inbox/c/{conversation.pk}/")
    many_htmx = count_queries(client, f"/inbox/c/{conversation.pk}/", headers=HTMX)

    # the detail's, plus the list's 6 (its filter shares the detail's labels and inboxes),
    # plus the nav's unread count and the bell's
    assert few == many <= 25
    # session user with their preferences, membership; the conversation (with whether it is read:
    # opening a read one again writes nothing), its labels; the labels to add, agents and teams
    # to assign to, inboxes to reply by, macros and their steps; messages, attachments; panel
    # (phones, emails, household, attribute definitions, consents, other conversations), and
    # the sections other apps add to the panel through inbox.hooks.conversation_panels: the
    # calendar's upcoming appointments (one query; its own test,
    # tests/calendar_app/test_booking_views.py, shows it does not grow with them)
    assert few_htmx == many_htmx <= 19


def test_the_contact_panel_shows_the_crm_record(tenant, owner, login):
    from contacts.households import do_add_household_member
    from contacts.models import AttributeDefinition
    from contacts.services import do_create_contact

    AttributeDefinition.objects.create(tenant=tenant, key="plan", label="Plan", type="text")
    AttributeDefinition.objects.create(tenant=tenant, key="vip", label="VIP", type="boolean")
    contact = do_create_contact(
        tenant,
        fields={"first_name": "Ana", "last_name": "García"},
        phones=["+14155550111", "+14155550122"],
        attributes={"plan": "gold", "vip": "yes"},
    )
    do_add_household_member(contact, name="Luis García", relationship="spouse", acting_user=owner)
    conversation = make_conversation(make_inbox(tenant), contact)

    html = login(owner).get(f"/inbox/c/{conversation.pk}/").content.decode()
    panel = re.search(r'<aside id="contact-panel".*?</aside>', html, re.S).group(0)
    assert f'href="/contacts/{contact.pk}/"' in panel
    assert "(415) 555-0111" in panel and "(415) 555-0122" in panel
    # Attributes are edited in place, with the contact page's own form.
    assert re.search(r'<input id="attr-plan" name="attr-plan" value="gold"', panel)
    assert '<option value="yes" selected>Yes</option>' in panel
    assert f'hx-post="/contacts/{contact.pk}/attributes/"' in panel
    assert "Luis García" in panel and "Spouse" in panel and "Confirmed" in panel


def test_the_contact_panel_shows_attributes_read_only_to_viewers(tenant, make_member, login):
    from contacts.models import AttributeDefinition
    from contacts.services import do_create_contact

    AttributeDefinition.objects.create(tenant=tenant, key="plan", label="Plan", type="text")
    contact = do_create_contact(tenant, phones=["+14155550133"], attributes={"plan": "gold"})
    conversation = make_conversation(make_inbox(tenant), contact)
    html = login(make_member(tenant, "viewer")).get(f"/inbox/c/{conversation.pk}/").content
    panel = re.search(r'<aside id="contact-panel".*?</aside>', html.decode(), re.S).group(0)
    assert re.search(r"<dt>Plan</dt><dd>gold</dd>", panel)
    assert 'name="attr-plan"' not in panel
