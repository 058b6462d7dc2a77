"""The browser inbox's writes: replies, notes, retries, conversation actions and per-agent
state, through the real views and actions (htmx pieces and the no-JavaScript fallbacks)."""

import zoneinfo
from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone

from contacts.actions import do_set_consent
from contacts.models import Consent
from inbox.actions.read_state import do_mark_read, do_mark_unread, do_toggle_pin
from inbox.models import Conversation, Delivery, Message, ReadState
from tests.inbox.api_factories import make_contact, make_conversation, make_inbox, make_message

pytestmark = [pytest.mark.django_db, pytest.mark.clock]

HTMX = {"HX-Request": "true"}


@pytest.fixture
def conversation(tenant):
    conversation = make_conversation(make_inbox(tenant), make_contact(tenant, name="Ana"))
    make_message(conversation, direction="in", body="Hola")
    return conversation


def url(conversation, action: str = "") -> str:
    return f"/inbox/c/{conversation.pk}/{action + '/' if action else ''}"


# --- replies and notes --------------------------------------------------------------------------


def test_it_sends_a_reply_and_answers_the_new_message_with_a_sending_tick(
    conversation, owner, login
):
    response = login(owner).post(
        url(conversation, "messages"),
        {"body": "Your table is ready", "mode": "reply"},
        headers=HTMX,
    )

    message = Message.objects.get(body="Your table is ready")
    html = response.content.decode()
    assert response.status_code == 200
    assert (message.direction, message.status, message.author) == ("out", "queued", owner)
    assert Delivery.objects.filter(message=message).count() == 1
    assert html.lstrip().startswith(f'<li id="msg-{message.pk}" class="msg msg-out"')
    assert f'id="msg-{message.pk}-status" class="msg-status tick-pending"' in html
    assert '<div id="composer-error" class="inline-error" role="alert" hx-swap-oob="true">' in html
    assert "day-separator" not in html  # the conversation already has a message today


def test_it_replies_by_another_channel_the_contact_has_and_follows_it_there(
    tenant, conversation, owner, login
):
    whatsapp = make_inbox(tenant, kind="whatsapp", name="WhatsApp desk")
    second_sms = make_inbox(tenant, kind="sms", name="Bookings line")
    disabled = make_inbox(tenant, kind="whatsapp", name="Disabled")
    disabled.is_active = False
    disabled.save()
    client = login(owner)
    page = client.get(url(conversation)).content.decode()
    choices = page.split('id="composer-via"')[1].split("</select>")[0]
    assert f'<option value="{conversation.inbox_id}">SMS' in choices
    assert f'<option value="{whatsapp.pk}">WhatsApp · WhatsApp desk</option>' in choices
    assert "Disabled" not in choices

    # WhatsApp needs the contact to have written there in the last 24 hours: said in words.
    response = client.post(
        url(conversation, "messages"),
        {"body": "Te escribo por WhatsApp", "mode": "reply", "via": whatsapp.pk},
        headers=HTMX,
    )
    assert response.status_code == 400
    assert "use an approved template" in response.content.decode()

    response = client.post(
        url(conversation, "messages"),
        {"body": "Te escribo desde reservas", "mode": "reply", "via": second_sms.pk},
        headers=HTMX,
    )
    message = Message.objects.get(body="Te escribo desde reservas")
    assert message.inbox == second_sms and message.conversation.contact == conversation.contact
    assert message.conversation != conversation
    # htmx loads that conversation into the page.
    assert response.status_code == 200
    assert f"/inbox/c/{message.conversation_id}/" in response["HX-Location"]


def test_it_refuses_to_reply_through_another_tenants_inbox(
    conversation, other_tenant, owner, login
):
    theirs = make_inbox(other_tenant, kind="whatsapp")
    response = login(owner).post(
        url(conversation, "messages"), {"body": "Hola", "mode": "reply", "via": theirs.pk}
    )
    assert response.status_code == 404
    assert not Message.objects.filter(body="Hola", direction="out").exists()


