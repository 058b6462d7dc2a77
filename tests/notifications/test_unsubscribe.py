"""Marketing notifications carry an opt-out: a signed one-click link (email) that records the
opt-out and refuses tampering, and a "reply STOP" line on SMS and WhatsApp."""

import datetime as dt

import time_machine
from django.test import Client

from contacts.actions import is_opted_out
from contacts.models import Consent
from notifications.actions import do_post_event
from notifications.models import Notification
from notifications.sending import sweep_due_notifications
from notifications.unsubscribe import unsubscribe_url
from tests.notifications.conftest import booking

SENDER = "news@acme.test"


def path_of(url: str) -> str:
    return url.removeprefix("http://testserver")


def test_the_one_click_link_records_the_opt_out(contact):
    url = unsubscribe_url(contact, channel="email", sender=SENDER)
    assert url.startswith("http://testserver/unsubscribe/")
    client = Client(enforce_csrf_checks=True)
    page = client.get(path_of(url))
    assert page.status_code == 200
    assert "Stop receiving these messages" in page.content.decode()
    assert not is_opted_out(contact, channel="email", sender=SENDER)  # GET changes nothing

    # RFC 8058: the mail client POSTs List-Unsubscribe=One-Click, with no cookies or CSRF token.
    done = client.post(path_of(url), {"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200
    assert "You are unsubscribed" in done.content.decode()
    consent = Consent.objects.get(contact=contact, channel="email", sender=SENDER)
    assert consent.status == Consent.Status.OPTED_OUT
    assert "unsubscribe link" in consent.detail
    assert client.post(path_of(url)).status_code == 200  # twice is harmless


def test_a_tampered_link_is_refused_and_records_nothing(contact, other_tenant):
    url = path_of(unsubscribe_url(contact, channel="email", sender=SENDER))
    token = url.split("/")[2]
    for bad in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), "garbage", token + "x"):
        response = Client().post(f"/unsubscribe/{bad}/")
        assert response.status_code == 400
        assert "not valid" in response.content.decode()
    assert not Consent.objects.exists()


def test_marketing_sms_carries_a_reply_stop_line_and_transactional_does_not(
    tenant, contact, sms_inbox
):
    with time_machine.travel(dt.datetime(2026, 12, 1, 15, tzinfo=dt.UTC), tick=False):
        do_post_event(tenant, booking(contact, trip_date="2026-12-03", return_date="2026-12-05"))
        sweep_due_notifications()
    with time_machine.travel(dt.datetime(2026, 12, 7, 15, tzinfo=dt.UTC), tick=False):
        sweep_due_notifications()
    survey = Notification.objects.get(contact=contact, rule__name="Post-trip survey")
    assert survey.status == Notification.Status.SENT
    assert survey.message.body.endswith("Responde STOP para no recibir más mensajes.")
    confirmation = Notification.objects.get(contact=contact, rule__name="Booking confirmation")
    assert "STOP" not in confirmation.message.body


def test_english_contacts_get_the_english_template(tenant, contact, sms_inbox):
    contact.language = "en-US"
    contact.save()
    with time_machine.travel(dt.datetime(2026, 12, 1, 15, tzinfo=dt.UTC), tick=False):
        do_post_event(tenant, booking(contact, trip_date="2026-12-20", return_date="2026-12-27"))
        sweep_due_notifications()
    sent = Notification.objects.get(contact=contact, status=Notification.Status.SENT)
    assert sent.message.body.startswith("Hi Ana, your booking B-100 to Cancún is confirmed.")
