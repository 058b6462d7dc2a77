"""The calendar page: day, week and agenda views per resource and for "me", the detail panel and
its actions per permission, moving (a taken time answers 409 with the nearest free slots and
nothing moves), a week across a DST change, bounded queries, tenant isolation, and the body
pushed to an open page when an appointment changes."""

import datetime as dt
import re
import zoneinfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from calendar_app.actions import do_book, do_cancel, do_hold
from contacts.models import Contact
from omnichannel.models import Membership
from omnichannel.realtime import SocketView
from tests.calendar_app.conftest import NOW, WEDNESDAY_10, make_agent, make_type

pytestmark = [pytest.mark.clock]
HTMX = {"HX-Request": "true"}
EVERY_DAY = [(day, dt.time(0), dt.time(23, 59)) for day in range(7)]


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def me(tenant, owner):
    """The owner's own calendar (an agent resource linked to them)."""
    resource = make_agent(tenant, name="Olga Owner")
    resource.user = owner
    resource.save(update_fields=["user"])
    return resource


def book(tenant, consult, resources, contact, start, **kw):
    return do_book(
        tenant, appointment_type=consult, resources=resources, contact=contact, start=start, **kw
    )


def ids_shown(html: str) -> set[int]:
    return {int(pk) for pk in re.findall(r'id="appt-(\d+)"', html)}


def test_it_shows_the_week_with_colours_and_states(frozen, tenant, owner, signed_in, me, contact):
    consult = make_type(tenant, [me], color="#ff8800")
    confirmed = book(tenant, consult, [me], contact, WEDNESDAY_10, notes="Bring the passport")
    held = do_hold(
        tenant,
        appointment_type=consult,
        resources=[me],
        contact=contact,
        start=WEDNESDAY_10 + dt.timedelta(hours=2),
    )
    cancelled = book(tenant, consult, [me], contact, WEDNESDAY_10 + dt.timedelta(hours=4))
    do_cancel(cancelled)
    page = signed_in(owner).get("/calendar/", {"date": "2026-12-02"})
    assert page.status_code == 200
    html = page.content.decode()
    assert ids_shown(html) == {confirmed.pk, held.pk, cancelled.pk}
    assert 'data-color="#ff8800"' in html
    for appointment in (confirmed, held, cancelled):
        assert f'class="cal-appt state-{appointment.state}"' in html
    assert 'href="/calendar/" aria-current="page"' in html  # the nav entry users know
    assert "No appointments yet." not in html
    # The week starts on Monday 30 November; Wednesday's column holds them.
    assert 'data-date="2026-11-30"' in html and 'data-date="2026-12-06"' in html
    wednesday = html.split('data-date="2026-12-02"')[1].split('data-date="2026-12-03"')[0]
    assert f'id="appt-{confirmed.pk}"' in wednesday


def test_it_shows_a_day_and_an_agenda(frozen, tenant, owner, signed_in, me, contact):
    consult = make_type(tenant, [me])
    wednesday = book(tenant, consult, [me], contact, WEDNESDAY_10)
    thursday = book(tenant, consult, [me], contact, WEDNESDAY_10 + dt.timedelta(days=1))
    client = signed_in(owner)
    day = client.get("/calendar/", {"view": "day", "date": "2026-12-02"}).content.decode()
    assert ids_shown(day) == {wednesday.pk}
    agenda = client.get("/calendar/", {"view": "agenda", "date": "2026-12-01"}).content.decode()
    assert ids_shown(agenda) == {wednesday.pk, thursday.pk}
    assert "Wednesday 2 December" in agenda and "Olga Owner" in agenda
    # Previous and next move by the view's span, in the reader's calendar.
    assert 'href="?view=day&amp;date=2026-12-01" rel="prev"' in day
    assert 'href="?view=day&amp;date=2026-12-03" rel="next"' in day
    week = client.get("/calendar/", {"date": "2026-12-02"}).content.decode()
    assert 'href="?view=week&amp;date=2026-11-23" rel="prev"' in week
    assert 'href="?view=week&amp;date=2026-12-07" rel="next"' in week
    assert 'href="?view=week&amp;date=2026-12-01" data-cal-today' in week


def test_it_filters_by_resource_and_by_me(frozen, tenant, owner, signed_in, me, contact):
    room = make_agent(tenant, name="Room B")
    consult = make_type(tenant, [me, room])
    mine = book(tenant, consult, [me], contact, WEDNESDAY_10)
    roomy = book(tenant, consult, [room], contact, WEDNESDAY_10)
    client = signed_in(owner)
    every = client.get("/calendar/", {"date": "2026-12-02"}).content.decode()
    assert ids_shown(every) == {mine.pk, roomy.pk}
    only_me = client.get("/calendar/", {"date": "2026-12-02", "resource": "me"})
    assert ids_shown(only_me.content.decode()) == {mine.pk}
    only_room = client.get("/calendar/", {"date": "2026-12-02", "resource": str(room.pk)})
    assert ids_shown(only_room.content.decode()) == {roomy.pk}