def test_the_composer_offers_emoji(conversation, owner, login):
    page = login(owner).get(url(conversation)).content.decode()
    assert '<button type="button" data-emoji="👍" aria-label="Thumbs up"' in page


def test_it_writes_a_private_note_that_is_never_sent(conversation, owner, login):
    response = login(owner).post(
        url(conversation, "messages"), {"body": "VIP guest", "mode": "note"}, headers=HTMX
    )

    note = Message.objects.get(body="VIP guest")
    assert note.is_private and not Delivery.objects.filter(message=note).exists()
    assert 'class="msg msg-note"' in response.content.decode()


def test_it_redirects_back_to_the_conversation_without_javascript(conversation, owner, login):
    response = login(owner).post(
        url(conversation, "messages"), {"body": "Hi", "list": "view=mine&status=any"}
    )

    message = Message.objects.get(body="Hi")
    assert response.status_code == 302
    assert response["Location"] == f"{url(conversation)}?view=mine&status=any#msg-{message.pk}"


def test_it_explains_an_opt_out_next_to_the_composer(conversation, owner, login):
    do_set_consent(
        conversation.contact,
        channel="sms",
        sender=conversation.inbox.address,
        status=Consent.Status.OPTED_OUT,
        source=Consent.Source.KEYWORD,
        detail="STOP",
    )

    response = login(owner).post(url(conversation, "messages"), {"body": "Hi"}, headers=HTMX)

    assert response.status_code == 400
    assert response["HX-Retarget"] == "#composer-error"
    assert response["HX-Reswap"] == "innerHTML"
    text = response.content.decode()
    assert "This contact opted out of SMS from this number" in text
    assert "They must send START to receive messages again." in text
    assert not Message.objects.filter(body="Hi").exists()


def test_it_keeps_the_draft_and_shows_the_error_on_the_page_without_javascript(
    conversation, owner, login
):
    do_set_consent(
        conversation.contact,
        channel="sms",
        sender=conversation.inbox.address,
        status=Consent.Status.OPTED_OUT,
        source=Consent.Source.KEYWORD,
    )

    response = login(owner).post(url(conversation, "messages"), {"body": "My draft"})

    html = response.content.decode()
    assert response.status_code == 400
    assert ">My draft</textarea>" in html
    assert "They must send START" in html


def test_it_explains_the_whatsapp_window(tenant, owner, login):
    conversation = make_conversation(make_inbox(tenant, kind="whatsapp"))

    response = login(owner).post(url(conversation, "messages"), {"body": "Hi"}, headers=HTMX)

    assert response.status_code == 400
    assert "use an approved template" in response.content.decode()
    assert 'data-error-code="outside_window"' in response.content.decode()


def test_it_says_when_to_try_again_when_rate_limited(tenant, owner, login):
    inbox = make_inbox(tenant)
    inbox.settings = {**inbox.settings, "contact_hourly_limit": 1}
    inbox.save()
    conversation = make_conversation(inbox)
    client = login(owner)

    assert (
        client.post(url(conversation, "messages"), {"body": "1"}, headers=HTMX).status_code == 200
    )
    response = client.post(url(conversation, "messages"), {"body": "2"}, headers=HTMX)

    assert response.status_code == 429
    assert int(response["Retry-After"]) > 3000
    assert "try again in 60 minutes" in response.content.decode()


def test_it_refuses_replies_and_notes_to_a_viewer(conversation, make_member, login):
    client = login(make_member(conversation.tenant, "viewer"))

    assert client.post(url(conversation, "messages"), {"body": "x"}).status_code == 403
    assert (
        client.post(url(conversation, "messages"), {"body": "x", "mode": "note"}).status_code == 403
    )
    assert not Message.objects.filter(body="x").exists()


