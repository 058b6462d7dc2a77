"""The ICS feed of a resource: a secret URL (only its hash stored), text/calendar with CRLF
lines folded at 75 octets, confirmed appointments only, escaped text."""

import datetime as dt

import pytest
import time_machine
from django.test import Client

from calendar_app.actions import do_book, do_cancel, do_hold
from calendar_app.feeds import escape_text, fold
from calendar_app.models import Resource
from contacts.models import Contact
from tests.calendar_app.conftest import NOW, WEDNESDAY_10

pytestmark = pytest.mark.clock


def unfold(text: str) -> list[str]:
    return text.replace("\r\n ", "").split("\r\n")


@time_machine.travel(NOW, tick=False)
def test_the_feed_lists_confirmed_appointments_at_a_secret_url(
    api, tenant, consult, agent, contact
):
    long_name = "María José de la Concepción Fernández-Villaverde, Ñandú; y compañía " * 2
    guest = Contact.objects.create(tenant=tenant, name=long_name.strip())
    booked = do_book(tenant, appointment_type=consult, resources=[agent], contact=guest,
                     start=WEDNESDAY_10)  # fmt: skip
    do_hold(tenant, appointment_type=consult, resources=[agent], contact=contact,
            start=WEDNESDAY_10 + dt.timedelta(hours=1))  # fmt: skip
    gone = do_book(tenant, appointment_type=consult, resources=[agent], contact=contact,
                   start=WEDNESDAY_10 + dt.timedelta(hours=2))  # fmt: skip
    do_cancel(gone)

    made = api.post(f"/calendar/resources/{agent.pk}/ics-feed")
    assert made.status_code == 200, made.content
    url = made.json()["url"]
    assert url.startswith("http://testserver/calendar/feeds/") and url.endswith(".ics")
    token = url.rsplit("/", 1)[1].removesuffix(".ics")
    assert token not in Resource.objects.get(pk=agent.pk).ics_token  # only its hash is kept

    response = Client().get(url.removeprefix("http://testserver"))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    text = response.content.decode()
    assert text.startswith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n") and text.endswith(
        "END:VCALENDAR\r\n"
    )
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))
    lines = unfold(text)
    assert lines.count("BEGIN:VEVENT") == 1  # not the hold, not the cancelled one
    assert f"UID:appointment-{booked.pk}@testserver" in lines
    assert "DTSTART:20261202T100000Z" in lines and "DTEND:20261202T103000Z" in lines
    assert f"SUMMARY:Consultation: {escape_text(long_name.strip())}" in lines

    # A new URL ends the old one; turning it off ends both.
    newer = api.post(f"/calendar/resources/{agent.pk}/ics-feed").json()["url"]
    assert Client().get(url.removeprefix("http://testserver")).status_code == 404
    assert Client().get(newer.removeprefix("http://testserver")).status_code == 200
    assert api.post(f"/calendar/resources/{agent.pk}/ics-feed", {"enabled": False}).json() == {
        "url": None
    }
    assert Client().get(newer.removeprefix("http://testserver")).status_code == 404
    assert Client().get("/calendar/feeds/nope.ics").status_code == 404


def test_folding_never_splits_a_character_and_escaping_follows_rfc_5545():
    line = "SUMMARY:" + "ñ" * 100
    folded = fold(line)
    parts = folded.split("\r\n")
    assert all(len(part.encode()) <= 75 for part in parts)
    assert all(part.startswith(" ") for part in parts[1:])
    assert folded.replace("\r\n ", "") == line
    assert escape_text("a,b;c\\d\ne") == "a\\,b\\;c\\\\d\\ne"