def test_me_without_a_linked_resource_shows_nothing(frozen, tenant, signed_in, make_member):
    agent_user = make_member(tenant, "agent")
    resource = make_agent(tenant)
    consult = make_type(tenant, [resource])
    contact = Contact.objects.create(tenant=tenant, name="Eva", phone="+14155550112")
    book(tenant, consult, [resource], contact, WEDNESDAY_10)
    page = signed_in(agent_user).get("/calendar/", {"date": "2026-12-02", "resource": "me"})
    assert ids_shown(page.content.decode()) == set()
    assert "no resource linked" in page.content.decode()


def test_the_page_reads_a_fixed_number_of_queries(frozen, tenant, owner, signed_in, me, contact):
    consult = make_type(tenant, [me])
    client = signed_in(owner)
    book(tenant, consult, [me], contact, WEDNESDAY_10)
    client.get("/calendar/", {"date": "2026-12-02"})  # warm the session and caches
    with CaptureQueriesContext(connection) as one:
        assert client.get("/calendar/", {"date": "2026-12-02"}).status_code == 200
    others = [make_agent(tenant, name=f"Desk {n}") for n in range(3)]
    consult.resources.add(*others)
    for n in range(1, 9):
        person = Contact.objects.create(tenant=tenant, name=f"P{n}", phone=f"+1415555020{n}")
        book(tenant, consult, [others[n % 3]], person, WEDNESDAY_10 + dt.timedelta(minutes=45 * n))
    with CaptureQueriesContext(connection) as many:
        page = client.get("/calendar/", {"date": "2026-12-02"})
    assert len(ids_shown(page.content.decode())) == 9
    assert len(many) == len(one), [q["sql"][:120] for q in many]


def test_another_tenant_cannot_see_or_move_them(
    frozen, tenant, other_tenant, signed_in, me, contact
):
    consult = make_type(tenant, [me])
    appointment = book(tenant, consult, [me], contact, WEDNESDAY_10)
    stranger = Membership.objects.get(tenant=other_tenant, role__builtin="owner").user
    client = signed_in(stranger)
    page = client.get("/calendar/", {"date": "2026-12-02"}).content.decode()
    assert ids_shown(page) == set()
    assert "Olga Owner" not in page  # nor the other tenant's resources in the filter
    assert client.get(f"/calendar/appointments/{appointment.pk}/").status_code == 404
    moved = client.post(
        f"/calendar/appointments/{appointment.pk}/move/",
        {"move_date": "2026-12-02", "move_time": "11:00"},
    )
    assert moved.status_code == 404
    assert client.post(f"/calendar/appointments/{appointment.pk}/cancel/").status_code == 404
    appointment.refresh_from_db()
    assert (appointment.start_at, appointment.state) == (WEDNESDAY_10, "confirmed")


def test_a_viewer_sees_the_calendar_but_changes_nothing(
    frozen, tenant, owner, signed_in, make_member, me, contact
):
    consult = make_type(tenant, [me])
    appointment = do_hold(
        tenant, appointment_type=consult, resources=[me], contact=contact, start=WEDNESDAY_10
    )
    viewer = signed_in(make_member(tenant, "viewer"))
    page = viewer.get("/calendar/", {"date": "2026-12-02"}).content.decode()
    assert f'id="appt-{appointment.pk}"' in page
    assert "data-movable" not in page
    detail = viewer.get(f"/calendar/appointments/{appointment.pk}/", headers=HTMX)
    assert detail.status_code == 200
    assert "data-cal-action" not in detail.content.decode()
    assert viewer.post(f"/calendar/appointments/{appointment.pk}/confirm/").status_code == 403
    appointment.refresh_from_db()
    assert appointment.state == "hold"
    # The owner may: the hold offers confirm, cancel and move.
    mine = signed_in(owner).get(f"/calendar/appointments/{appointment.pk}/", headers=HTMX)
    html = mine.content.decode()
    for step in ("confirm", "cancel"):
        assert f'data-cal-action="{step}"' in html
    assert 'name="move_time"' in html


def test_the_detail_links_the_contact_and_the_conversation(
    frozen, tenant, owner, signed_in, me, contact
):
    from tests.inbox.api_factories import make_conversation, make_inbox

    conversation = make_conversation(make_inbox(tenant), contact)
    consult = make_type(tenant, [me])
    appointment = book(
        tenant, consult, [me], contact, WEDNESDAY_10, notes="Window seat", conversation=conversation
    )
    client = signed_in(owner)
    html = client.get(f"/calendar/appointments/{appointment.pk}/", headers=HTMX).content.decode()
    assert f'href="/contacts/{contact.pk}/"' in html
    assert f'href="/inbox/c/{conversation.pk}/"' in html
    assert "Window seat" in html
    # Without htmx: the whole calendar at the appointment's day, with it open.
    whole = client.get(f"/calendar/appointments/{appointment.pk}/").content.decode()
    assert 'data-date="2026-12-02"' in whole and "Window seat" in whole


