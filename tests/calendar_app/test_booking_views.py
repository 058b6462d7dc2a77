"""Booking from the contact panels (calendar_app/booking_views.py): free times, hold, confirm
with the confirmation texted into the conversation, a time taken meanwhile, an expired hold,
cancel; permissions; another tenant's rows answer 404; the panel's queries stay bounded."""

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from calendar_app.actions import do_book, do_hold
from calendar_app.models import Appointment, AppointmentState
from contacts.actions import do_set_consent
from contacts.models import Contact
from inbox.models import Message
from tests.calendar_app.conftest import NOW, WEDNESDAY_10, make_agent, make_type
from tests.inbox.api_factories import make_conversation, make_inbox

pytestmark = [pytest.mark.django_db, pytest.mark.clock]

HTMX = {"HX-Request": "true"}
SLOT = f"@{WEDNESDAY_10.isoformat()}"


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False) as clock:
        yield clock


@pytest.fixture
def madrid_contact(tenant):
    return Contact.objects.create(
        tenant=tenant,
        name="Luis Pérez",
        first_name="Luis",
        phone="+34612345678",
        timezone="Europe/Madrid",
    )


@pytest.fixture
def conversation(tenant, madrid_contact):
    return make_conversation(make_inbox(tenant), madrid_contact)


def hold_data(consult, agent, conversation=None, start=WEDNESDAY_10) -> dict:
    data = {"type": consult.pk, "slot": f"{agent.pk}@{start.isoformat()}"}
    if conversation is not None:
        data["conversation"] = conversation.pk
    return data


def test_it_lists_the_free_times_of_the_next_days(tenant, owner, login, consult, agent, contact):
    response = login(owner).get(f"/calendar/book/contacts/{contact.pk}/", headers=HTMX)

    html = response.content.decode()
    assert response.status_code == 200
    assert f'value="{agent.pk}{SLOT}"' in html  # Wednesday 10:00
    # Not within the hour's notice, nor on the weekend.
    assert f"@{NOW.isoformat()}" not in html
    assert "Saturday" not in html and "Wednesday 2 Dec" in html
    assert "<html" not in html  # a piece for htmx
    page = login(owner).get(f"/calendar/book/contacts/{contact.pk}/")
    assert "<html" in page.content.decode() and f'value="{agent.pk}{SLOT}"' in page.content.decode()


def test_an_agent_holds_then_confirms_and_the_contact_gets_the_confirmation_in_the_thread(
    tenant, make_member, login, consult, agent, conversation, madrid_contact
):
    client = login(make_member(tenant, "agent"))

    held = client.post(
        f"/calendar/book/contacts/{madrid_contact.pk}/hold/",
        hold_data(consult, agent, conversation),
        headers=HTMX,
    )

    assert held.status_code == 200, held.content.decode()
    appointment = Appointment.objects.get()
    assert appointment.state == AppointmentState.HOLD
    assert appointment.conversation == conversation
    assert appointment.hold_expires_at == NOW + dt.timedelta(minutes=10)
    html = held.content.decode()
    assert "Held:" in html and 'id="hold-expires"' in html and "12:10:00" in html
    assert 'name="send_confirmation" value="1" checked' in html

    confirmed = client.post(
        f"/calendar/book/appointments/{appointment.pk}/confirm/",
        {"conversation": conversation.pk, "send_confirmation": "1"},
        headers=HTMX,
    )

    assert confirmed.status_code == 200, confirmed.content.decode()
    appointment.refresh_from_db()
    assert appointment.state == AppointmentState.CONFIRMED
    message = Message.objects.get(conversation=conversation, direction="out")
    # Wednesday 10:00 UTC is 11:00 in Madrid.
    assert message.body == (
        "Hi Luis! Your Consultation with Ana Agent is confirmed for Wednesday 2 December 2026 "
        "at 11:00 (Europe/Madrid). Reply to this message if you need to change it."
    )
    assert message.sender_type == "agent" and message.author.email.startswith("agent-")
    html = confirmed.content.decode()
    assert 'id="appointments-panel"' in html
    assert "The confirmation was sent to the contact." in html
    assert f'id="appt-{appointment.pk}"' in html and "Confirmed" in html


def test_without_the_option_no_confirmation_is_sent(
    tenant, owner, login, consult, agent, conversation, madrid_contact
):
    appointment = do_hold(
        tenant,
        appointment_type=consult,
        resources=[agent],
        contact=madrid_contact,
        start=WEDNESDAY_10,
        conversation=conversation,
    )

    response = login(owner).post(
        f"/calendar/book/appointments/{appointment.pk}/confirm/",
        {"conversation": conversation.pk},
        headers=HTMX,
    )

    assert response.status_code == 200
    appointment.refresh_from_db()
    assert appointment.state == AppointmentState.CONFIRMED
    assert not Message.objects.filter(conversation=conversation).exists()


