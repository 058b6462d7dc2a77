"""The calendar page in headless Chromium against the real ASGI server: a colleague's booking
appears on an open calendar without a reload, and dragging an appointment asks for a
confirmation, moves it, or snaps it back with the reason when the time is taken."""

import datetime as dt

import pytest
from playwright.sync_api import expect

from calendar_app.actions import do_book, do_save_appointment_type, do_save_resource
from calendar_app.models import Appointment
from contacts.models import Contact
from tests.browser.test_inbox import sign_in
from tests.browser.test_inbox_realtime import assert_not_reloaded, mark_loaded, new_page

# Clock: the bookings are for "tomorrow" by the real (or shifted) clock, whatever the hour.
pytestmark = [pytest.mark.browser, pytest.mark.clock, pytest.mark.django_db(transaction=True)]
EVERY_DAY = [(day, dt.time(0), dt.time(23, 59)) for day in range(7)]


@pytest.fixture
def calendar(tenant, owner):
    """A desk open all day every day (UTC, the tenant's zone) linked to the owner; tomorrow's
    date, whatever the clock says (the server's clock is not frozen)."""
    desk = do_save_resource(tenant, name="Front desk", user=owner, weekly=EVERY_DAY)
    consult = do_save_appointment_type(
        tenant, name="Consultation", duration_minutes=30, color="#e11d48", resources=[desk]
    )
    contact = Contact.objects.create(tenant=tenant, name="Luis Pérez", phone="+14155550111")
    tomorrow = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).date()
    return desk, consult, contact, tomorrow


def at(day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=dt.UTC)


def expect_at(page, appointment_id: int, hour: int) -> None:
    """Until the block is laid out at ``hour`` on the wall clock (calendar.js places blocks
    after each swap)."""
    page.wait_for_function(
        """([id, want]) => {
            const el = document.getElementById(id);
            return Boolean(el) && Math.abs(parseFloat(el.style.top) - want) < 0.01;
        }""",
        arg=[f"appt-{appointment_id}", hour / 24 * 100],
    )


def drag_by(page, locator, dy: float) -> None:
    box = locator.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + 6
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x, y + dy / 2, steps=5)
    page.mouse.move(x, y + dy, steps=5)
    page.mouse.up()


def test_a_colleagues_booking_appears_live(
    browser, asgi_server, tenant, owner, make_member, calendar
):
    desk, consult, contact, tomorrow = calendar
    colleague = make_member(tenant, "agent", email="marta@acme.test")
    page = new_page(browser)
    sign_in(page, asgi_server, colleague)
    page.goto(f"{asgi_server.url}/calendar/?view=week&date={tomorrow.isoformat()}")
    expect(page.locator("#calendar-body")).to_be_visible()
    mark_loaded(page)
    # The same colleague on a phone: the agenda, unless another view is chosen.
    phone = new_page(browser, width=390, height=800)
    sign_in(phone, asgi_server, colleague)
    phone.goto(f"{asgi_server.url}/calendar/?date={tomorrow.isoformat()}")
    expect(phone.locator("#calendar-body.cal-agenda")).to_be_visible()
    assert "view=agenda" in phone.url
    mark_loaded(phone)

    # The owner books (the action the API and the booking panels call).
    appointment = do_book(
        tenant,
        appointment_type=consult,
        resources=[desk],
        contact=contact,
        start=at(tomorrow, 10),
        acting_user=owner,
    )
    block = page.locator(f"#appt-{appointment.pk}")
    expect(block).to_contain_text("Luis Pérez")
    expect(block).to_have_class("cal-appt state-confirmed")
    expect_at(page, appointment.pk, 10)
    assert_not_reloaded(page)
    expect(phone.locator(f"#appt-{appointment.pk}")).to_contain_text("10:00")
    assert_not_reloaded(phone)
    # Its details, above the agenda.
    phone.locator(f"#appt-{appointment.pk}").click()
    expect(phone.locator("#calendar-detail")).to_contain_text("Front desk")
    assert page.errors == phone.errors == []


def test_dragging_an_appointment_moves_it_after_a_confirm_or_snaps_back(
    browser, asgi_server, tenant, owner, calendar
):
    desk, consult, contact, tomorrow = calendar
    moving = do_book(
        tenant, appointment_type=consult, resources=[desk], contact=contact, start=at(tomorrow, 10)
    )
    do_book(
        tenant, appointment_type=consult, resources=[desk], contact=contact, start=at(tomorrow, 14)
    )
    page = new_page(browser)
    sign_in(page, asgi_server, owner)
    page.goto(f"{asgi_server.url}/calendar/?view=week&date={tomorrow.isoformat()}&resource=me")
    mark_loaded(page)
    block = page.locator(f"#appt-{moving.pk}")
    expect(block).to_be_visible()
    hour = page.evaluate(
        "date => document.querySelector(`.cal-day-col[data-date='${date}']`)"
        ".getBoundingClientRect().height / 24",
        tomorrow.isoformat(),
    )

    # Two hours down: asked first, then moved.
    drag_by(page, block, 2 * hour)
    dialog = page.locator("#cal-move-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("at 12:00?")
    dialog.locator("[data-cal-move-confirm]").click()
    expect(page.locator("[data-cal-flash]")).to_contain_text("Moved to")
    moving.refresh_from_db()
    assert moving.start_at == at(tomorrow, 12)
    expect(page.locator(f"#appt-{moving.pk}")).to_contain_text("12:00")
    expect_at(page, moving.pk, 12)

    # Onto the 14:00 one: refused with the nearest free slots, and it is back at 12:00.
    drag_by(page, page.locator(f"#appt-{moving.pk}"), 2 * hour)
    expect(dialog).to_contain_text("at 14:00?")
    dialog.locator("[data-cal-move-confirm]").click()
    expect(page.locator("[data-cal-flash]")).to_contain_text("already taken")
    expect(page.locator(".cal-nearest button").first).to_be_visible()
    expect(page.locator(f"#appt-{moving.pk}")).to_have_attribute("data-top", "50.0")
    expect_at(page, moving.pk, 12)
    assert Appointment.objects.get(pk=moving.pk).start_at == at(tomorrow, 12)

    # Changing one's mind: "keep it where it was" sends nothing.
    drag_by(page, page.locator(f"#appt-{moving.pk}"), hour)
    dialog.locator("[data-cal-move-cancel]").click()
    expect(dialog).to_be_hidden()
    expect_at(page, moving.pk, 12)
    assert Appointment.objects.get(pk=moving.pk).start_at == at(tomorrow, 12)
    # The refusal's 409 is logged by the browser; nothing else went wrong.
    assert [e for e in page.errors if "status of 409" not in e] == []