def test_it_refuses_to_post_into_another_tenants_conversation(conversation, other_tenant, login):
    from omnichannel.models import Membership

    stranger = Membership.objects.get(tenant=other_tenant).user

    response = login(stranger).post(url(conversation, "messages"), {"body": "x"})

    assert response.status_code == 404
    assert not Message.objects.filter(body="x").exists()


def test_it_retries_a_failed_message_with_the_same_body(conversation, owner, login):
    failed = make_message(conversation, direction="out", status="failed", body="Try me")

    response = login(owner).post(url(conversation, f"messages/{failed.pk}/retry"), headers=HTMX)

    again = Message.objects.filter(body="Try me").exclude(pk=failed.pk).get()
    assert again.status == "queued"
    assert f'id="msg-{again.pk}"' in response.content.decode()
    sent = make_message(conversation, direction="out", status="sent")
    assert login(owner).post(url(conversation, f"messages/{sent.pk}/retry")).status_code == 404


# --- conversation actions -----------------------------------------------------------------------


def test_it_assigns_to_me_and_unassigns(conversation, owner, login):
    client = login(owner)

    response = client.post(url(conversation, "assignee"), {"assignee": "me"}, headers=HTMX)

    conversation.refresh_from_db()
    html = response.content.decode()
    assert conversation.assignee == owner
    assert html.lstrip().startswith('<header id="conversation-header"')
    assert 'id="action-unassign"' in html
    assert 'hx-swap-oob="beforeend:#thread"' in html and "Assigned to" in html

    client.post(url(conversation, "assignee"), {"assignee": "none"}, headers=HTMX)
    conversation.refresh_from_db()
    assert conversation.assignee is None


def test_it_closes_and_reopens(conversation, owner, login):
    client = login(owner)

    html = client.post(url(conversation, "status"), {"status": "closed"}, headers=HTMX)
    conversation.refresh_from_db()
    assert conversation.status == "closed"
    assert 'id="action-reopen"' in html.content.decode()

    response = client.post(url(conversation, "status"), {"status": "open"})
    conversation.refresh_from_db()
    assert conversation.status == "open"
    assert response.status_code == 302 and response["Location"] == url(conversation)


def test_it_shows_a_reopen_conflict_in_words(tenant, owner, login):
    inbox = make_inbox(tenant)
    contact = make_contact(tenant)
    closed = make_conversation(inbox, contact, status=Conversation.Status.CLOSED)
    make_conversation(inbox, contact)

    response = login(owner).post(url(closed, "status"), {"status": "open"}, headers=HTMX)

    assert response.status_code == 409
    assert response["HX-Retarget"] == "#conversation-error"
    assert "already has an active conversation" in response.content.decode()


def test_it_snoozes_until_tomorrow_nine_in_the_tenants_time_zone(conversation, owner, login):
    tenant = conversation.tenant
    tenant.timezone = "America/Mexico_City"
    tenant.save()

    login(owner).post(url(conversation, "snooze"), {"until": "tomorrow"}, headers=HTMX)

    conversation.refresh_from_db()
    zone = zoneinfo.ZoneInfo("America/Mexico_City")
    tomorrow = timezone.localtime(timezone.now(), zone).date() + timedelta(days=1)
    assert conversation.status == "snoozed"
    assert conversation.snoozed_until == datetime.combine(tomorrow, time(9), tzinfo=zone)