def test_a_refused_confirmation_leaves_the_booking_and_says_why(
    tenant, owner, login, consult, agent, conversation, madrid_contact
):
    do_set_consent(
        madrid_contact,
        channel="sms",
        sender=conversation.inbox.address,
        status="opted_out",
        source="inbound_keyword",
    )
    appointment = do_hold(
        tenant,
        appointment_type=consult,
        resources=[agent],
        contact=madrid_contact,
        start=WEDNESDAY_10,
        conversation=conversation,
    )

    response = login(owner).post(
        f"/calendar/book/appointments/{appointment.pk}/confirm/",
        {"conversation": conversation.pk, "send_confirmation": "1"},
        headers=HTMX,
    )

    assert response.status_code == 200
    appointment.refresh_from_db()
    assert appointment.state == AppointmentState.CONFIRMED
    assert not Message.objects.filter(conversation=conversation, direction="out").exists()
    assert "The confirmation was not sent:" in response.content.decode()


def test_a_time_taken_meanwhile_answers_409_with_the_nearest_free_times(
    tenant, owner, login, consult, agent, contact
):
    rival = Contact.objects.create(tenant=tenant, name="Rival", phone="+14155550177")
    do_hold(tenant, appointment_type=consult, resources=[agent], contact=rival, start=WEDNESDAY_10)

    response = login(owner).post(
        f"/calendar/book/contacts/{contact.pk}/hold/", hold_data(consult, agent), headers=HTMX
    )

    assert response.status_code == 409
    assert response["HX-Retarget"] == "#booking"
    html = response.content.decode()
    assert "that time was just taken by someone else" in html
    # The nearest free times, ready to hold: the next start after 10:00 + 30 min + 10 min buffer.
    assert f'value="{agent.pk}@{WEDNESDAY_10.replace(hour=11).isoformat()}"' in html
    assert f'value="{agent.pk}{SLOT}"' not in html
    assert Appointment.objects.filter(contact=contact).count() == 0


def test_an_expired_hold_is_refused_and_new_times_are_offered(
    tenant, owner, login, consult, agent, contact, frozen
):
    client = login(owner)
    client.post(f"/calendar/book/contacts/{contact.pk}/hold/", hold_data(consult, agent))
    appointment = Appointment.objects.get()
    frozen.shift(dt.timedelta(minutes=10))

    response = client.post(f"/calendar/book/appointments/{appointment.pk}/confirm/", headers=HTMX)

    assert response.status_code == 409
    assert response["HX-Retarget"] == "#appointments-panel"
    html = response.content.decode()
    assert "This hold expired at" in html
    assert f'value="{agent.pk}{SLOT}"' in html  # free again
    assert f'id="appt-{appointment.pk}"' not in html
    appointment.refresh_from_db()
    assert appointment.state != AppointmentState.CONFIRMED


def test_cancel_frees_the_time_and_takes_it_off_the_panel(
    tenant, owner, login, consult, agent, contact
):
    appointment = do_book(
        tenant, appointment_type=consult, resources=[agent], contact=contact, start=WEDNESDAY_10
    )
    client = login(owner)
    assert f'id="appt-{appointment.pk}"' in client.get(f"/contacts/{contact.pk}/").content.decode()

    response = client.post(f"/calendar/book/appointments/{appointment.pk}/cancel/", headers=HTMX)

    assert response.status_code == 200
    appointment.refresh_from_db()
    assert appointment.state == AppointmentState.CANCELLED
    html = response.content.decode()
    assert "Cancelled Consultation on Wed 02 Dec at 10:00." in html
    assert f'id="appt-{appointment.pk}"' not in html


def test_viewers_see_the_appointments_but_cannot_book(
    tenant, make_member, login, consult, agent, contact
):
    appointment = do_book(
        tenant, appointment_type=consult, resources=[agent], contact=contact, start=WEDNESDAY_10
    )
    viewer = login(make_member(tenant, "viewer"))

    page = viewer.get(f"/contacts/{contact.pk}/").content.decode()

    assert f'id="appt-{appointment.pk}"' in page
    assert "Book an appointment" not in page and f"appt-{appointment.pk}-cancel" not in page
    base = "/calendar/book"
    assert viewer.get(f"{base}/contacts/{contact.pk}/").status_code == 403
    hold = viewer.post(f"{base}/contacts/{contact.pk}/hold/", hold_data(consult, agent))
    assert hold.status_code == 403
    for step in ("confirm", "cancel"):
        assert viewer.post(f"{base}/appointments/{appointment.pk}/{step}/").status_code == 403
    appointment.refresh_from_db()
    assert appointment.state == AppointmentState.CONFIRMED
    assert Appointment.objects.count() == 1