def test_actions_confirm_cancel_and_finish(frozen, tenant, owner, signed_in, me, contact):
    consult = make_type(tenant, [me])
    client = signed_in(owner)
    hold = do_hold(
        tenant, appointment_type=consult, resources=[me], contact=contact, start=WEDNESDAY_10
    )
    confirmed = client.post(
        f"/calendar/appointments/{hold.pk}/confirm/", {"date": "2026-12-02"}, headers=HTMX
    )
    assert confirmed.status_code == 200
    assert "Confirmed." in confirmed.content.decode()
    assert 'class="cal-appt state-confirmed"' in confirmed.content.decode()
    hold.refresh_from_db()
    assert hold.state == "confirmed"
    # Not started yet: completing is refused with the reason, and nothing changes.
    early = client.post(f"/calendar/appointments/{hold.pk}/complete/", headers=HTMX)
    assert early.status_code == 409
    assert "has not started yet" in early.content.decode()
    with time_machine.travel(WEDNESDAY_10 + dt.timedelta(hours=1), tick=False):
        done = client.post(f"/calendar/appointments/{hold.pk}/no-show/")
    assert done.status_code == 302  # without htmx: back to the calendar with a message
    hold.refresh_from_db()
    assert hold.state == "no_show"
    other = book(tenant, consult, [me], contact, WEDNESDAY_10 + dt.timedelta(days=1))
    assert (
        client.post(f"/calendar/appointments/{other.pk}/cancel/", headers=HTMX).status_code == 200
    )
    other.refresh_from_db()
    assert other.state == "cancelled"


def test_moving_onto_a_taken_time_is_refused_with_the_nearest_free_slots(
    frozen, tenant, owner, signed_in, me, contact
):
    consult = make_type(tenant, [me])
    moving = book(tenant, consult, [me], contact, WEDNESDAY_10)
    blocker = book(tenant, consult, [me], contact, WEDNESDAY_10 + dt.timedelta(hours=2))
    client = signed_in(owner)
    refused = client.post(
        f"/calendar/appointments/{moving.pk}/move/",
        {"view": "week", "date": "2026-12-02", "move_date": "2026-12-02", "move_time": "12:00"},
        headers=HTMX,
    )
    assert refused.status_code == 409
    html = refused.content.decode()
    assert "already taken" in html
    assert html.count('name="move_time" value="') >= 2  # the nearest free slots, one form each
    assert 'id="calendar-body"' in html and f'id="appt-{moving.pk}"' in html  # snaps back
    moving.refresh_from_db()
    assert moving.start_at == WEDNESDAY_10
    assert blocker.pk in ids_shown(html)
    moved = client.post(
        f"/calendar/appointments/{moving.pk}/move/",
        {"view": "week", "date": "2026-12-02", "move_date": "2026-12-03", "move_time": "09:30"},
        headers=HTMX,
    )
    assert moved.status_code == 200, moved.content.decode()[:500]
    assert "Moved to Thu 03 Dec, 09:30." in moved.content.decode()
    moving.refresh_from_db()
    assert moving.start_at == dt.datetime(2026, 12, 3, 9, 30, tzinfo=dt.UTC)


def test_a_move_needs_a_real_date_and_time(frozen, tenant, owner, signed_in, me, contact):
    consult = make_type(tenant, [me])
    appointment = book(tenant, consult, [me], contact, WEDNESDAY_10)
    bad = signed_in(owner).post(
        f"/calendar/appointments/{appointment.pk}/move/",
        {"move_date": "tomorrow", "move_time": "10"},
        headers=HTMX,
    )
    assert bad.status_code == 400
    assert "Give the new date" in bad.content.decode()


# --- time zones ---------------------------------------------------------------------------------


@pytest.fixture
def madrid(tenant):
    tenant.timezone = "Europe/Madrid"
    tenant.save(update_fields=["timezone"])
    return zoneinfo.ZoneInfo("Europe/Madrid")