def test_it_snoozes_until_a_chosen_moment_and_refuses_the_past(conversation, owner, login):
    client = login(owner)
    later = (timezone.localtime(timezone.now()) + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")

    client.post(url(conversation, "snooze"), {"until": "at", "until_at": later}, headers=HTMX)
    conversation.refresh_from_db()
    assert conversation.status == "snoozed"

    response = client.post(
        url(conversation, "snooze"), {"until": "at", "until_at": "2001-01-01T09:00"}, headers=HTMX
    )
    assert response.status_code == 400
    assert "in the future" in response.content.decode()


def test_it_says_until_when_a_conversation_snoozes_in_words_in_the_viewers_zone(
    conversation, owner, login
):
    tenant = conversation.tenant
    tenant.timezone = "America/Mexico_City"
    tenant.save()
    client = login(owner)

    response = client.post(url(conversation, "snooze"), {"until": "tomorrow"}, headers=HTMX)

    zone = zoneinfo.ZoneInfo("America/Mexico_City")
    tomorrow = timezone.localtime(timezone.now(), zone).date() + timedelta(days=1)
    words = f"Snoozed until {datetime.combine(tomorrow, time(9)):%a %-d %b}, 09:00 by"
    assert words in response.content.decode()
    page = client.get(url(conversation)).content.decode()
    assert words in page
    assert "T09:00:00-06:00" not in page  # no ISO instant where people read
    # The API keeps the instant in the note's metadata and body.
    note = Message.objects.get(conversation=conversation, sender_type="system")
    assert note.metadata["snoozed_until"] in note.body


def test_it_refuses_a_snooze_in_the_past_in_a_sentence_not_a_field_name(conversation, owner, login):
    response = login(owner).post(
        url(conversation, "snooze"), {"until": "at", "until_at": "2001-01-01T09:00"}, headers=HTMX
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "Choose a time in the future to snooze until." in body
    assert "snoozed_until" not in body


def test_it_sets_the_priority(conversation, owner, login):
    login(owner).post(url(conversation, "priority"), {"priority": "4"}, headers=HTMX)

    conversation.refresh_from_db()
    assert conversation.priority == Conversation.Priority.URGENT


def test_it_refuses_status_changes_to_a_viewer(conversation, make_member, login):
    client = login(make_member(conversation.tenant, "viewer"))

    assert client.post(url(conversation, "status"), {"status": "closed"}).status_code == 403
    assert client.post(url(conversation, "assignee"), {"assignee": "me"}).status_code == 403
    conversation.refresh_from_db()
    assert conversation.status == "open" and conversation.assignee is None


def test_it_pins_for_this_agent_only_and_updates_the_row(conversation, owner, login):
    response = login(owner).post(
        url(conversation, "pin"), {"pinned": "1"}, headers={**HTMX, "X-Inbox-Row": "1"}
    )

    html = response.content.decode()
    assert ReadState.objects.get(user=owner, conversation=conversation).pinned
    assert 'aria-pressed="true"' in html
    assert f'<li id="conv-{conversation.pk}"' in html and "Pinned." in html
    login(owner).post(url(conversation, "pin"), {"pinned": "0"}, headers=HTMX)
    assert not ReadState.objects.get(user=owner, conversation=conversation).pinned


def test_it_marks_unread_again(conversation, owner, login):
    client = login(owner)
    client.get(url(conversation))

    response = client.post(url(conversation, "unread"), headers={**HTMX, "X-Inbox-Row": "1"})

    assert "Unread messages: </span>1<" in response.content.decode()
    nojs = client.post(url(conversation, "unread"), {"list": "view=mine"})
    assert nojs.status_code == 302 and nojs["Location"] == "/inbox/?view=mine"


# --- the read-state actions ---------------------------------------------------------------------


def test_read_state_actions_keep_read_marks_and_pins_apart(conversation, owner):
    inbound = conversation.messages.get()

    assert do_toggle_pin(conversation, owner) is True
    do_mark_read(conversation, owner)
    state = ReadState.objects.get(user=owner, conversation=conversation)
    assert state.pinned and state.last_read_at >= inbound.created_at

    do_mark_unread(conversation, owner)
    state.refresh_from_db()
    assert state.pinned
    assert state.last_read_at == inbound.created_at - timedelta(microseconds=1)
    assert do_toggle_pin(conversation, owner) is False
    assert ReadState.objects.count() == 1 and state.tenant_id == conversation.tenant_id