def test_another_tenant_cannot_see_book_or_cancel_through_these_views(
    tenant, other_tenant, make_member, login, consult, agent, contact
):
    appointment = do_hold(
        tenant, appointment_type=consult, resources=[agent], contact=contact, start=WEDNESDAY_10
    )
    their_agent = make_agent(other_tenant, name="Globex Agent")
    their_type = make_type(other_tenant, [their_agent])
    their_contact = Contact.objects.create(tenant=other_tenant, name="Theirs", phone="+1415550")
    outsider = login(make_member(other_tenant, "admin"))
    base = "/calendar/book"

    assert outsider.get(f"{base}/contacts/{contact.pk}/").status_code == 404
    # Our contact with their type, and their contact with our type and agent.
    ours = outsider.post(f"{base}/contacts/{contact.pk}/hold/", hold_data(their_type, their_agent))
    assert ours.status_code == 404
    mixed = outsider.post(f"{base}/contacts/{their_contact.pk}/hold/", hold_data(consult, agent))
    assert mixed.status_code == 404
    for step in ("confirm", "cancel"):
        assert outsider.post(f"{base}/appointments/{appointment.pk}/{step}/").status_code == 404
    appointment.refresh_from_db()
    assert appointment.state == AppointmentState.HOLD
    assert Appointment.objects.count() == 1
    # Nor does their own booking page offer our times or show our appointment.
    theirs = outsider.get(f"{base}/contacts/{their_contact.pk}/").content.decode()
    assert f'value="{agent.pk}@' not in theirs and f'value="{their_agent.pk}{SLOT}"' in theirs
    assert (
        f"appt-{appointment.pk}"
        not in outsider.get(f"/contacts/{their_contact.pk}/").content.decode()
    )


def test_a_conversation_of_another_contact_is_refused(
    tenant, owner, login, consult, agent, contact, conversation
):
    response = login(owner).post(
        f"/calendar/book/contacts/{contact.pk}/hold/", hold_data(consult, agent, conversation)
    )

    assert response.status_code == 404
    assert not Appointment.objects.exists()


def test_the_conversation_panel_reads_its_appointments_in_one_query(
    tenant, owner, login, consult, agent, conversation, madrid_contact
):
    client = login(owner)
    url = f"/inbox/c/{conversation.pk}/"

    def queries() -> tuple[int, str]:
        client.get(url, headers=HTMX)
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url, headers=HTMX)
        assert response.status_code == 200
        return len(captured), response.content.decode()

    few, html = queries()
    assert "No upcoming appointments." in html and 'id="booking-start"' in html
    for hour in (9, 10, 11, 13, 14, 15):
        do_book(
            tenant,
            appointment_type=consult,
            resources=[agent],
            contact=madrid_contact,
            start=WEDNESDAY_10.replace(hour=hour),
            conversation=conversation,
        )
    many, html = queries()
    assert html.count('class="appointment appointment-confirmed"') == 6
    assert few == many


def test_the_times_offered_stay_on_the_grid_whatever_the_clock_says(
    tenant, owner, login, consult, agent, contact, frozen
):
    # 12:07:31.25 + an hour's notice: the first start is 13:30, not 13:07:31.25.
    frozen.move_to(NOW + dt.timedelta(minutes=7, seconds=31, microseconds=250_000))

    html = login(owner).get(f"/calendar/book/contacts/{contact.pk}/").content.decode()

    assert f'value="{agent.pk}@{NOW.replace(hour=13, minute=30).isoformat()}"' in html
    assert f'value="{agent.pk}@{NOW.replace(hour=13).isoformat()}"' not in html
    assert ":31.25" not in html and "13:07" not in html


def test_from_the_contact_page_it_books_without_a_conversation_and_without_javascript(
    tenant, owner, login, consult, agent, contact
):
    client = login(owner)
    page = client.get(f"/contacts/{contact.pk}/").content.decode()
    assert f'href="/calendar/book/contacts/{contact.pk}/"' in page  # no conversation to name

    held = client.post(f"/calendar/book/contacts/{contact.pk}/hold/", hold_data(consult, agent))

    html = held.content.decode()
    assert held.status_code == 200 and "<html" in html and "Held:" in html
    assert "send_confirmation" not in html  # nowhere to send it
    appointment = Appointment.objects.get()
    assert appointment.conversation is None
    confirmed = client.post(
        f"/calendar/book/appointments/{appointment.pk}/confirm/", {"send_confirmation": "1"}
    )
    assert confirmed.status_code == 200 and "<html" in confirmed.content.decode()
    appointment.refresh_from_db()
    assert appointment.state == AppointmentState.CONFIRMED
    assert not Message.objects.exists()