def test_a_week_across_the_dst_change_keeps_wall_clock_times(
    tenant, owner, signed_in, madrid, contact
):
    """Madrid leaves summer time on Sunday 25 October 2026 (03:00 CEST → 02:00 CET)."""
    with time_machine.travel(dt.datetime(2026, 10, 15, 12, tzinfo=dt.UTC), tick=False):
        desk = make_agent(tenant, name="Desk", zone="Europe/Madrid", weekly=EVERY_DAY)
        consult = make_type(tenant, [desk])
        saturday = book(
            tenant, consult, [desk], contact, dt.datetime(2026, 10, 24, 10, tzinfo=madrid)
        )
        sunday = book(
            tenant, consult, [desk], contact, dt.datetime(2026, 10, 25, 10, tzinfo=madrid)
        )
        late = book(tenant, consult, [desk], contact, dt.datetime(2026, 10, 25, 22, tzinfo=madrid))
        # 00:30 on Monday in Madrid is still Sunday in UTC: next week's.
        monday = book(
            tenant, consult, [desk], contact, dt.datetime(2026, 10, 26, 0, 30, tzinfo=madrid)
        )
        html = signed_in(owner).get("/calendar/", {"date": "2026-10-21"}).content.decode()
    assert saturday.start_at.utcoffset() != sunday.start_at.astimezone(madrid).utcoffset()
    assert ids_shown(html) == {saturday.pk, sunday.pk, late.pk}
    columns = {
        date: html.split(f'data-date="{date}"')[1].split("</div>\n")[0]
        for date in ("2026-10-24", "2026-10-25")
    }
    assert f'id="appt-{saturday.pk}"' in columns["2026-10-24"]
    assert f'id="appt-{sunday.pk}"' in columns["2026-10-25"]
    assert f'id="appt-{late.pk}"' in columns["2026-10-25"]
    tops = dict(re.findall(r'id="appt-(\d+)".*?data-top="([\d.]+)"', html, re.S))
    # Both at 10:00 on the wall clock, an hour apart in UTC: the same place in their columns.
    assert tops[str(saturday.pk)] == tops[str(sunday.pk)] == str(round(600 / 1440 * 100, 4))
    assert html.count("10:00\u201310:30") == 2  # an en dash between the times
    assert monday.pk not in ids_shown(html)


def test_a_move_to_a_time_the_clocks_skip_is_refused(tenant, owner, signed_in, madrid, contact):
    """Madrid skips 02:00-03:00 on Sunday 28 March 2027."""
    with time_machine.travel(dt.datetime(2027, 3, 20, 12, tzinfo=dt.UTC), tick=False):
        desk = make_agent(tenant, name="Desk", zone="Europe/Madrid", weekly=EVERY_DAY)
        consult = make_type(tenant, [desk])
        appointment = book(
            tenant, consult, [desk], contact, dt.datetime(2027, 3, 27, 10, tzinfo=madrid)
        )
        refused = signed_in(owner).post(
            f"/calendar/appointments/{appointment.pk}/move/",
            {"move_date": "2027-03-28", "move_time": "02:30"},
            headers=HTMX,
        )
    assert refused.status_code == 400
    assert "does not exist in Europe/Madrid" in refused.content.decode()


# --- live -----------------------------------------------------------------------------------------


def test_an_open_calendar_gets_the_body_when_a_colleague_books(frozen, tenant, owner, me, contact):
    consult = make_type(tenant, [me])
    membership = Membership.objects.select_related("tenant", "user", "role").get(
        tenant=tenant, user=owner
    )
    socket = SocketView(membership=membership)
    socket.update({"page": "calendar", "list": "view=week&date=2026-12-02&resource=me"})
    appointment = book(tenant, consult, [me], contact, WEDNESDAY_10)
    payload = {"id": appointment.pk, "state": "confirmed"}
    assert socket.may_render("appointment.created", payload)
    html = socket.render("appointment.created", payload)
    assert 'id="calendar-body"' in html and 'hx-swap-oob="true"' in html
    assert ids_shown(html) == {appointment.pk}
    # Another page of the same member (the inbox) gets nothing for it.
    socket.update({"page": "inbox"})
    assert not socket.may_render("appointment.created", payload)
    assert socket.render("appointment.created", payload) == ""


def test_a_socket_opening_on_an_unchanged_calendar_gets_nothing_again(
    frozen, tenant, owner, signed_in, me, contact
):
    consult = make_type(tenant, [me])
    book(tenant, consult, [me], contact, WEDNESDAY_10)
    html = signed_in(owner).get("/calendar/", {"date": "2026-12-02"}).content.decode()
    seen = re.search(r'data-seen="(\w+)"', html).group(1)
    membership = Membership.objects.select_related("tenant", "user", "role").get(
        tenant=tenant, user=owner
    )
    socket = SocketView(membership=membership)
    shown = f"view=week&date=2026-12-02&seen={seen}"
    socket.update({"page": "calendar", "list": shown, "catch_up": "open"})
    assert socket.viewed() == ""
    # Booked between the page's render and its socket opening: the body is sent.
    later = book(tenant, consult, [me], contact, WEDNESDAY_10 + dt.timedelta(hours=1))
    socket.update({"page": "calendar", "list": shown, "catch_up": "open"})
    assert later.pk in ids_shown(socket.viewed())
